"""Theory: the rate registry (theory.md section 5) and predictions from a verdict."""

from identify.theory.rates import BlockRate, Prediction, predict
from identify.theory.registry import REGISTRY, RegistryRow, solvability_index

__all__ = ["REGISTRY", "RegistryRow", "solvability_index", "predict", "Prediction", "BlockRate"]

"""identify: identifiability of gated mixture-of-experts models.

Table of contents
-----------------
Defining a model
    :class:`Expert`, :class:`Gate`, :class:`Model`, :func:`build_model`, :data:`CATALOG`,
    :func:`catalog_expert`
Assessing identifiability (symbolic, with proofs)
    :func:`check` -> :class:`CheckResult`, :class:`Verdict`
Errors
    :class:`IdentifyError`, :class:`FormulaError`, :class:`ConfigError`
"""

from identify.errors import ConfigError, FormulaError, IdentifyError
from identify.model.catalog import CATALOG
from identify.model.catalog import resolve_expert as catalog_expert
from identify.model.expert import Expert
from identify.model.gate import GATES, Gate
from identify.model.model import Estimator, Model, build_model
from identify.symbolic.check import CheckResult, check
from identify.symbolic.verdict import Verdict

__version__ = "0.1.0"

__all__ = [
    # defining a model
    "Expert",
    "Gate",
    "GATES",
    "Model",
    "Estimator",
    "build_model",
    "CATALOG",
    "catalog_expert",
    # assessing identifiability
    "check",
    "CheckResult",
    "Verdict",
    # errors
    "IdentifyError",
    "FormulaError",
    "ConfigError",
]

"""The model: a gate, an expert, an estimator and the input dimension."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import sympy

from identify.errors import ConfigError
from identify.model.blocks import ParamBlock, flatten
from identify.model.expert import Expert, input_names
from identify.model.gate import Gate, get_gate
from identify.model.parse import make_symbol

__all__ = ["Estimator", "Model", "build_model"]


class Estimator(Enum):
    """How the mixture is fitted (theory.md section 1)."""

    LSE = "lse"  # least squares regression
    GAUSSIAN = "gaussian"  # Gaussian MoE, maximum likelihood

    @classmethod
    def parse(cls, value: str | Estimator) -> Estimator:
        if isinstance(value, cls):
            return value
        try:
            return cls(str(value).strip().lower())
        except ValueError:
            known = ", ".join(e.value for e in cls)
            raise ConfigError(f"unknown estimator {value!r}; known estimators: {known}",
                              where="estimator") from None


GAUSSIAN_RESERVED = frozenset({"y", "nu"})


def gaussian_component(expert: Expert) -> Expert:
    """N(y | h(x; eta), nu) with the variance nu > 0 as a parameter block (theory.md section 1)."""
    y, nu = make_symbol("y"), make_symbol("nu")
    density = sympy.exp(-(y - expert.expr) ** 2 / (2 * nu)) / sympy.sqrt(2 * sympy.pi * nu)
    return replace(expert, expr=density,
                   blocks=expert.blocks + (ParamBlock("nu", (nu,), role="variance",
                                                      positive=True),))


@dataclass(frozen=True)
class Model:
    """One gated mixture-of-experts model family.

    The analysed function of one atom is ``product()``: the gate's kernel times the expert.
    """

    gate: Gate
    expert: Expert
    estimator: Estimator = Estimator.LSE

    @property
    def dim(self) -> int:
        return self.expert.dim

    @property
    def inputs(self) -> tuple[sympy.Symbol, ...]:
        """The variables of the analysed function: x (and y for the Gaussian MoE)."""
        if self.estimator is Estimator.GAUSSIAN:
            return self.expert.inputs + (make_symbol("y"),)
        return self.expert.inputs

    @property
    def component(self) -> Expert:
        """What the gate multiplies: the expert (LSE) or the density N(y | h, nu) (Gaussian)."""
        if self.estimator is Estimator.GAUSSIAN:
            return gaussian_component(self.expert)
        return self.expert

    @property
    def gate_blocks(self) -> tuple[ParamBlock, ...]:
        return tuple(b for b in self.blocks if b.role == "gate")

    @property
    def blocks(self) -> tuple[ParamBlock, ...]:
        """Gate blocks first, then expert blocks (per leaf for a hierarchical gate)."""
        return self.gate.product(self.expert.inputs, self.component)[1]

    @property
    def parameters(self) -> tuple[sympy.Symbol, ...]:
        return flatten(self.blocks)

    def product(self) -> sympy.Expr:
        """One atom's analysed function, e.g. F(x; theta) = kernel(x; gate parameters) * h(x; eta)."""
        return self.gate.product(self.expert.inputs, self.component)[0]

    def to_dict(self) -> dict:
        return {
            "gate": self.gate.to_dict(),
            "expert": self.expert.to_dict(),
            "estimator": self.estimator.value,
            "dim": self.dim,
            "parameters": [s.name for s in self.parameters],
            "product": sympy.sstr(self.product()),
        }


def build_model(
    expert: str | Expert,
    gate: str | Gate = "softmax",
    *,
    dim: int = 1,
    estimator: str | Estimator = "lse",
) -> Model:
    """Validate the pieces and assemble a :class:`Model`.

    ``expert`` is a formula (parsed safely) or an :class:`Expert`; a catalog name is
    resolved by :func:`identify.model.catalog.resolve_expert` before calling this.
    """
    input_names(dim)  # the dimension first: every later step allocates per coordinate
    g = get_gate(gate)
    est = Estimator.parse(estimator)
    reserved = g.reserved_names(dim) | (GAUSSIAN_RESERVED if est is Estimator.GAUSSIAN
                                        else frozenset())
    if isinstance(expert, Expert):
        reserved = g.reserved_names(expert.dim) | (reserved - g.reserved_names(dim))
        clash = {s.name for s in expert.parameters} & reserved
        if clash:
            raise ConfigError(
                f"expert parameter(s) {', '.join(sorted(clash))} clash with names reserved by the "
                f"{g.name} gate or the {est.value} estimator", hint="rename them", where="expert")
        e = expert
    else:
        e = Expert.from_formula(expert, dim, reserved=reserved)
    model = Model(gate=g, expert=e, estimator=est)
    _check_names(model)
    return model


def _check_names(model: Model) -> None:
    """Refuse a model in which two parameters or two blocks have the same name: an expert's
    vector ``W = (W1, W2)`` beside the Laplace centre ``W``, or a hierarchy's renamed expert
    parameter ``alpha_e1`` beside its gate parameter ``alpha_e1``."""
    gate_blocks = model.gate.blocks(model.dim)
    generated = {b.name for b in gate_blocks} | {s.name for b in gate_blocks for s in b.symbols}
    for b in model.expert.blocks:
        if b.name in generated:
            raise ConfigError(f"the expert's parameter block {b.name} "
                              f"({', '.join(s.name for s in b.symbols)}) has the name of a "
                              f"block of the {model.gate.name} gate", hint="rename it",
                              where="expert")
    for what, names in (("parameter", [s.name for s in model.parameters]),
                        ("parameter block", [b.name for b in model.blocks])):
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ConfigError(f"the {what} name {twice[0]} would stand for two different "
                              f"things in this model (the {model.gate.name} gate generates it)",
                              hint="rename the expert's parameter", where="expert")

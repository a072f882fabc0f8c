"""Experts: a formula in the inputs with named parameters, grouped into blocks."""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sympy

from identify.errors import ConfigError, FormulaError
from identify.model.blocks import ParamBlock, flatten, group_blocks
from identify.model.parse import make_symbol, parse_formula

__all__ = ["Expert", "input_names", "MAX_DIM"]

MAX_DIM = 8
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def input_names(dim: int) -> tuple[str, ...]:
    """The input names for dimension ``dim``: ``x`` when d = 1, ``x1 .. xd`` otherwise."""
    if not isinstance(dim, int) or isinstance(dim, bool) or not 1 <= dim <= MAX_DIM:
        raise ConfigError(f"the input dimension must be an integer from 1 to {MAX_DIM}, got {dim!r}",
                          where="dim")
    return ("x",) if dim == 1 else tuple(f"x{i}" for i in range(1, dim + 1))


@dataclass(frozen=True)
class Expert:
    """An expert function h(x; eta).

    Attributes
    ----------
    formula:
        The text it was parsed from.
    expr:
        The sympy expression.
    dim:
        Input dimension d.
    inputs:
        The input symbols (``x`` or ``x1 .. xd``).
    blocks:
        Parameter blocks, in order of first appearance in the formula.
    name:
        The catalog name, when it came from the catalog.
    """

    formula: str
    expr: sympy.Expr
    dim: int
    inputs: tuple[sympy.Symbol, ...]
    blocks: tuple[ParamBlock, ...]
    name: str | None = None

    @classmethod
    def from_formula(
        cls,
        text: str,
        dim: int = 1,
        *,
        params: Sequence[str] | None = None,
        reserved: Collection[str] = (),
        name: str | None = None,
    ) -> Expert:
        """Parse ``text`` safely (no ``eval``) and group its parameters into blocks.

        Parameters are the free symbols other than the inputs, unless ``params`` lists them.
        """
        if not isinstance(text, str):
            raise FormulaError(f"an expert formula must be a string, got {type(text).__name__}",
                               where="formula")
        inputs = tuple(make_symbol(n) for n in input_names(dim))
        expr = parse_formula(text, [s.name for s in inputs], reserved=reserved)
        free = expr.free_symbols - set(inputs)
        order = []
        for m in _IDENT.finditer(text):
            s = make_symbol(m.group())
            if s in free and s not in order:
                order.append(s)
        order += sorted(free - set(order), key=lambda s: s.name)  # defensive; normally empty
        if params is not None:
            wanted = [make_symbol(p) for p in params]
            missing = [s.name for s in free if s not in wanted]
            if missing:
                raise FormulaError(
                    f"symbol(s) {', '.join(sorted(missing))} are neither inputs nor listed parameters",
                    where="formula")
            order = [s for s in wanted if s in free]
        if not order:
            raise FormulaError(f"the expert {text!r} has no parameters to estimate",
                               hint="write e.g. tanh(a*x + b)", where="formula")
        return cls(formula=text.strip(), expr=expr, dim=dim, inputs=inputs,
                   blocks=group_blocks(order, dim), name=name)

    @property
    def parameters(self) -> tuple[sympy.Symbol, ...]:
        return flatten(self.blocks)

    @property
    def input_independent(self) -> bool:
        """True when the formula does not involve the inputs (e.g. a constant expert)."""
        return not (self.expr.free_symbols & set(self.inputs))

    def to_dict(self) -> dict:
        return {
            "formula": self.formula,
            "expression": sympy.sstr(self.expr),
            "name": self.name,
            "dim": self.dim,
            "inputs": [s.name for s in self.inputs],
            "blocks": [b.to_dict() for b in self.blocks],
        }

"""`identify system`: build and print a cell's coefficient system (text, JSON, LaTeX)."""

from __future__ import annotations

import sympy

from identify.errors import ConfigError
from identify.model.catalog import resolve_expert
from identify.model.gate import get_gate
from identify.model.model import GAUSSIAN_RESERVED, build_model
from identify.theory.expansion import expand_model
from identify.theory.grading import grading_text
from identify.theory.nonsmooth import KinkMoves
from identify.theory.system import CellSystem, cell_system

__all__ = ["build_system", "parse_grading", "format_system", "latex_system"]

MAX_SYSTEM_ORDER = 8


def parse_grading(text: str | None) -> dict[str, int] | None:
    """``"a=2,nu=2"`` -> {"a": 2, "nu": 2}; blocks not named get weight 1."""
    if not text:
        return None
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        try:
            w = int(value)
        except ValueError:
            w = 0
        if not sep or not name.strip() or w < 1:
            raise ConfigError(f"a grading is block=weight pairs with integer weights >= 1, got "
                              f"{part!r}", where="grading")
        out[name.strip()] = w
    return out


def build_system(expert: str | None, gate: str = "softmax", *, catalog: str | None = None,
                 dim: int = 1, estimator: str = "lse", cell: int = 2, order: int = 4,
                 grading: str | dict | None = None, seed: int = 0,
                 normaliser: bool | None = None) -> CellSystem:
    """The level-``order`` system of a cell of ``cell`` atoms of the model."""
    if not isinstance(order, int) or not 1 <= order <= MAX_SYSTEM_ORDER:
        raise ConfigError(f"the order must be an integer from 1 to {MAX_SYSTEM_ORDER}, got "
                          f"{order!r}", where="order")
    if not isinstance(cell, int) or not 1 <= cell <= 8:
        raise ConfigError(f"the cell size must be an integer from 1 to 8, got {cell!r}",
                          where="cell")
    if (expert is None) == (catalog is None):
        raise ConfigError("give either an expert formula or a catalog name", where="expert")
    g = get_gate(gate)
    if catalog is not None:
        expert = resolve_expert(catalog, dim, reserved=g.reserved_names(dim) | GAUSSIAN_RESERVED)
    model = build_model(expert, g, dim=dim, estimator=estimator)
    try:
        exp = expand_model(model, order, seed=seed, normaliser=normaliser)
    except KinkMoves:
        # a moving kink of the expert: the system `rates` bounds the exponents with, the
        # smooth pieces' joint one (theory/piecebounds.py); none for a gate's kink
        joint = _joint(model, order, seed, normaliser)
        if joint is None:
            raise
        exp = joint
    if isinstance(grading, str):
        grading = parse_grading(grading)
    return cell_system(exp, cell, order, grading)


def _joint(model, order: int, seed: int, normaliser: bool | None):
    from identify.theory.piecebounds import crossing, joint_expansion
    return joint_expansion(model, order, crossing(model, seed, normaliser), normaliser)[0]


def format_system(s: CellSystem) -> str:
    m = s.expansion.model
    lines = [f"identify system: {m.expert.formula}  (gate {m.gate.spec}, {m.estimator.value}); "
             f"cell of {s.cell_size} atom(s), level {s.level}",
             f"  grading: {grading_text(s.grading)}; the weight difference has weight {s.level}",
             "  true atom (generic, rational): " + ", ".join(
                 f"{k.name} = {v}" for k, v in s.expansion.atom.items()),
             f"  monomials: {len(s.expansion.monomials)}; {s.expansion.certificate}",
             f"  unknowns: weights {', '.join(w.name for w in s.weights)} > 0; "
             f"deltas {', '.join(d.name for d in s.all_deltas)} (some != 0)",
             f"  {len(s.forms)} equation(s): sum_i w_i q(delta_i) = 0 for each initial form q:"]
    for f, e in zip(s.forms, s.equations, strict=True):
        lines.append(f"    [degree {f.degree}] q = {sympy.sstr(s.per_atom(f))}")
        lines.append(f"        {sympy.sstr(e)} = 0")
    return "\n".join(lines)


def latex_system(s: CellSystem) -> str:
    body = " \\\\\n".join(f"  {sympy.latex(e)} &= 0" for e in s.equations)
    return "\\begin{aligned}\n" + body + "\n\\end{aligned}"

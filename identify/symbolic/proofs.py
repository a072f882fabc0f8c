"""Exact proofs that an expression vanishes identically.

A relation found numerically is only a candidate until the sum it claims to be zero
simplifies to exactly 0. The strategies go from cheap to expensive; the first that
reaches 0 names the proof. None reaching 0 means "not proved" (never "false").
"""

from __future__ import annotations

import sympy

from identify.model.functions import ELEMENTARY_REWRITE

__all__ = ["prove_zero"]


def _strategies():
    yield "expand", sympy.expand
    yield "rewrite to elementary functions, expand", lambda e: sympy.expand(ELEMENTARY_REWRITE(e))
    yield "simplify", sympy.simplify
    yield "rewrite to exp, simplify", lambda e: sympy.simplify(ELEMENTARY_REWRITE(e).rewrite(sympy.exp))


def prove_zero(expr: sympy.Expr) -> str | None:
    """The name of the simplification that turns ``expr`` into exactly 0, or ``None``."""
    if expr == 0:
        return "exact (the terms cancel on construction)"
    for name, strategy in _strategies():
        try:
            if strategy(expr) == 0:
                return f"exact simplification ({name})"
        except (RecursionError, NotImplementedError, TypeError, ValueError):  # pragma: no cover
            continue
    return None

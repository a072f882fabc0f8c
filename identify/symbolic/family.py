"""Function families: the gated Taylor family and the literal-condition families.

A family is an ordered list of :class:`Member` functions of the inputs, each labelled by
what was differentiated (and, for the literal conditions, by a monomial of the inputs).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations_with_replacement, groupby

import sympy

__all__ = ["Member", "taylor_family", "literal_family", "derivative_label", "display_name", "CONDITIONS"]


def display_name(name: str) -> str:
    """A parameter name with its indices written as subscripts, so that an index can never be
    read as a derivative order: ``a2`` -> ``a_2``, ``beta1`` -> ``beta_1``, ``beta1_2`` ->
    ``beta_{1,2}``, ``a1_e1`` -> ``a_{1,e1}``, ``tau`` -> ``tau``."""
    m = re.fullmatch(r"([A-Za-z]+?)(\d*)(?:_(\w+))?", name)
    if not m:
        return name
    stem, digits, rest = m.groups()
    subs = ([digits] if digits else []) + (rest.split("_") if rest else [])
    if not subs:
        return stem
    sub = ",".join(subs)
    return f"{stem}_{sub}" if len(sub) == 1 else f"{stem}_{{{sub}}}"


def derivative_label(base: str, derivative: Sequence[str]) -> str:
    """``F``, ``dF/da``, ``d2F/(da da)``, ``d2F/(dbeta_1 db)``, ``dF/da_2``.

    Every differentiation is written out (``da da``, never ``da2``) and components carry an
    underscore (``a_2``), so ``d2F/(da da)`` (second derivative in a) and ``dF/da_2``
    (first derivative in the component a_2) cannot be confused.
    """
    n = len(derivative)
    if n == 0:
        return base
    names = [display_name(d) for d in derivative]
    head = f"d{n if n > 1 else ''}{base}"
    return f"{head}/d{names[0]}" if n == 1 else f"{head}/(" + " ".join(f"d{x}" for x in names) + ")"


def _runs(names: Sequence[str]) -> list[tuple[str, int]]:
    """``a a b`` -> ``[(a, 2), (b, 1)]``."""
    return [(name, len(list(run))) for name, run in groupby(names)]


def monomial_label(inputs: Sequence[str]) -> str:
    return "*".join(f"{display_name(n)}^{k}" if k > 1 else display_name(n) for n, k in _runs(inputs))


@dataclass(frozen=True)
class Member:
    """One function of a family.

    Attributes
    ----------
    label:
        Human-readable name, e.g. ``d2F/(dbeta_1 db)`` or ``x*dh/da``.
    derivative:
        Parameter names differentiated by, in parameter order.
    multiplier:
        Input names multiplying the derivative (literal conditions only).
    expr:
        The function as a sympy expression.
    """

    label: str
    derivative: tuple[str, ...]
    multiplier: tuple[str, ...]
    expr: sympy.Expr

    @property
    def order(self) -> int:
        return len(self.derivative)

    def to_dict(self) -> dict:
        return {"label": self.label, "derivative": list(self.derivative),
                "multiplier": list(self.multiplier), "order": self.order}


class _Derivatives:
    """Memoised partial derivatives of one expression."""

    def __init__(self, expr: sympy.Expr):
        self._cache: dict[tuple[sympy.Symbol, ...], sympy.Expr] = {(): expr}

    def __call__(self, alpha: tuple[sympy.Symbol, ...]) -> sympy.Expr:
        if alpha not in self._cache:
            self._cache[alpha] = drop_dirac(sympy.diff(self(alpha[:-1]), alpha[-1]))
        return self._cache[alpha]


def drop_dirac(expr: sympy.Expr) -> sympy.Expr:
    """Drop DiracDelta terms: non-smooth experts are analysed almost everywhere (off kinks)."""
    if expr.has(sympy.DiracDelta):
        expr = expr.replace(lambda e: isinstance(e, sympy.DiracDelta), lambda e: sympy.S.Zero)
    return expr


def is_smooth(expr: sympy.Expr) -> bool:
    """False when the expression has kinks (relu, abs, sign, Heaviside)."""
    from identify.model.functions import relu
    return not expr.has(relu, sympy.Abs, sympy.sign, sympy.Heaviside)


def taylor_family(F: sympy.Expr, params: Sequence[sympy.Symbol], order: int,
                  base: str = "F", stop: Callable[[], bool] | None = None) -> list[Member]:
    """{d^alpha F : |alpha| <= order}, ordered: first order, then F, then orders 2..r.

    Putting the first derivatives first makes every relation among them alone (a
    first-order degeneracy) appear as a relation of the canonical basis. ``stop`` (e.g. a
    spent time budget) ends the list early: the members built so far are returned.
    """
    d = _Derivatives(F)
    orders = [1, 0] + list(range(2, order + 1)) if order >= 1 else [0]
    members: list[Member] = []
    for k in orders:
        for alpha in combinations_with_replacement(params, k):
            if stop is not None and stop():
                return members
            names = tuple(s.name for s in alpha)
            members.append(Member(derivative_label(base, names), names, (), d(alpha)))
    return members


def _literal_members(h: sympy.Expr, inputs: Sequence[sympy.Symbol],
                     params: Sequence[sympy.Symbol], which: str) -> list[Member]:
    d = _Derivatives(h)
    out: list[Member] = []

    def add(nu: tuple[sympy.Symbol, ...], gamma: tuple[sympy.Symbol, ...]) -> None:
        deriv = tuple(s.name for s in gamma)
        mult = tuple(s.name for s in nu)
        lab = derivative_label("h", deriv)
        if mult:
            lab = f"{monomial_label(mult)}*{lab}"
        out.append(Member(lab, deriv, mult, sympy.Mul(*nu) * d(gamma)))

    if which == "strong_lse":
        for total in range(0, 3):
            for n_nu in range(0, total + 1):
                for nu in combinations_with_replacement(inputs, n_nu):
                    for gamma in combinations_with_replacement(params, total - n_nu):
                        add(nu, gamma)
    elif which == "strong_mle":
        for u in params:
            add((), (u,))
        for gamma in combinations_with_replacement(params, 2):
            add((), gamma)
        for xu in inputs:
            for v in params:
                add((xu,), (v,))
    elif which == "weak":
        for u in params:
            add((), (u,))
    else:  # pragma: no cover - guarded by CONDITIONS
        raise ValueError(which)
    return out


CONDITIONS = {
    "strong_lse": ("strong identifiability, least squares",
                   "{x^nu d^gamma h/d eta^gamma : |nu| + |gamma| <= 2} linearly independent",
                   "arXiv:2402.02952 (recalled)"),
    "strong_mle": ("strong identifiability, Gaussian MLE",
                   "{dh/deta_u, d2h/(deta_u deta_v), x_u dh/deta_v} linearly independent",
                   "arXiv:2505.10860 Def. 1"),
    "weak": ("weak identifiability", "{dh/deta_u} linearly independent",
             "arXiv:2505.10860 Def. 2"),
}


def literal_family(h: sympy.Expr, inputs: Sequence[sympy.Symbol],
                   params: Sequence[sympy.Symbol], which: str) -> list[Member]:
    """The list of functions of a literal condition (theory.md section 3), duplicates kept."""
    return _literal_members(h, inputs, params, which)

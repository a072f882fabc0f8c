"""The exact check of a witness: every equation zero, every weight positive, some delta
nonzero, with no floating point anywhere (rationals substituted exactly; algebraic numbers
eliminated with resultants and a root-separation bound).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

__all__ = ["WitnessCheck", "check_witness", "exact_number"]


def exact_number(v) -> sp.Expr | None:
    """``v`` (an int, a Fraction or a sympy expression) as a sympy expression, else None.
    Never parses: text (and bool) gives None, as does an inexact float."""
    if isinstance(v, bool) or isinstance(v, float | sp.Float):
        return None
    if isinstance(v, int):
        return sp.Integer(v)
    if isinstance(v, Fraction):
        return sp.Rational(v.numerator, v.denominator)
    return v if isinstance(v, sp.Basic) else None


@dataclass(frozen=True)
class WitnessCheck:
    ok: bool
    reason: str
    method: str


def check_witness(polys, witness: dict, weights, deltas) -> WitnessCheck:
    """Exactly: every ``p(witness) == 0``, every weight > 0 and some delta != 0.

    Rational values are substituted exactly. Algebraic values (sympy ``CRootOf``) are handled by
    eliminating them with resultants: the value ``Q = P(alpha)`` is a root of an integer
    polynomial ``R``; if ``R(0) != 0`` then ``Q != 0``; otherwise ``Q == 0`` once an exact
    rational interval enclosure of ``Q`` lies inside Cauchy's bound below which the only root of
    ``R`` is 0. No floating point anywhere.
    """
    if any(isinstance(v, float | sp.Float) for v in witness.values()):
        return WitnessCheck(False, "a floating-point value is not an exact witness", "")
    values = {}
    for g, v in witness.items():  # exact numbers only: never text, never sympify
        values[g] = exact_number(v)
        if values[g] is None:
            return WitnessCheck(False, f"{g} = {v!r} is not an exact number", "")
    alg = {g: v for g, v in values.items() if not v.is_Rational}
    for g, v in alg.items():
        if not isinstance(v, sp.CRootOf) or not v.is_real:
            return WitnessCheck(False, f"{g} = {v} is neither rational nor a real CRootOf", "")
    for w in weights:
        if _sign(values[w]) <= 0:
            return WitnessCheck(False, f"weight {w} = {values[w]} is not > 0", "")
    if all(_sign(values[d]) == 0 for d in deltas):
        return WitnessCheck(False, "every delta is 0", "")
    rat = {g: v for g, v in values.items() if g not in alg}
    for p in polys:
        q = sp.Poly(p.as_expr().subs(rat), *alg.keys(), domain=sp.QQ) if alg else None
        if not alg:
            if p.as_expr().subs(rat) != 0:
                return WitnessCheck(False, f"equation {p.as_expr()} is not 0 at the witness", "")
            continue
        if not _algebraic_zero(q, alg):
            return WitnessCheck(False, f"equation {p.as_expr()} is not 0 at the witness", "")
    method = "exact rational substitution" if not alg else (
        f"exact substitution; {len(alg)} algebraic value(s) eliminated by resultants")
    return WitnessCheck(True, "", method)


def _sign(v) -> int:
    if v.is_Rational:
        return int(bool(v > 0)) - int(bool(v < 0))
    lo, hi = _interval(v, sp.Rational(1, 2**10))
    while lo <= 0 <= hi:
        if v.poly.eval(0) == 0:
            return 0
        lo, hi = _interval(v, (hi - lo) / 1024)
    return 1 if lo > 0 else -1


def _interval(root: sp.CRootOf, eps) -> tuple:
    """An exact rational isolating interval of width <= eps of the real root ``root``."""
    ivs = sorted((iv for iv, _ in sp.Poly(root.poly).intervals(eps=eps)), key=lambda iv: iv[0])
    return ivs[root.index]


def _algebraic_zero(q: sp.Poly, alg: dict) -> bool:
    if q.is_zero:
        return True
    y = sp.Dummy("y")
    res = sp.Poly(y - q.as_expr(), y, *alg.keys())
    for g, v in alg.items():
        minpoly = sp.Poly(v.poly.as_expr().subs(v.poly.gen, g), y, *alg.keys())
        res = sp.Poly(sp.resultant(res.as_expr(), minpoly.as_expr(), g), y, *alg.keys())
    r = sp.Poly(res.as_expr(), y)
    if r.is_zero:  # cannot happen for a non-zero minimal polynomial; be safe
        return False
    coeffs = r.all_coeffs()[::-1]  # constant term first
    if coeffs[0] != 0:
        return False
    v = next(i for i, c in enumerate(coeffs) if c != 0)
    s = coeffs[v:]
    if len(s) == 1:
        return True
    bound = abs(s[0]) / (abs(s[0]) + max(abs(c) for c in s[1:]))
    eps = sp.Rational(1, 2**8)
    for _ in range(7):
        lo, hi = _eval_interval(q, {g: _interval(a, eps) for g, a in alg.items()})
        if -bound < lo and hi < bound:
            return True
        if lo > 0 or hi < 0:
            return False
        eps = eps**2
    return False


def _eval_interval(q: sp.Poly, boxes: dict) -> tuple:
    lo_total = hi_total = sp.Integer(0)
    for mon, c in q.terms():
        lo = hi = sp.Rational(c)
        for g, k in zip(q.gens, mon, strict=True):
            a, b = boxes[g]
            for _ in range(k):
                prods = (lo * a, lo * b, hi * a, hi * b)
                lo, hi = min(prods), max(prods)
        lo_total += lo
        hi_total += hi
    return lo_total, hi_total

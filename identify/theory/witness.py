"""Cheap exact witnesses for cell systems, tried before a decision procedure.

Many systems at low levels have solutions of a simple shape: one perturbation alone, or
two atoms moving in opposite directions; a witness found at one level is often one at the
next. These are screened with exact rational arithmetic (Fractions on the polynomial terms).
Location-variance systems (the heat equation d^2/dmu^2 = 2 d/dnu) are solved by the m-point
Gauss-Hermite rule: one parameter at the rule's nodes, another at a constant, the weights the
rule's (docs/theory-solvability.md); these candidates have algebraic values and are screened
in floating point. Every accepted candidate is re-checked by `exactcheck.check_witness` (exact
substitution), so a "solution" here has the same standing as one from `decide`.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from itertools import product

import sympy as sp

from identify.theory.exactcheck import check_witness, exact_number
from identify.theory.solvability import _hermite_he

__all__ = ["find_witness"]


def _terms(system):
    """The equations' terms (Fraction coefficient, exponent vector over ``gens``), read from
    the initial forms without sympy: equation f is sum_i w_i sum_alpha c_alpha u_i^alpha."""
    gens = tuple(system.weights) + system.all_deltas
    m, n = system.cell_size, len(system.expansion.parameters)
    terms = []
    for f in system.forms:
        coeffs = [(Fraction(int(c.p), int(c.q)), a) for a, c in f.terms]
        eq = []
        for i in range(m):
            for c, a in coeffs:
                mon = [0] * (m + m * n)
                mon[i] = 1
                mon[m + i * n:m + (i + 1) * n] = a
                eq.append((c, tuple(mon)))
        terms.append(eq)
    return gens, terms


def _polys(system, gens) -> list:
    return list(system.polys)


def _near_zero_terms(terms, point) -> bool:
    """Floating-point screen (only ever rejects; an accepted candidate is checked exactly)."""
    for eq in terms:
        total = 0.0
        for c, mon in eq:
            t = float(c)
            for v, k in zip(point, mon, strict=True):
                if k:
                    t *= v ** k
            total += t
        if abs(total) > 1e-9:
            return False
    return True


def _zero(terms, values: tuple) -> bool:
    for eq in terms:
        total = Fraction(0)
        for c, mon in eq:
            t = c
            for v, k in zip(values, mon, strict=True):
                if k:
                    t *= v ** k
                    if not t:
                        break
            total += t
        if total:
            return False
    return True


def _rational_values(previous: dict) -> bool:
    """Every value of a previous level's witness is an exact rational (no text parsed)."""
    return all(getattr(exact_number(v), "is_Rational", False) for v in previous.values())


def _candidates(m: int, n: int, previous: dict | None, gens):
    if previous is not None and _rational_values(previous):
        yield tuple(Fraction(int(sp.Rational(previous.get(g, 0)).p),
                             int(sp.Rational(previous.get(g, 0)).q)) for g in gens)
    one = Fraction(1)
    for p in range(n):  # one perturbation alone, in the first atom
        u = [[Fraction(0)] * n for _ in range(m)]
        u[0][p] = one
        yield (one,) * m + tuple(v for row in u for v in row)
    if m >= 2:
        for p, q in product(range(n), repeat=2):  # two atoms in opposite directions
            for s in (1, -1):
                u = [[Fraction(0)] * n for _ in range(m)]
                u[0][p], u[1][p] = one, -one
                if q != p:
                    u[0][q], u[1][q] = Fraction(s), Fraction(-s)
                elif s == -1:
                    continue
                yield (one,) * m + tuple(v for row in u for v in row)


@lru_cache(maxsize=8)
def gauss_hermite_rule(m: int) -> tuple[tuple[sp.Expr, sp.Expr, float, float], ...]:
    """The m-point Gauss-Hermite rule for N(0, 1), exactly: (node, weight, floats) per point.

    Nodes: the real roots of He_m (rational or ``CRootOf``); weights m! / (m^2 He_{m-1}(x)^2),
    rational or a ``CRootOf`` of their minimal polynomial (the exact check decides anyway)."""
    x, y = sp.symbols("x y")
    he_m = sp.Poly(list(reversed(_hermite_he(m))), x, domain=sp.QQ)
    he_m1 = sp.Poly(list(reversed(_hermite_he(m - 1))), x, domain=sp.QQ)
    weight = (sp.Rational(math.factorial(m), m * m) * sp.invert(he_m1 ** 2, he_m)).rem(he_m)
    out = []
    for factor, _ in sp.factor_list(he_m.as_expr(), x)[1]:
        f = sp.Poly(factor, x, domain=sp.QQ)
        g = weight.rem(f)
        for j in range(f.degree()):
            node = sp.CRootOf(f.as_expr(), j) if f.degree() > 1 else -f.nth(0) / f.nth(1)
            if g.degree() <= 0:
                w = sp.Rational(g.nth(0))
            else:
                fy = sp.Poly(sp.resultant(f.as_expr(), y - g.as_expr(), x), y)
                target = float(g.as_expr().subs(x, sp.N(node, 30)))
                w = None
                for fac, _ in sp.factor_list(fy.as_expr(), y)[1]:
                    for k in range(sp.Poly(fac, y).degree()):
                        c = sp.CRootOf(fac, k)
                        if abs(float(c) - target) < 1e-12 * max(1.0, abs(target)):
                            w = c
                if w is None:
                    continue
            out.append((node, w, float(node), float(w)))
    return tuple(out)


def _gauss_hermite_candidates(system, gens):
    """Location p at the rule's nodes, q at a constant c, weights the rule's; rest 0."""
    m = system.cell_size
    rule = gauss_hermite_rule(m)
    if len(rule) != m:
        return
    n = len(system.expansion.parameters)
    for p, q in product(range(n), repeat=2):
        if p == q:
            continue
        for c in (-1, 1, -2, 2, sp.Rational(-1, 2), sp.Rational(1, 2)):
            values = {g: sp.Integer(0) for g in gens}
            for i, (node, w, _, _) in enumerate(rule):
                values[system.weights[i]] = w
                values[system.deltas[i][p]] = node
                values[system.deltas[i][q]] = sp.Integer(c)
            yield values


def find_witness(system, previous: dict | None = None) -> tuple[dict, str] | None:
    """An exactly checked witness of ``system`` of a simple shape, or None."""
    gens, terms = _terms(system)
    polys: list = []  # built on the first candidate that passes the screen

    def exact(values):
        if not polys:
            polys.extend(_polys(system, gens))
        return check_witness(polys, values, system.weights, system.all_deltas)

    n = len(system.expansion.parameters)
    if previous is not None and not _rational_values(previous) \
            and all(g in previous for g in gens) \
            and _near_zero_terms(terms, [float(previous[g]) for g in gens]):
        chk = exact(previous)
        if chk.ok:
            return dict(previous), f"the previous level's witness, checked exactly ({chk.method})"
    found = _simple(system, gens, exact, terms, n, previous)
    if found is not None or system.cell_size < 2:
        return found
    for values in _gauss_hermite_candidates(system, gens):
        if not _near_zero_terms(terms, [float(values[g]) for g in gens]):
            continue
        chk = exact(values)
        if chk.ok:
            return values, ("Gauss-Hermite witness (nodes of He_"
                            f"{system.cell_size}), checked exactly ({chk.method})")
    return None


def _simple(system, gens, exact, terms, n, previous):
    for values in _candidates(system.cell_size, n, previous, gens):
        if not any(values[len(system.weights):]) or not _zero(terms, values):
            continue
        witness = {g: sp.Rational(v.numerator, v.denominator) for g, v in zip(gens, values,
                                                                              strict=True)}
        chk = exact(witness)
        if chk.ok:
            return witness, f"witness of a simple shape, checked exactly ({chk.method})"
    return None

"""Cheap exact witnesses for cell systems, tried before a decision procedure.

Many systems at low levels have solutions of a simple shape: one perturbation alone, or
two atoms moving in opposite directions; a witness found at one level is often one at the
next. Candidates are screened with exact rational arithmetic (Fractions on the polynomial
terms) and every accepted one is re-checked by `decide.check_witness` (exact substitution),
so a "solution" here has the same standing as one from `decide`.
"""

from __future__ import annotations

from fractions import Fraction
from itertools import product

import sympy as sp

from identify.theory.decide import check_witness

__all__ = ["find_witness"]


def _terms(system):
    gens = tuple(system.weights) + system.all_deltas
    polys = [sp.Poly(e, *gens) for e in system.equations]
    terms = [[(Fraction(int(c.p), int(c.q)), mon) for mon, c in p.terms()] for p in polys]
    return gens, polys, terms


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


def _candidates(m: int, n: int, previous: dict | None, gens):
    if previous is not None and all(sp.sympify(v).is_Rational for v in previous.values()):
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


def find_witness(system, previous: dict | None = None) -> tuple[dict, str] | None:
    """An exactly checked witness of ``system`` of a simple shape, or None."""
    gens, polys, terms = _terms(system)
    n = len(system.expansion.parameters)
    for values in _candidates(system.cell_size, n, previous, gens):
        if not any(values[len(system.weights):]) or not _zero(terms, values):
            continue
        witness = {g: sp.Rational(v.numerator, v.denominator) for g, v in zip(gens, values,
                                                                              strict=True)}
        chk = check_witness(polys, witness, system.weights, system.all_deltas)
        if chk.ok:
            return witness, f"witness of a simple shape, checked exactly ({chk.method})"
    return None

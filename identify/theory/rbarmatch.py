"""Find the r-bar system inside a cell system (reduction.py's first step).

A cell system is ``E_k = sum_i w_i q_k(u_i)``. For every ordered pair (p, q) of per-atom
unknowns, :func:`find_rbar_subsystems` looks for rational ``c1, c2 != 0`` such that, after
the renaming ``s1 = c1 u_p``, ``s2 = c2 u_q``, the span of the ``q_k`` contains every
per-atom polynomial of the r-bar system's levels 1..L, and returns each match with the
exact combinations of the equations that give them (an ``RbarMatch``). Exact throughout:
the per-atom form of every equation is read off its terms, the spans are reduced
row-echelon forms over QQ (python-flint), and every combination is re-checked by sympy
``expand == 0`` before it is returned. What a match proves is reduction.py's business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import permutations

import flint
import sympy as sp

from identify.theory.decide import equation_expr
from identify.theory.solvability import rbar_system

__all__ = ["RbarMatch", "find_rbar_subsystems"]


@dataclass(frozen=True)
class RbarMatch:
    """The r-bar system of ``m`` atoms, levels 1..``level``, inside a cell system's span.

    ``s1``, ``s2``: the per-atom unknowns (names of atom 1's symbols) renamed to s1, s2;
    ``scales``: (c1, c2) with s1 = c1 * s1-unknown, s2 = c2 * s2-unknown; ``combinations[l-1]``
    maps equation index k -> the rational mu_k with r-bar level l = sum_k mu_k E_k (checked by
    sympy expand == 0)."""

    m: int
    level: int
    s1: str
    s2: str
    scales: tuple[sp.Rational, sp.Rational]
    combinations: tuple[tuple[tuple[int, sp.Rational], ...], ...]
    dimension: int  # dim of the span of the equations in (s1, s2) only
    p: int = field(default=0, compare=False)  # positions of s1, s2 among the atom's unknowns
    q: int = field(default=0, compare=False)

    def renaming(self) -> str:
        c1, c2 = self.scales
        return f"s1 = {_scaled(c1, self.s1)}, s2 = {_scaled(c2, self.s2)}, s3^2 = w"

    def text(self) -> str:
        return (f"the equations in ({self.s1}, {self.s2}) contain the r-bar system of {self.m} "
                f"atoms at levels 1..{self.level} under {self.renaming()} (each level a rational "
                "combination of the system's equations, checked exactly by sympy expand == 0)")

    def to_dict(self) -> dict:
        return {"m": self.m, "level": self.level, "s1": self.s1, "s2": self.s2,
                "scales": [str(c) for c in self.scales], "dimension": self.dimension,
                "combinations": [{str(k): str(c) for k, c in comb} for comb in self.combinations]}


def _scaled(c, name: str) -> str:
    return name if c == 1 else f"-{name}" if c == -1 else f"({c})*{name}"


def _q(c) -> flint.fmpq:
    c = sp.Rational(c)
    return flint.fmpq(int(c.p), int(c.q))


def _r(c: flint.fmpq) -> sp.Rational:
    return sp.Rational(int(c.p), int(c.q))


def _roles(atoms) -> list[str]:
    """Names of the per-atom unknowns: atom 1's symbols, without a common "_1" suffix."""
    names = [str(x) for x in atoms[0]]
    if all(n.endswith("_1") for n in names) and len({n[:-2] for n in names}) == len(names):
        names = [n[:-2] for n in names]
    return names


def _as_poly(eq, gens) -> sp.Poly:
    if isinstance(eq, sp.Poly) and eq.gens == tuple(gens):
        return eq.set_domain(sp.QQ)
    return sp.Poly(equation_expr(eq), *gens,
                   domain=sp.QQ)


def _per_atom(equations, weights, atoms) -> list[sp.Poly] | None:
    """q_k(u) with E_k = sum_i w_i q_k(u_i) (u = atom 1's unknowns), checked exactly on the
    terms: every term is one weight w_i times a monomial in atom i's unknowns only, and the
    m per-atom parts are the same polynomial. None when some equation is not of that form."""
    m, n = len(weights), len(atoms[0])
    u = tuple(atoms[0])
    gens = tuple(weights) + tuple(x for a in atoms for x in a)
    out = []
    for eq in equations:
        parts: list[dict] = [{} for _ in range(m)]
        for mon, c in _as_poly(eq, gens).terms():
            if c == 0:
                continue  # the zero polynomial's only term
            ws = [i for i in range(m) if mon[i]]
            if len(ws) != 1 or mon[ws[0]] != 1:
                return None
            i = ws[0]
            block = mon[m + i * n:m + (i + 1) * n]
            if sum(mon[m:]) != sum(block):
                return None  # an unknown of another atom
            parts[i][tuple(block)] = c
        if any(part != parts[0] for part in parts[1:]):
            return None
        out.append(sp.Poly.from_dict(parts[0], *u, domain=sp.QQ) if parts[0] else
                   sp.Poly(0, *u, domain=sp.QQ))
    return out


def _rbar_atom(level: int, s1, s2) -> sp.Expr:
    return sp.Add(*[s1 ** (level - 2 * n2) * s2 ** n2
                    / (sp.factorial(level - 2 * n2) * sp.factorial(n2)) for n2 in range(level // 2 + 1)])


class _Span:
    """The span of the per-atom polynomials restricted to unknowns ``keep`` (positions): a
    reduced basis whose rows also record which combination of the equations they are."""

    def __init__(self, qs: list[sp.Poly], keep: tuple[int, ...]):
        monos = sorted({mon for q in qs for mon in q.monoms()})
        other = [mon for mon in monos if any(k and j not in keep for j, k in enumerate(mon))]
        inside = [mon for mon in monos if mon not in set(other)]
        self.columns = other + inside
        self.inside = set(inside)
        col = {mon: j for j, mon in enumerate(self.columns)}
        n, k = len(self.columns), len(qs)
        rows = []
        for i, q in enumerate(qs):
            row = [flint.fmpq(0)] * (n + k)
            for mon, c in q.terms():
                row[col[mon]] = _q(c)
            row[n + i] = flint.fmpq(1)
            rows.append(row)
        R, _ = flint.fmpq_mat(k, n + k, [v for r in rows for v in r]).rref()
        self.basis = []  # (pivot column, {column: value}, {equation: mu})
        for i in range(k):
            entries = [R[i, j] for j in range(n)]
            piv = next((j for j, v in enumerate(entries) if v != 0), None)
            if piv is None or self.columns[piv] not in self.inside:
                continue
            self.basis.append((piv, {j: v for j, v in enumerate(entries) if v != 0},
                               {e: R[i, n + e] for e in range(k) if R[i, n + e] != 0}))

    def express(self, poly: sp.Poly) -> tuple[dict, dict] | None:
        """(residual, combination): poly = sum mu_k q_k + residual; None if a monomial of
        ``poly`` is outside the columns."""
        col = {mon: j for j, mon in enumerate(self.columns)}
        vec = {}
        for mon, c in poly.terms():
            if c == 0:
                continue  # the zero polynomial's only term
            if mon not in col:
                return None
            vec[col[mon]] = _q(c)
        mu: dict[int, flint.fmpq] = {}
        for piv, row, comb in self.basis:
            a = vec.get(piv, flint.fmpq(0))
            if a == 0:
                continue
            for j, v in row.items():
                vec[j] = vec.get(j, flint.fmpq(0)) - a * v
            for e, v in comb.items():
                mu[e] = mu.get(e, flint.fmpq(0)) + a * v
        return {j: v for j, v in vec.items() if v != 0}, {e: v for e, v in mu.items() if v != 0}


def _match_pair(qs, u, p: int, q: int, m: int, equations, weights, atoms) -> RbarMatch | None:
    span = _Span(qs, (p, q))
    if not span.basis:
        return None
    up, uq = u[p], u[q]

    def vec(expr):
        return span.express(sp.Poly(expr, *u, domain=sp.QQ))

    first = vec(up)
    if first is None or first[0]:
        return None  # level 1: s1 itself must be in the span
    # level 2 fixes c2 (c1 = 1: the r-bar system is invariant under s1 -> t s1, s2 -> t^2 s2)
    a, b = vec(up ** 2 / 2), vec(uq)
    if a is None or b is None or not b[0]:
        return None
    j = next(iter(b[0]))
    c2 = -a[0].get(j, flint.fmpq(0)) / b[0][j]
    if c2 == 0:
        return None
    scales = (sp.Integer(1), _r(c2))
    combos = []
    level = 0
    top = max(qq.degree(up) for qq in qs)
    for lev in range(1, top + 1):
        got = vec(_rbar_atom(lev, scales[0] * up, scales[1] * uq))
        if got is None or got[0]:
            break
        combos.append(tuple(sorted((e, _r(v)) for e, v in got[1].items())))
        level = lev
    if level < 2:
        return None
    # the exact check, on the cell equations themselves: r-bar level l (weights, s1_i, s2_i
    # renamed) minus the combination of the system's equations expands to 0
    rb = rbar_system(m, level)
    ren = {}
    for i in range(m):
        ren[rb.weights[i]] = weights[i]
        ren[rb.deltas[i]] = scales[0] * atoms[i][p]
        ren[rb.free[i]] = scales[1] * atoms[i][q]
    exprs = [equation_expr(e) for e in equations]
    for lev, comb in enumerate(combos, start=1):
        lhs = rb.decide_equations[lev - 1].xreplace(ren)
        if sp.expand(lhs - sp.Add(*[c * exprs[k] for k, c in comb])) != 0:
            return None  # pragma: no cover - the linear algebra above would be wrong
    names = _roles(atoms)
    return RbarMatch(m, level, names[p], names[q], scales, tuple(combos),
                     len(span.basis), p, q)


def find_rbar_subsystems(equations, weights, atoms, _qs=None) -> tuple[RbarMatch, ...]:
    """Every ordered pair of per-atom unknowns whose equations contain the r-bar system (at
    its largest level L >= 2), with the renaming, the scaling and the exact combinations.

    ``equations``: sympy expressions or Polys; ``weights``: (w_1..w_m); ``atoms``: one tuple
    of unknowns per atom, in the same roles. Returns () when the system is not of the cell
    form sum_i w_i q(u_i) (checked exactly) or no pair matches."""
    weights, atoms = tuple(weights), tuple(tuple(a) for a in atoms)
    if len(weights) != len(atoms) or not atoms or len({len(a) for a in atoms}) != 1:
        return ()
    qs = _per_atom(equations, weights, atoms) if _qs is None else _qs
    if qs is None:
        return ()
    u = atoms[0]
    found = []
    for p, q in permutations(range(len(u)), 2):
        match = _match_pair(qs, u, p, q, len(weights), equations, weights, atoms)
        if match is not None:
            found.append(match)
    return tuple(sorted(found, key=lambda x: (-x.level, x.p, x.q)))

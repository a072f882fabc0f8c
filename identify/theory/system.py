"""The coefficient system of a Voronoi cell: initial forms of the expansion's coefficients.

A cell of m fitted atoms (weights w_i > 0, perturbations Delta_i) near one true atom
contributes sum_j [sum_i w_i p_j(Delta_i) - w* p_j(0)] m_j. For a grading (a positive
integer weight per parameter block; the weight difference sum w - w* has weight r) the
limit argument of the papers (divide by the loss, Delta_p = t^wt_p u_p) keeps, for every p
in the span V of the p_j with p(0) = 0, its lowest weighted-degree part in(p) when that
degree is <= r: sum_i w_i in(p)(u_i) = 0. The initial forms of V are read off a reduced
row-echelon form of the coefficient matrix (exact, python-flint fmpq_mat) whose columns,
the monomials Delta^alpha, are sorted by weighted degree. For a weighted-homogeneous grading
this is exactly the papers' system (r-bar, r-tilde); otherwise it is this project's
extension [D].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import flint
import sympy

from identify.errors import ConfigError
from identify.theory.expansion import Expansion

__all__ = ["InitialForm", "CellSystem", "initial_forms", "cell_system", "uniform", "Grading"]

Grading = tuple[tuple[str, int], ...]  # ((block, weight), ...) in block order


def uniform(expansion: Expansion) -> Grading:
    return tuple((b, 1) for b in dict.fromkeys(expansion.block_of()))


def _wdeg(alpha: tuple, weights: tuple) -> int:
    return sum(a * w for a, w in zip(alpha, weights, strict=True))


@dataclass(frozen=True)
class InitialForm:
    """One equation's per-atom polynomial: ``terms`` maps alpha -> Rational (weighted degree
    ``degree``); it is the initial form of a combination of the monomials' coefficients."""

    degree: int
    terms: tuple[tuple[tuple[int, ...], sympy.Rational], ...]


def initial_forms(expansion: Expansion, grading: Grading, level: int) -> tuple[InitialForm, ...]:
    """The initial forms of degree 1..level of the span V of the coefficient polynomials."""
    wt_of = dict(grading)
    weights = tuple(wt_of[b] for b in expansion.block_of())
    if any(w < 1 for w in weights):
        raise ConfigError("grading weights must be positive integers", where="grading")
    alphas = sorted({a for row in expansion.coefficients for a in row
                     if _wdeg(a, weights) <= level}, key=lambda a: (_wdeg(a, weights), a))
    zero = tuple(0 for _ in weights)
    if zero not in alphas:
        alphas.insert(0, zero)
    col = {a: i for i, a in enumerate(alphas)}
    rows = [[0] * len(alphas) for _ in expansion.coefficients]
    for j, row in enumerate(expansion.coefficients):
        for a, c in row.items():
            if a in col:
                rows[j][col[a]] = flint.fmpq(int(c.p), int(c.q))
    if not rows:
        return ()
    M = flint.fmpq_mat(len(rows), len(alphas), [v for r in rows for v in r])
    R, rank = M.rref()
    out = []
    for i in range(rank):
        entries = [R[i, j] for j in range(len(alphas))]
        pivot = next(j for j, v in enumerate(entries) if v != 0)
        if alphas[pivot] == zero:
            continue  # absorbed by the free weight difference (sum w - w*)
        d = _wdeg(alphas[pivot], weights)
        terms = tuple((alphas[j], sympy.Rational(int(v.p), int(v.q)))
                      for j, v in enumerate(entries) if v != 0 and _wdeg(alphas[j], weights) == d)
        out.append(InitialForm(d, terms))
    return tuple(out)


@dataclass(frozen=True)
class CellSystem:
    """The level-r system of a cell of m atoms: sum_i w_i q(u_i) = 0 for every initial form q."""

    expansion: Expansion
    cell_size: int
    grading: Grading
    level: int
    forms: tuple[InitialForm, ...]
    weights: tuple[sympy.Symbol, ...]
    deltas: tuple[tuple[sympy.Symbol, ...], ...]  # deltas[i][p]: atom i, parameter p

    @cached_property
    def equations(self) -> tuple[sympy.Expr, ...]:
        out = []
        for f in self.forms:
            total = sympy.Integer(0)
            for w, u in zip(self.weights, self.deltas, strict=True):
                total += w * sum(c * sympy.Mul(*[s ** k for s, k in zip(u, a, strict=True)])
                                 for a, c in f.terms)
            out.append(sympy.expand(total))
        return tuple(out)

    @cached_property
    def polys(self) -> tuple[sympy.Poly, ...]:
        """The equations as polynomials in weights + all_deltas, built from the forms' terms
        (the same polynomials as ``equations``, without sympy's expand)."""
        m, n = self.cell_size, len(self.expansion.parameters)
        gens = tuple(self.weights) + self.all_deltas
        out = []
        for f in self.forms:
            terms = {}
            for i in range(m):
                for a, c in f.terms:
                    mon = [0] * (m + m * n)
                    mon[i] = 1
                    mon[m + i * n:m + (i + 1) * n] = a
                    terms[tuple(mon)] = c
            out.append(sympy.Poly.from_dict(terms, *gens, domain=sympy.QQ))
        return tuple(out)

    def per_atom(self, form: InitialForm) -> sympy.Expr:
        ds = [sympy.Symbol(f"d{s.name}") for s in self.expansion.parameters]
        return sympy.Add(*[c * sympy.Mul(*[s ** k for s, k in zip(ds, a, strict=True)])
                           for a, c in form.terms])

    @property
    def all_deltas(self) -> tuple[sympy.Symbol, ...]:
        return tuple(s for u in self.deltas for s in u)

    def key(self) -> str:
        """A canonical text of the system (for caching decisions): the cell size, the number
        of parameters and the reduced row-echelon basis of the span of the per-atom
        polynomials. Two systems with the same key have the same solutions (a change of basis
        of the equations, the unknowns renamed by position), whatever grading built them."""
        alphas = sorted({a for f in self.forms for a, _ in f.terms})
        head = f"{self.cell_size}|{len(self.expansion.parameters)}|"
        if not alphas:
            return head
        col = {a: j for j, a in enumerate(alphas)}
        rows = [[flint.fmpq(0)] * len(alphas) for _ in self.forms]
        for i, f in enumerate(self.forms):
            for a, c in f.terms:
                rows[i][col[a]] = flint.fmpq(int(c.p), int(c.q))
        R, rank = flint.fmpq_mat(len(rows), len(alphas), [v for r in rows for v in r]).rref()
        return head + "|".join(";".join(f"{alphas[j]}:{R[i, j]}" for j in range(len(alphas))
                                        if R[i, j] != 0) for i in range(rank))

    def to_dict(self) -> dict:
        return {"cell_size": self.cell_size, "level": self.level,
                "grading": dict(self.grading),
                "atom": {s.name: str(v) for s, v in self.expansion.atom.items()},
                "equations": [{"degree": f.degree,
                               "per_atom": sympy.sstr(self.per_atom(f)),
                               "cell": sympy.sstr(e) + " = 0"}
                              for f, e in zip(self.forms, self.equations, strict=True)],
                "unknowns": {"weights": [s.name for s in self.weights],
                             "deltas": [s.name for s in self.all_deltas]},
                "certificate": self.expansion.certificate}


def cell_system(expansion: Expansion, cell_size: int, level: int,
                grading: Grading | Mapping[str, int] | None = None) -> CellSystem:
    """The level-``level`` system of a cell of ``cell_size`` atoms under ``grading``."""
    if not isinstance(cell_size, int) or cell_size < 1:
        raise ConfigError(f"the cell size must be an integer >= 1, got {cell_size!r}", where="cell")
    if level > expansion.order:
        raise ConfigError(f"level {level} needs an expansion of order >= {level}", where="order")
    if grading is None:
        grading = uniform(expansion)
    elif isinstance(grading, Mapping):
        blocks = list(dict.fromkeys(expansion.block_of()))
        unknown = set(grading) - set(blocks)
        if unknown:
            raise ConfigError(f"unknown block(s) in the grading: {', '.join(sorted(unknown))} "
                              f"(blocks: {', '.join(blocks)})", where="grading")
        grading = tuple((b, int(grading.get(b, 1))) for b in blocks)
    forms = initial_forms(expansion, grading, level)
    m = cell_size
    weights = tuple(sympy.Symbol(f"w{i}", positive=True) for i in range(1, m + 1))
    deltas = tuple(tuple(sympy.Symbol(f"d{s.name}_{i}", real=True) for s in expansion.parameters)
                   for i in range(1, m + 1))
    return CellSystem(expansion, m, grading, level, forms, weights, deltas)

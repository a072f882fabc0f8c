"""Linear relations (PDEs) among the members of a family, with exact proofs.

A relation is sum_alpha c_alpha(theta) f_alpha == 0 with polynomial coefficients in the
parameters. It is *found* by its values: at a rational parameter point theta the relation
among the support's members is the nullspace of their collocation matrix (ball
arithmetic); with the dependent member's coefficient set to 1 the other coefficients are
rational numbers, recognised exactly. From such exact values at several rational points
the coefficients are *reconstructed* as polynomials of increasing total degree in the
parameters they depend on (an exact integer nullspace, python-flint ``fmpz_mat``), so the
cost grows with the degree the relation needs, not with a fixed ansatz. The relation is
then *proved* by exact symbolic simplification of the claimed sum (on every smooth piece
for a non-smooth family). Nothing found numerically is ever reported unproved.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd, isqrt, lcm

import sympy
from flint import arb, fmpq, fmpq_mat

from identify.symbolic.arbeval import ArbProgram, workprec
from identify.symbolic.budget import Budget
from identify.symbolic.collocation import Collocation
from identify.symbolic.family import Member, display_name
from identify.symbolic.linalg import dependent_coefficients, eliminate
from identify.symbolic.pieces import prove_on_pieces
from identify.symbolic.points import PointSampler
from identify.symbolic.proofsteps import proof_steps as _proof_steps

__all__ = ["Relation", "SearchContext", "discover_relation", "MAX_DEGREE", "MAX_UNKNOWNS",
           "is_weight_member"]

#: the highest total degree tried for the coefficient polynomials
MAX_DEGREE = 12
#: the largest exact reconstruction system (unknown polynomial coefficients) tried
MAX_UNKNOWNS = 1600
_ROW_MARGIN = 6
_PRECISIONS = (256, 512, 1024)


@dataclass(frozen=True)
class Relation:
    """sum_k coefficient_k * member_k == 0, proved.

    Attributes
    ----------
    terms:
        (member, coefficient) pairs; coefficients are polynomials in the parameters with
        integer coefficients, normalised (content 1, first term positive).
    proof:
        How the identity was proved (the simplification that reached 0).
    """

    terms: tuple[tuple[Member, sympy.Expr], ...]
    proof: str
    proof_steps = _proof_steps  # the proof step by step: the sum, F substituted, each rewrite, 0

    @property
    def kind(self) -> str:
        """``zero`` (one term), ``duplicate`` (two members that are the same function,
        coefficients +1 and -1, neither of them the weight member F or h) or ``relation``."""
        if len(self.terms) == 1:
            return "zero"
        if len(self.terms) == 2:
            (m1, c1), (m2, c2) = self.terms
            # F (or h) itself stands for the weight direction (dF/dbeta0 = F): a relation with
            # it is never a mere duplicate (e.g. dF/dW = F for the Laplace gate on one side of
            # W confounds W with the weight); x^2*h or dF/da are not the weight direction
            if (c1.is_number and c2.is_number and c1 == -c2
                    and not is_weight_member(m1) and not is_weight_member(m2)):
                return "duplicate"
        return "relation"

    @property
    def order(self) -> int:
        """Highest derivative order among the terms."""
        return max(m.order for m, _ in self.terms)

    @property
    def members(self) -> tuple[Member, ...]:
        return tuple(m for m, _ in self.terms)

    @property
    def parameters(self) -> tuple[str, ...]:
        """Parameters differentiated by in some term, in order of appearance."""
        out: list[str] = []
        for m, _ in self.terms:
            for name in m.derivative:
                if name not in out:
                    out.append(name)
        return tuple(out)

    @property
    def text(self) -> str:
        """The relation as an equation, e.g. ``dF/da = d2F/(dbeta_1 db)``."""
        lhs, rhs = [], []
        for m, c in self.terms:
            (lhs if _sign(c) > 0 else rhs).append((m, c if _sign(c) > 0 else -c))
        def side(items: list) -> str:
            if not items:
                return "0"
            return " + ".join(_term_text(m, c) for m, c in items)
        return f"{side(lhs)} = {side(rhs)}"

    def expression(self) -> sympy.Expr:
        """The sum that is proved to vanish."""
        return sympy.Add(*[c * m.expr for m, c in self.terms])

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "order": self.order,
            "text": self.text,
            "terms": [{"derivative": list(m.derivative), "multiplier": list(m.multiplier),
                       "label": m.label, "coefficient": sympy.sstr(c)} for m, c in self.terms],
            "parameters": list(self.parameters),
            "proof": self.proof,
        }


def is_weight_member(m: Member) -> bool:
    """The undifferentiated, unmultiplied member (F, or h in a literal family): the direction
    of the atom's weight."""
    return not m.derivative and not m.multiplier


def _sign(c: sympy.Expr) -> int:
    if c.is_number:
        return 1 if c > 0 else -1
    lead = sympy.Poly(c, *sorted(c.free_symbols, key=lambda s: s.name)).coeffs()[0]
    return 1 if lead > 0 else -1


def _term_text(m: Member, c: sympy.Expr) -> str:
    if c == 1:
        return m.label
    text = sympy.sstr(c.xreplace({s: sympy.Symbol(display_name(s.name)) for s in c.free_symbols}))
    if c.is_Add:
        text = f"({text})"
    return f"{text} {m.label}"


def normalise(coeffs: Sequence[sympy.Expr]) -> list[sympy.Expr]:
    """Clear denominators, divide by the integer content, make the first term positive."""
    nums: list[int] = []
    dens: list[int] = []
    for c in coeffs:
        for term in sympy.Add.make_args(sympy.expand(c)):
            q = term.as_coeff_Mul()[0]
            if q != 0:
                nums.append(abs(int(sympy.Rational(q).p)))
                dens.append(int(sympy.Rational(q).q))
    scale = sympy.Rational(lcm(*dens) if dens else 1, gcd(*nums) if nums else 1)
    out = [sympy.expand(c * scale) for c in coeffs]
    if out and _sign(out[0]) < 0:
        out = [-c for c in out]
    return out


@dataclass
class SearchContext:
    """What the relation search evaluates and where, and the exact values it has computed.

    ``program`` evaluates every member (outputs indexed like ``members``) at (inputs,
    parameters); ``pivots`` and ``dependent`` are the pivot and dependent columns found at
    the reference atom. At a rational parameter point the same elimination gives, for every
    dependent column at once, its coefficients on the pivots before it; recognised as exact
    rationals, these values are shared by the reconstruction of every relation.
    ``positive_inputs`` restricts inputs to (0, 2]; parameters flagged in
    ``positive_params`` are drawn > 0.
    """

    program: ArbProgram
    members: Sequence[Member]
    n_inputs: int
    params: Sequence[sympy.Symbol]
    positive_params: Sequence[bool]
    positive_inputs: bool = False
    seed: int = 0
    budget: Budget = field(default_factory=Budget)
    pivots: Sequence[int] = ()
    dependent: Sequence[int] = ()
    signs: Sequence[int] = ()  # the reference atom's signs: sample points keep them

    def __post_init__(self) -> None:
        self.unrecognised = False  # some coefficient was not rational at a rational point
        self._sampler = PointSampler(self.seed + 7919)
        self._samples: list[tuple[list[Fraction], dict[int, list[Fraction] | None]]] = []
        self._misses = 0
        self._moved: dict[int, dict[int, list[Fraction] | None] | None] = {}

    def parameter_point(self) -> list[Fraction]:
        """Rational parameters of small height (so that the exact values stay small), with
        the signs of the reference atom (inside the domain where the family is real)."""
        out = [self._sampler.small_parameter_value(self.positive_inputs or p)
               for p in self.positive_params]
        if self.signs:
            out = [abs(v) * s for v, s in zip(out, self.signs, strict=True)]
        return out

    def values(self, theta: Sequence[Fraction]) -> dict[int, list[Fraction] | None] | None:
        """Exact coefficients of every dependent column on the pivots before it, at ``theta``
        (a column's entry is None when not recognised); None when the pivots differ there."""
        out: dict[int, list[Fraction] | None] = {}
        todo = list(self.dependent)
        need = len(self.pivots) + _ROW_MARGIN
        for prec in _PRECISIONS:
            with workprec(prec):
                coll = Collocation(self.program, self.n_inputs,
                                   PointSampler(self.seed + 31 + prec), self.positive_inputs)
                got = coll.rows([list(theta)], need)
                if got is None:
                    return None
                rows = got[0]
                elim = eliminate(rows)
                if elim.pivot_cols != list(self.pivots):
                    return None  # not generic enough here
                for col in list(todo):
                    before = [p for p in self.pivots if p < col]
                    rec = [_recognise(v) for v in dependent_coefficients(rows, elim, col, before)]
                    if all(r is not None for r in rec):
                        out[col] = rec  # type: ignore[assignment]
                        todo.remove(col)
            if not todo:
                break
        self.unrecognised = self.unrecognised or bool(todo)
        out.update({col: None for col in todo})
        return out

    def sample(self, i: int) -> tuple[list[Fraction], dict[int, list[Fraction] | None]] | None:
        """The i-th parameter point at which the pivots are those of the reference atom."""
        while len(self._samples) <= i:
            if self._misses > 40 + 2 * len(self._samples) or self.budget.expired(
                    "the relation search"):
                return None
            theta = self.parameter_point()
            vals = self.values(theta)
            if vals is None:
                self._misses += 1
                continue
            self._samples.append((theta, vals))
        return self._samples[i]

    def ratios(self, support: Sequence[int], values: dict[int, list[Fraction] | None] | None
               ) -> list[Fraction] | None:
        """The coefficients of ``support[:-1]`` in ``members[support[-1]]`` (None if the other
        earlier pivots do not vanish: the relation is not supported on ``support``)."""
        if values is None or values.get(support[-1]) is None:
            return None
        col = support[-1]
        before = [p for p in self.pivots if p < col]
        full = values[col]
        assert full is not None
        keep = set(support[:-1])
        if any(v for p, v in zip(before, full, strict=True) if p not in keep):
            return None
        at = {p: v for p, v in zip(before, full, strict=True)}
        return [at[s] for s in support[:-1]]

    def moved(self, i: int) -> dict[int, list[Fraction] | None] | None:
        """Values at the first sample with parameter i alone changed."""
        if i not in self._moved:
            first = self.sample(0)
            if first is None:
                return None
            theta = list(first[0])
            while theta[i] == first[0][i]:
                theta[i] = self.parameter_point()[i]
            self._moved[i] = self.values(theta)
        return self._moved[i]


def _exact(v: arb) -> Fraction:
    man, exp = v.man_exp()
    return Fraction(int(man)) * (Fraction(2) ** int(exp))


def _recognise(v: arb) -> Fraction | None:
    """The rational number of small height inside the ball ``v`` (None if the ball is too wide
    for one to be singled out)."""
    if not v.is_finite():
        return None
    mid, rad = _exact(v.mid()), _exact(v.rad())
    if rad > Fraction(1, 2**80) * max(1, abs(mid)):
        return None
    # denominators up to N with N^2 far below 1/rad: an irrational value passes with
    # probability about 2^-80 (and the proof decides anyway)
    bound = max(1, isqrt(int(1 / max(rad, Fraction(1, 2**2000)))) >> 40)
    approx = mid.limit_denominator(bound)
    return approx if abs(approx - mid) <= 2 * rad + Fraction(1, 2**1000) else None


def _relevant(ctx: SearchContext, support: Sequence[int]) -> list[int] | None:
    """Indices of the parameters the coefficients depend on: those whose change alone changes
    the exact coefficient values (None when the first sample gives no values)."""
    first = ctx.sample(0)
    r0 = ctx.ratios(support, first[1]) if first else None
    if r0 is None:
        return None
    return [i for i in range(len(ctx.params)) if ctx.ratios(support, ctx.moved(i)) != r0]


def _exponents(n: int, degree: int) -> list[tuple[int, ...]]:
    out: list[tuple[int, ...]] = []
    for d in range(degree + 1):
        for combo in itertools.combinations_with_replacement(range(n), d):
            e = [0] * n
            for k in combo:
                e[k] += 1
            out.append(tuple(e))
    return out


def _reconstruct(ctx: SearchContext, support: Sequence[int], relevant: Sequence[int]
                 ) -> list[tuple[list[tuple[int, ...]], list[int]]]:
    """Candidate coefficient vectors of the lowest total degree that has one: the exact
    integer nullspace of c_i(theta_j) + v_i(theta_j) c_last(theta_j) = 0 over the sample
    points theta_j, where member_last = sum_i v_i(theta) member_i."""
    n_terms = len(support)
    usable: list[tuple[list[fmpq], list[fmpq]]] = []
    seen: set[tuple[Fraction, ...]] = set()  # distinct points in the relevant parameters only
    index = 0
    degree, extra = 0, 0
    while degree <= MAX_DEGREE:
        if ctx.budget.expired("the relation search"):
            return []
        exps = _exponents(len(relevant), degree)
        unknowns = n_terms * len(exps)
        if unknowns > MAX_UNKNOWNS:
            return []
        want = -(-(unknowns - 1) // (n_terms - 1)) + 3 + extra * (len(exps) + 3)
        misses = 0
        while len(usable) < want:
            got = ctx.sample(index)
            index += 1
            if got is None:
                return []
            r = ctx.ratios(support, got[1])
            # a point repeating another in the relevant parameters repeats its equations
            key = tuple(got[0][i] for i in relevant)
            if r is None or (relevant and key in seen):
                misses += 1
                if misses > 20 + want:
                    return []
                continue
            seen.add(key)
            usable.append(([fmpq(v.numerator, v.denominator) for v in got[0]],
                           [fmpq(v.numerator, v.denominator) for v in r]))
        rows = []
        zero = fmpq(0)
        for theta, r in usable:
            monos = []
            for e in exps:
                m = fmpq(1)
                for i, k in zip(relevant, e, strict=True):
                    if k:
                        m *= theta[i] ** k
                monos.append(m)
            for i, v in enumerate(r):
                row = [zero] * unknowns
                row[i * len(exps):(i + 1) * len(exps)] = monos
                row[(n_terms - 1) * len(exps):] = [v * m for m in monos]
                rows.append(row)
        numer, _ = fmpq_mat(rows).numer_denom()
        basis, nullity = numer.nullspace()
        if nullity == 0:
            degree, extra = degree + 1, 0
            continue
        if nullity > 1 and extra < 2:
            extra += 1  # the lowest degree has one solution up to scale: more points
            continue
        return [([*exps], [int(basis[k, j]) for k in range(unknowns)])
                for j in range(min(int(nullity), 3))]
    return []


def discover_relation(ctx: SearchContext, support: Sequence[int]) -> Relation | None:
    """Find and prove the relation writing ``members[support[-1]]`` in terms of the other
    support members (indices into ``ctx.program``'s outputs). ``None``: not found or not
    proved."""
    members = ctx.members
    if len(support) == 1:
        m = members[support[0]]
        proof = prove_on_pieces(m.expr)
        return Relation(((m, sympy.Integer(1)),), proof) if proof else None
    relevant = _relevant(ctx, support)
    if relevant is None:
        return None
    syms = [ctx.params[i] for i in relevant]
    for exps, vec in _reconstruct(ctx, support, relevant):
        monos = [sympy.Mul(*[s ** k for s, k in zip(syms, e, strict=True)]) for e in exps]
        coeffs = [sympy.Add(*[c * m for c, m in zip(vec[t * len(exps):(t + 1) * len(exps)],
                                                     monos, strict=True) if c])
                  for t in range(len(support))]
        order = [t for t in range(len(support)) if coeffs[t] != 0]
        if not order:
            continue
        normed = normalise([coeffs[t] for t in order])
        terms = tuple((members[support[t]], c) for t, c in zip(order, normed, strict=True))
        proof = prove_on_pieces(sympy.Add(*[c * m.expr for m, c in terms]))
        if proof is not None:
            return Relation(terms, proof)
    return None

"""Linear relations (PDEs) among the members of a family, with exact proofs.

A relation is sum_alpha c_alpha(theta) f_alpha == 0 with polynomial coefficients in the
parameters. It is *found* numerically, by an ansatz over polynomial coefficients of
increasing degree evaluated at random rational points (x, theta) in high-precision ball
arithmetic, and *proved* by exact symbolic simplification of the claimed sum.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import gcd, lcm

import sympy
from flint import arb

from identify.symbolic.arbeval import (
    ArbProgram,
    NonSmoothPoint,
    has_kinks,
    is_finite,
    piece_form,
    to_arb,
    workprec,
)
from identify.symbolic.family import Member, display_name
from identify.symbolic.linalg import dependent_coefficients, eliminate
from identify.symbolic.points import PointSampler
from identify.symbolic.proofs import prove_zero
from identify.symbolic.proofsteps import proof_steps as _proof_steps

__all__ = ["Relation", "AnsatzContext", "discover_relation", "MAX_ANSATZ_COLUMNS", "MAX_DEGREE"]

MAX_DEGREE = 3
MAX_ANSATZ_COLUMNS = 240


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
        """``zero`` (one term), ``duplicate`` (two equal derivatives of order >= 1) or
        ``relation``."""
        if len(self.terms) == 1:
            return "zero"
        if len(self.terms) == 2:
            (m1, c1), (m2, c2) = self.terms
            # F itself stands for the weight direction (dF/dbeta0 = F): a relation with F is
            # never a mere duplicate of two derivatives (e.g. dF/dW = F for the Laplace gate
            # in d = 1 confounds W with the weight)
            if c1.is_number and c2.is_number and c1 == -c2 and m1.order and m2.order:
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


def _monomials(params: Sequence[sympy.Symbol], degree: int) -> list[sympy.Expr]:
    out: list[sympy.Expr] = []
    for d in range(degree + 1):
        out.extend(sympy.Mul(*c) for c in itertools.combinations_with_replacement(params, d))
    return out


def _to_fraction(x: arb, max_den: int = 10**12) -> Fraction | None:
    mid = x.mid()
    man, exp = mid.man_exp()
    exact = Fraction(int(man)) * (Fraction(2) ** int(exp))
    approx = exact.limit_denominator(max_den)
    tol = Fraction(1, 10**30) * max(1, abs(exact))
    return approx if abs(approx - exact) <= tol else None


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
class AnsatzContext:
    """Where the ansatz samples: inputs, parameters, domain and the smooth piece.

    ``reference`` is a point (inputs and parameters -> exact value) of the piece on which
    relations are sought; ``piece`` is its kink pattern (empty for smooth families).
    """

    n_inputs: int
    params: Sequence[sympy.Symbol]
    sampler: PointSampler
    positive: bool
    positive_params: Sequence[bool]
    reference: dict[sympy.Symbol, Fraction]
    piece: tuple[int, ...] = ()

    def side(self, z: sympy.Expr) -> int:
        """The sign of ``z`` at the reference point (ball arithmetic)."""
        syms = list(self.reference)
        with workprec(128):
            (v,) = ArbProgram([z], syms)([to_arb(self.reference[s]) for s in syms])
        return 1 if v > 0 else -1


def discover_relation(
    program: ArbProgram,
    members: Sequence[Member],
    support: Sequence[int],
    ctx: AnsatzContext,
) -> Relation | None:
    """Find and prove the relation among ``members[support]`` (indices into ``program``'s outputs).

    Tries polynomial coefficients of degree 0, 1, ..., MAX_DEGREE. Returns ``None`` when no
    relation was found or none could be proved.
    """
    for degree in range(MAX_DEGREE + 1):
        monos = _monomials(ctx.params, degree)
        cols = [(s, mi) for s in support for mi in range(len(monos))]
        if len(cols) > MAX_ANSATZ_COLUMNS:
            return None
        mono_prog = ArbProgram(monos, ctx.params)
        rows = _ansatz_rows(program, mono_prog, cols, ctx, 2 * len(cols) + 8)
        if rows is None:
            return None
        elim = eliminate(rows)
        if not elim.dependent:
            continue
        col, before = elim.dependent[0]
        weights = _rational_weights(dependent_coefficients(rows, elim, col, before), before)
        if weights is None:
            continue
        weights[col] = Fraction(1)
        coeff: dict[int, sympy.Expr] = {}
        for k, w in weights.items():
            s, mi = cols[k]
            coeff[s] = coeff.get(s, sympy.Integer(0)) + sympy.Rational(w.numerator,
                                                                       w.denominator) * monos[mi]
        order = [s for s in support if s in coeff and coeff[s] != 0]
        normed = normalise([coeff[s] for s in order])
        terms = tuple((members[s], c) for s, c in zip(order, normed, strict=True))
        total = sympy.Add(*[c * m.expr for m, c in terms])
        if has_kinks(total):
            proof = prove_zero(piece_form(total, ctx.side))
            proof = proof and f"{proof}, on the smooth piece of the reference point"
        else:
            proof = prove_zero(total)
        if proof is not None:
            return Relation(terms, proof)
    return None


def _rational_weights(values: Sequence[arb], cols: Sequence[int]) -> dict[int, Fraction] | None:
    """-values as exact rationals (None if one is not recognisably rational)."""
    out: dict[int, Fraction] = {}
    for k, v in zip(cols, values, strict=True):
        f = _to_fraction(v)
        if f is None:
            return None
        if f:
            out[k] = -f
    return out


def _ansatz_rows(program, mono_prog, cols, ctx: AnsatzContext, count: int):
    rows: list[list[arb]] = []
    attempts = 0
    while len(rows) < count:
        attempts += 1
        if attempts > 20 * count + 50:
            return None
        x = [to_arb(v) for v in ctx.sampler.input_point(ctx.n_inputs, ctx.positive)]
        theta = [to_arb(v) for v in ctx.sampler.parameter_values(
            [ctx.positive or p for p in ctx.positive_params])]
        try:
            f = program(x + theta)
            mv = mono_prog(theta)
        except (NonSmoothPoint, ZeroDivisionError, ValueError):
            continue
        if not is_finite(f) or program.pattern != ctx.piece:
            continue
        row = [mv[mi] * f[s] for s, mi in cols]
        if all(v.is_zero() for v in row):
            continue  # e.g. every member vanishes off a relu's active side: no information
        rows.append(row)
    return rows

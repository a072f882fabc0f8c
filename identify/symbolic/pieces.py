"""Non-smooth families: their kinks, the smooth pieces, and proofs on every piece.

A family built from relu, abs, sign or Heaviside is smooth off the kinks (the zero sets
of the kink functions' arguments). A relation holds on the input domain (almost
everywhere) when it holds on every smooth piece; :func:`prove_on_pieces` proves it on every
sign assignment of the distinct kink arguments, which covers every piece whatever the
parameters (an assignment that no point realises costs a proof but never hides one).

Atoms are drawn so that every kink crosses the input domain with a fair share of it on
each side (:func:`kinks_cross`): an atom at which a relu is dead on the whole domain, or
active only on a sliver, analyses another family (the linear one, or 0), so the verdict
would depend on the draw.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from fractions import Fraction

import sympy

from identify.symbolic.arbeval import _KINKS, ArbProgram, NonSmoothPoint, piece_form, to_arb, workprec
from identify.symbolic.points import PointSampler
from identify.symbolic.proofs import prove_zero

__all__ = ["kink_arguments", "prove_on_pieces", "kinks_cross", "finite_at", "piece_count",
           "MIN_SIDE_SHARE", "MIN_PIECE_SHARE", "MAX_KINKS"]

#: each side of every kink must hold at least this share of the sampled input points
MIN_SIDE_SHARE = Fraction(1, 8)
#: proofs on pieces enumerate 2^k sign assignments; beyond this many kinks: not proved
MAX_KINKS = 8
#: a smooth piece counts when it holds this share of the inputs where F is not zero
MIN_PIECE_SHARE = Fraction(1, 16)
_SCREEN_POINTS = 160


def _canonical(z: sympy.Expr) -> tuple[sympy.Expr, int]:
    """(key, sign) with z = sign * key and key fixed under z -> -z (so |W - x| and |x - W| meet)."""
    if z.could_extract_minus_sign():
        return sympy.expand(-z), -1
    return sympy.expand(z), 1


def kink_arguments(expr: sympy.Expr) -> list[sympy.Expr]:
    """The distinct kink arguments of ``expr`` (up to sign), in a deterministic order."""
    kinds = tuple(_KINKS)
    keys = {_canonical(e.args[0])[0] for e in expr.atoms(*kinds) if e.args}
    return sorted(keys, key=sympy.default_sort_key)


def prove_on_pieces(expr: sympy.Expr) -> str | None:
    """Prove ``expr == 0`` on every smooth piece (every sign pattern of its kink arguments)."""
    keys = kink_arguments(expr)
    if not keys:
        return prove_zero(expr)
    if len(keys) > MAX_KINKS:
        return None
    names: list[str] = []
    for signs in itertools.product((1, -1), repeat=len(keys)):
        chosen = dict(zip(keys, signs, strict=True))

        def side(z: sympy.Expr, chosen: dict = chosen) -> int:
            key, s = _canonical(z)
            return chosen[key] * s

        try:
            proof = prove_zero(piece_form(expr, side))
        except KeyError:  # a kink nested inside another kink's argument: not handled
            return None
        if proof is None:
            return None
        if proof not in names:
            names.append(proof)
    pieces = 2 ** len(keys)
    return f"{'; '.join(names)}, on each of the {pieces} sign patterns of the kink argument(s)"


def kinks_cross(expr: sympy.Expr, inputs: Sequence[sympy.Symbol], params: Sequence[sympy.Symbol],
                atom: dict[sympy.Symbol, Fraction], seed: int = 0, positive: bool = False) -> bool:
    """True when, at ``atom``, every kink argument of ``expr`` takes both signs on the input
    domain, each on at least MIN_SIDE_SHARE of a fixed sample of input points."""
    keys = kink_arguments(expr)
    if not keys:
        return True
    program = ArbProgram(keys, list(inputs) + list(params))
    theta = [atom[s] for s in params]
    sampler = PointSampler(seed)
    counts = [[0, 0] for _ in keys]
    seen = 0
    with workprec(128):
        th = [to_arb(v) for v in theta]
        for _ in range(_SCREEN_POINTS):
            x = [to_arb(v) for v in sampler.input_point(len(inputs), positive)]
            try:
                values = program(x + th)
            except (NonSmoothPoint, ZeroDivisionError, ValueError):
                continue
            seen += 1
            for c, v in zip(counts, values, strict=True):
                if v > 0:
                    c[0] += 1
                elif v < 0:
                    c[1] += 1
    if not seen:
        return False
    need = MIN_SIDE_SHARE * seen
    return all(pos >= need and neg >= need for pos, neg in counts)


def finite_at(expr: sympy.Expr, inputs: Sequence[sympy.Symbol], params: Sequence[sympy.Symbol],
              atom: dict[sympy.Symbol, Fraction], seed: int = 0) -> bool:
    """True when ``expr`` is finite and real at ``atom`` on most of the input domain (or on
    most of (0, 2]^n): e.g. (b/a)**b is not real where b/a < 0, whatever the input."""
    program = ArbProgram([expr], list(inputs) + list(params))
    with workprec(128):
        th = [to_arb(atom[s]) for s in params]
        for positive in (False, True):
            sampler = PointSampler(seed)
            good = 0
            for _ in range(16):
                x = [to_arb(v) for v in sampler.input_point(len(inputs), positive)]
                try:
                    (v,) = program(x + th)
                except (NonSmoothPoint, ZeroDivisionError, ValueError):
                    continue
                good += v.is_finite()
            if good >= 12:
                return True
    return False


def piece_count(expr: sympy.Expr, inputs: Sequence[sympy.Symbol], params: Sequence[sympy.Symbol],
                atom: dict[sympy.Symbol, Fraction], seed: int = 0) -> int:
    """How many smooth pieces (sign patterns of the kink arguments) ``expr`` is nonzero on at
    ``atom``, counting those with at least MIN_PIECE_SHARE of the sampled inputs where it is
    nonzero: with a relu and the Laplace kernel, an atom whose relu is active on one side of W
    only analyses a smaller family than one whose active side straddles W."""
    keys = kink_arguments(expr)
    if not keys:
        return 1
    program = ArbProgram([*keys, expr], list(inputs) + list(params))
    sampler = PointSampler(seed + 1)
    counts: dict[tuple[int, ...], int] = {}
    with workprec(128):
        th = [to_arb(atom[s]) for s in params]
        for _ in range(_SCREEN_POINTS):
            x = [to_arb(v) for v in sampler.input_point(len(inputs))]
            try:
                *zs, f = program(x + th)
            except (NonSmoothPoint, ZeroDivisionError, ValueError):
                continue
            if not f.is_finite() or f.is_zero() or any(z.contains(0) for z in zs):
                continue
            pattern = tuple(1 if z > 0 else -1 for z in zs)
            counts[pattern] = counts.get(pattern, 0) + 1
    total = sum(counts.values())
    return sum(1 for c in counts.values() if c >= MIN_PIECE_SHARE * total)

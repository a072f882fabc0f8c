"""Collocation rows: member values at rational input points, on every smooth piece.

Shared by the analysis (the reference atom, the joint certificate) and the relation search
(the exact values at further parameter points): rows are drawn from the whole input domain
until every smooth piece met has its own ``count`` rows, so that a piece's contribution to
the rank shows even when it holds a small share of the domain.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

from flint import arb

from identify.symbolic.arbeval import ArbProgram, NonSmoothPoint, is_finite, to_arb
from identify.symbolic.points import PointSampler

__all__ = ["Collocation", "MIN_ATTEMPTS_PER_ROW"]

#: points drawn per requested row before a non-smooth family's sampling may stop
MIN_ATTEMPTS_PER_ROW = 16


class Collocation:
    """Rows of member values at rational input points of the whole input domain (every
    smooth piece of a non-smooth family), for fixed atoms."""

    def __init__(self, program: ArbProgram, n_inputs: int, sampler: PointSampler, positive: bool):
        self.program = program
        self.n_inputs = n_inputs
        self.sampler = sampler
        self.positive = positive

    def rows(self, atoms: Sequence[Sequence[Fraction]], count: int
             ) -> tuple[list[list[arb]], list[tuple[Fraction, ...]]] | None:
        """``count`` rows on every smooth piece met (so that a piece's own rank shows), or
        at least ``count`` rows in all when a piece is too rare to fill; None if fewer."""
        thetas = [[to_arb(v) for v in atom] for atom in atoms]
        rows: list[list[arb]] = []
        points: list[tuple[Fraction, ...]] = []
        per_piece: dict[tuple, int] = {}
        attempts = 0
        kinked = False
        # a non-smooth family keeps sampling long enough to meet its rarer pieces (atoms are
        # chosen so that each piece holds at least 1/16 of the inputs where F is not zero)
        while (not per_piece or min(per_piece.values()) < count
               or (kinked and attempts < MIN_ATTEMPTS_PER_ROW * count)):
            attempts += 1
            if attempts > 60 * count + 100:
                break
            x = self.sampler.input_point(self.n_inputs, self.positive)
            if x in points:
                continue
            xa = [to_arb(v) for v in x]
            row: list[arb] = []
            pattern: list[tuple[int, ...]] = []
            try:
                for theta in thetas:
                    row.extend(self.program(xa + theta))
                    pattern.append(self.program.pattern)
            except (NonSmoothPoint, ZeroDivisionError, ValueError):
                continue
            if not is_finite(row) or all(v.is_zero() for v in row):
                continue  # e.g. a dead relu's side under least squares: no information
            piece = tuple(pattern)
            kinked = kinked or any(pattern)
            if per_piece.get(piece, 0) >= count:
                continue
            per_piece[piece] = per_piece.get(piece, 0) + 1
            rows.append(row)
            points.append(x)
        return (rows, points) if len(rows) >= count else None

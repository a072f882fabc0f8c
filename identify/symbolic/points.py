"""Deterministic rational sample points: inputs and generic parameter values.

All points are exact rationals with small denominators, drawn from a seeded generator so
that an analysis is reproducible. Parameter values avoid 0 and +-1 (special values at
which a family may lose rank by accident) and are pairwise distinct across atoms.
"""

from __future__ import annotations

import random
from collections.abc import Collection, Sequence
from fractions import Fraction

import sympy

__all__ = ["PointSampler"]


class PointSampler:
    """Seeded source of rational points."""

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)

    def _rational(self, lo: float, hi: float, signed: bool) -> Fraction:
        q = self.rng.randint(5, 41)
        p = self.rng.randint(max(1, int(lo * q)), max(1, int(hi * q)))
        value = Fraction(p, q)
        if signed and self.rng.random() < 0.5:
            value = -value
        return value

    def input_point(self, n: int, positive: bool = False) -> tuple[Fraction, ...]:
        """A point of the input domain [-2, 2]^n (or (0, 2]^n)."""
        return tuple(self._rational(0.05, 2.0, not positive) for _ in range(n))

    def parameter_values(self, positive: Sequence[bool]) -> list[Fraction]:
        """One generic value per parameter; ``positive[i]`` forces the i-th to be > 0."""
        return [self.parameter_value(p) for p in positive]

    def parameter_value(self, positive: bool = False) -> Fraction:
        while True:
            v = self._rational(0.2, 1.8, not positive)
            if abs(v) != 1:
                return v

    def small_parameter_value(self, positive: bool = False) -> Fraction:
        """A value p/q with q <= 4 and 1/4 <= |p/q| <= 3, not 0 or +-1: small exact heights."""
        while True:
            q = self.rng.randint(1, 4)
            v = Fraction(self.rng.randint(1, 3 * q), q)
            if v >= Fraction(1, 4) and v != 1:
                return -v if not positive and self.rng.random() < 0.5 else v

    def atoms(self, params: Sequence[sympy.Symbol], k: int,
              positive: Collection[sympy.Symbol] = ()) -> list[dict[sympy.Symbol, Fraction]]:
        """``k`` atoms with pairwise distinct values for every parameter (``positive`` ones > 0)."""
        atoms: list[dict[sympy.Symbol, Fraction]] = [{} for _ in range(k)]
        for s in params:
            used: set[Fraction] = set()
            for atom in atoms:
                v = self.parameter_value(s in positive)
                while v in used:
                    v = self.parameter_value(s in positive)
                used.add(v)
                atom[s] = v
        return atoms

"""Column-greedy elimination in ball arithmetic.

Columns are visited in a fixed order. A column whose residual (after elimination by the
earlier pivot columns) has an entry whose ball excludes zero becomes a pivot; this is
*rigorous*: the product of the pivot balls encloses the determinant of the pivot minor,
so the pivot columns are certified linearly independent. A column whose residual balls
all contain zero is only a *candidate* dependent column: the caller must prove the
relation exactly (or report "inconclusive").

Visiting the columns in a fixed order makes the pivot set the lexicographically first
basis (the greedy basis of the column matroid), so the relation basis it induces is
canonical: each dependent column is written in terms of earlier pivot columns only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from flint import arb, arb_mat

__all__ = ["Elimination", "eliminate", "dependent_coefficients"]


@dataclass
class Elimination:
    """The outcome of :func:`eliminate`.

    Attributes
    ----------
    pivot_rows, pivot_cols:
        The certified nonsingular minor, pivots in the order found.
    pivots:
        The pivot values; their product is +-det of the minor.
    dependent:
        Candidate dependent columns, each with the pivot columns found before it.
    """

    pivot_rows: list[int] = field(default_factory=list)
    pivot_cols: list[int] = field(default_factory=list)
    pivots: list[arb] = field(default_factory=list)
    dependent: list[tuple[int, list[int]]] = field(default_factory=list)

    @property
    def rank(self) -> int:
        return len(self.pivot_cols)

    def determinant(self) -> arb:
        """A ball containing |det| of the pivot minor (nonzero: certified)."""
        d = arb(1)
        for p in self.pivots:
            d = d * p
        return abs(d)


def eliminate(A: Sequence[Sequence[arb]], order: Sequence[int] | None = None) -> Elimination:
    """Greedy left-looking elimination of the columns of ``A`` (a list of rows) in ``order``."""
    m = len(A)
    n = len(A[0]) if m else 0
    order = list(range(n)) if order is None else list(order)
    out = Elimination()
    multipliers: list[list[arb | None]] = []  # per pivot: multipliers for every row
    free_rows = set(range(m))
    for j in order:
        r = [A[i][j] for i in range(m)]
        for k, p in enumerate(out.pivot_rows):
            rp = r[p]
            lk = multipliers[k]
            for i in range(m):
                if lk[i] is not None:
                    r[i] = r[i] - lk[i] * rp
        best, best_mag = -1, None
        for i in free_rows:
            mag = abs(r[i].mid())
            if best_mag is None or mag > best_mag:
                best, best_mag = i, mag
        if best >= 0 and not r[best].contains(0):
            piv = r[best]
            free_rows.discard(best)
            multipliers.append([r[i] / piv if i in free_rows else None for i in range(m)])
            out.pivot_rows.append(best)
            out.pivot_cols.append(j)
            out.pivots.append(piv)
        else:
            out.dependent.append((j, list(out.pivot_cols)))
    return out


def dependent_coefficients(A: Sequence[Sequence[arb]], elim: Elimination, col: int,
                           before: Sequence[int]) -> list[arb]:
    """Coefficients v with A[:, col] = sum_k v_k A[:, before[k]] on the pivot rows of ``before``.

    ``before`` must be a prefix of ``elim.pivot_cols`` (the pivots found before ``col``).
    """
    if not before:
        return []
    rows = elim.pivot_rows[: len(before)]
    M = arb_mat([[A[i][c] for c in before] for i in rows])
    rhs = arb_mat([[A[i][col]] for i in rows])
    sol = M.solve(rhs)
    return [sol[k, 0] for k in range(len(before))]

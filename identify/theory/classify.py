"""The verdict from the derivation: the same coefficient systems that give the rates.

- first-order degenerate: the exact-fitted cell's first-order system (level 1) has a
  non-trivial solution: a direction is invisible even at exact fit;
- strongly identifiable: exact fit at level 1 (n^-1/2) and, in a cell of two atoms, every
  block's derived exponent, or the proved upper bound of a bounded block, is <= 2 (n^-1/4
  or faster);
- weakly identifiable: exact fit at level 1, but some block of the two-atom cell has a
  derived exponent > 2, or none was proved (solutions at every level tried);
- inconclusive: no certified expansion, or a system left undecided.

Because the level-r solvability of the cell system does not change under a smooth
invertible reparametrisation of the atom (the initial forms compose with its weighted
linear part), this verdict cannot differ between two parametrisations of one model;
the literal conditions of the papers stay reported by `check` as what they are.
"""

from __future__ import annotations

from identify.symbolic.verdict import Verdict
from identify.theory.derive import Derivation

__all__ = ["derived_verdict"]


def derived_verdict(d: Derivation) -> tuple[Verdict, str]:
    """The verdict and its reason, from the exact (m = 1) and two-atom (m = 2) cells."""
    cells = {c.cell_size: c for c in d.cells}
    if d.expansion is None or 1 not in cells or 2 not in cells:
        return Verdict.INCONCLUSIVE, "; ".join(d.notes) or "no derivation for cells 1 and 2"
    exact, two = cells[1], cells[2]
    if exact.status == "first-order degenerate":
        return Verdict.FIRST_ORDER, exact.note
    if exact.status != "derived":
        return Verdict.INCONCLUSIVE, exact.note or "the exact-fitted cell was not decided"
    es = {e.block: e.exponent for e in two.exponents}
    if two.status == "inconclusive":
        return Verdict.INCONCLUSIVE, f"the two-atom cell was not decided: {two.note}"
    bounded = [e for e in two.exponents if e.exponent is None and e.bounds]
    # a bounded block counts as <= 2 when its proved upper bound is (2 >= e >= 3/2: it is
    # n^-1/4 or faster whichever the exponent is)
    at_most_2 = {e.block for e in bounded if e.bounds[1] is not None and e.bounds[1] <= 2}
    low = [e for e in bounded if e.bounds[0] is not None and e.bounds[0] > 2]
    open_ = [e for e in bounded if e.block not in at_most_2]
    if open_ and not low:  # e.g. 2 <= e <= 4: strong (e = 2) and weak (e > 2) both open
        return Verdict.INCONCLUSIVE, ("the two-atom cell is bounded, not decided: "
                                      + ", ".join(f"{e.block} {e.kind}" for e in open_))
    at_most = all((e.exponent is not None and e.exponent <= 2) or e.block in at_most_2
                  for e in two.exponents)
    if two.status in ("derived", "partial") and at_most:
        shown = ", ".join(f"{b} {e}" if e is not None else
                          f"{b} {two.exponent(b).kind}" for b, e in es.items())
        return Verdict.STRONG, ("the first-order system has only the trivial solution (n^-1/2 at "
                                "exact fit) and every block of a two-atom cell has exponent <= 2 "
                                "(n^-1/4): " + shown)
    slow = [f"{b} {'none proved' if e is None else e}" for b, e in es.items()
            if (e is None and b not in at_most_2) or (e is not None and e > 2)]
    return Verdict.WEAK, ("n^-1/2 at exact fit (first-order system of full rank), slower in a "
                          "two-atom cell: " + ", ".join(slow))

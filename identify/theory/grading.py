"""Gradings to search: positive integer weights per parameter block.

A grading wt gives block p the loss exponent r*(wt) / wt_p, where r*(wt) is the smallest
level whose cell system has no real solution. Multiplying every weight by c multiplies
r* by c, so only gradings whose weights have gcd 1 are searched; the uniform grading comes
first, then the others by increasing total weight.
"""

from __future__ import annotations

from itertools import product
from math import gcd

from identify.theory.system import Grading

__all__ = ["gradings", "grading_text"]


def gradings(blocks: tuple[str, ...], max_weight: int = 2) -> list[Grading]:
    """Every grading with weights 1..max_weight (gcd 1), uniform first."""
    out = []
    for ws in product(range(1, max_weight + 1), repeat=len(blocks)):
        g = 0
        for w in ws:
            g = gcd(g, w)
        if g != 1:
            continue
        out.append(tuple(zip(blocks, ws, strict=True)))
    out.sort(key=lambda gr: (sum(w for _, w in gr), [w for _, w in gr]))
    return out


def grading_text(grading: Grading) -> str:
    """``beta1:1, a:2, b:1, nu:2`` (``uniform`` when every weight is 1)."""
    if all(w == 1 for _, w in grading):
        return "uniform (every block weight 1)"
    return ", ".join(f"{b}:{w}" for b, w in grading)

"""What a derivation found: the decided steps, the exponent per block, per cell size.

The data classes of :func:`identify.theory.derive.derive` (re-exported there), and
:func:`certificate_kind`, the few words of a decisive certificate shown in the rates table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from identify.model.model import Model
from identify.theory.expansion import Expansion
from identify.theory.system import Grading

__all__ = ["Step", "BlockExponent", "CellDerivation", "Derivation", "certificate_kind"]


@dataclass(frozen=True)
class Step:
    """One decided system: grading, level, the decision."""

    grading: Grading
    level: int
    status: str
    certificate: str
    seconds: float
    equations: int
    assumes: str = ""  # status CONDITIONAL: the cited claim it rests on

    def to_dict(self) -> dict:
        return {"grading": dict(self.grading), "level": self.level, "status": self.status,
                "certificate": self.certificate, "seconds": round(self.seconds, 3),
                "equations": self.equations, "assumes": self.assumes}


@dataclass(frozen=True)
class BlockExponent:
    """The exponent proved for one block in cells of one size (None: none proved)."""

    block: str
    exponent: Fraction | None
    grading: Grading | None
    level: int | None
    proof: str
    kind: str = ""  # the certificate's kind in a few words (the proof has the whole of it)
    assumes: str = ""  # a cited claim the exponent rests on ("" = every step machine-checked)
    # no exponent, but proved bounds (lo, hi) on it; None on a side = no bound proved there
    bounds: tuple[Fraction | None, Fraction | None] | None = None

    def to_dict(self) -> dict:
        return {"block": self.block, "exponent": None if self.exponent is None else
                str(self.exponent), "grading": None if self.grading is None else
                dict(self.grading), "level": self.level, "proof": self.proof,
                "certificate_kind": self.kind, "assumes": self.assumes,
                "machine_checked": not self.assumes,
                "bounds": None if self.bounds is None else
                [None if v is None else str(v) for v in self.bounds]}


def certificate_kind(certificate: str) -> str:
    """A few words for a decisive "no solution" certificate of `decide`: ``z3+cvc5 unsat``;
    of the r-bar reduction: ``reduced to r-bar(3), upper bound cited``."""
    if certificate.startswith("reduced to r-bar"):
        m = certificate.split("r-bar system of ", 1)[1].split(" ", 1)[0]
        cited = "so no solution, conditional" in certificate
        return f"reduced to r-bar({m})" + (", upper bound cited" if cited else
                                           " (decided by machine)")
    if certificate.startswith("unsat from"):
        solvers = sorted(certificate[len("unsat from "):].split(" (")[0].split(" and "),
                         key=lambda n: (n != "z3", n))
        cross = "" if "(cross-checked)" in certificate else " (not cross-checked)"
        return "+".join(solvers) + " unsat" + cross
    return certificate.split(";")[0][:60]


@dataclass(frozen=True)
class CellDerivation:
    """What was derived for cells of ``cell_size`` atoms."""

    cell_size: int
    exponents: tuple[BlockExponent, ...]
    steps: tuple[Step, ...]
    # "derived" | DERIVED_CITED % m | "partial" | "no finite r" | "inconclusive" |
    # "first-order degenerate"
    status: str
    note: str = ""

    def exponent(self, block: str) -> BlockExponent:
        return next(e for e in self.exponents if e.block == block)

    def to_dict(self) -> dict:
        return {"cell_size": self.cell_size, "status": self.status, "note": self.note,
                "exponents": [e.to_dict() for e in self.exponents],
                "steps": [s.to_dict() for s in self.steps]}


@dataclass(frozen=True)
class Derivation:
    """The derived exponents of a model, per cell size, with the expansion they rest on."""

    model: Model
    expansion: Expansion | None
    cells: tuple[CellDerivation, ...]
    notes: tuple[str, ...] = field(default=())
    seconds: float = 0.0

    def cell(self, m: int) -> CellDerivation:
        return next(c for c in self.cells if c.cell_size == m)

    def to_dict(self) -> dict:
        return {"expansion": None if self.expansion is None else self.expansion.to_dict(),
                "cells": [c.to_dict() for c in self.cells], "notes": list(self.notes),
                "seconds": round(self.seconds, 3),
                "provenance": "[D] derived for this project: the limit argument of "
                              "arXiv:2305.03288 / 2402.02952 with initial forms under a grading "
                              "(weighted-homogeneous gradings give the papers' own systems)"}

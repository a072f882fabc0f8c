"""Voronoi cells and losses between a fitted and a true mixing measure (theory.md section 2).

Cell of true atom j: the fitted atoms whose non-weight parameters are closer to atom j than
to any other true atom. The loss

    D = sum_j |sum_{i in A_j} w_i - w*_j|
        + sum_{j: |A_j| = 1} sum_{i in A_j} w_i sum_p |Delta p_ij|
        + sum_{j: |A_j| > 1} sum_{i in A_j} w_i sum_p |Delta p_ij|^{e_p}

with w = exp(beta0) (softmax-type gates; fitted weights rescaled by a common factor so the
totals agree, which softmax invariance allows), p over parameter blocks (|.| Euclidean),
e_p the block's exponent on over-specified cells. Shared parameters (the temperature) add
|Delta tau| once. Sigmoid gates have no weights: the weight term is dropped, w = 1.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from identify.numeric.compile import NumericModel

__all__ = ["VoronoiResult", "voronoi"]


@dataclass(frozen=True)
class VoronoiResult:
    """Cells, losses and per-block errors of one fit."""

    cells: tuple[tuple[int, ...], ...]      # fitted atom indices per true atom
    losses: dict[str, float]                # "D1", "D2", and "Dpred" when exponents given
    block_errors: dict[str, float]          # "exact:<block>", "over:<block>", "shared:<name>"

    @property
    def cell_sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.cells)

    def to_dict(self) -> dict:
        return {"cells": [list(c) for c in self.cells], "cell_sizes": list(self.cell_sizes),
                "losses": dict(self.losses), "block_errors": dict(self.block_errors)}


def _blocks(nm: NumericModel) -> dict[str, list[int]]:
    """Block name -> column indices in the per-atom vector (weight excluded)."""
    out: dict[str, list[int]] = {}
    for j, s in enumerate(nm.atom_syms):
        if s.name == "beta0" and nm.gate.normaliser != "sigmoid":
            continue
        out.setdefault(nm.block_of.get(s.name, s.name), []).append(j)
    return out


def _pinned(nm: NumericModel, atom: int, block: str) -> bool:
    return any(not sl.free and sl.atom == atom and sl.block == block for sl in nm.slots)


def voronoi(nm_fit: NumericModel, theta_fit: np.ndarray, nm_true: NumericModel,
            theta_true: np.ndarray, over_exponents: Mapping[str, float] | None = None
            ) -> VoronoiResult:
    """Voronoi cells, the losses D1 (exponent 1), D2 (exponent 2 on over-specified cells),
    Dpred (``over_exponents`` per block, when given) and per-block errors."""
    A, sh = nm_fit.split(nm_fit.full(theta_fit))
    At, sht = nm_true.split(nm_true.full(theta_true))
    blocks = _blocks(nm_fit)
    cols = [c for idx in blocks.values() for c in idx]
    dist = np.linalg.norm(A[:, None, cols] - At[None, :, cols], axis=2)
    owner = np.argmin(dist, axis=1)
    cells = tuple(tuple(int(i) for i in np.flatnonzero(owner == j)) for j in range(len(At)))
    weighted = nm_fit.gate.normaliser != "sigmoid"
    if weighted:
        b0 = [s.name for s in nm_fit.atom_syms].index("beta0")
        w, wt = np.exp(A[:, b0]), np.exp(At[:, b0])
        w = w * wt.sum() / w.sum()
    else:
        w, wt = np.ones(len(A)), np.ones(len(At))
    exps = {"D1": {b: 1.0 for b in blocks}, "D2": {b: 2.0 for b in blocks}}
    if over_exponents is not None and all(over_exponents.get(b) for b in blocks):
        exps["Dpred"] = {b: float(over_exponents[b]) for b in blocks}
    losses = {name: 0.0 for name in exps}
    errs: dict[str, list[float]] = {}
    for j, cell in enumerate(cells):
        for name in exps:
            if weighted:
                losses[name] += abs(w[list(cell)].sum() - wt[j]) if cell else wt[j]
        over = len(cell) > 1
        for b, idx in blocks.items():
            deltas = [float(np.linalg.norm(A[i, idx] - At[j, idx])) for i in cell]
            for name, e in exps.items():
                power = e[b] if over else 1.0
                losses[name] += sum(w[i] * d**power for i, d in zip(cell, deltas, strict=True))
            # pinned parameters (the softmax reference atom) are exact by construction
            free = [d for i, d in zip(cell, deltas, strict=True) if not _pinned(nm_fit, i, b)]
            if free:
                errs.setdefault(f"{'over' if over else 'exact'}:{b}", []).append(max(free))
    for s, a, t in zip(nm_fit.shared_syms, sh, sht, strict=True):
        for name in losses:
            losses[name] += abs(a - t)
        errs[f"shared:{s.name}"] = [abs(float(a - t))]
    block_errors = {k: float(np.mean(v)) for k, v in errs.items()}
    return VoronoiResult(cells, {k: float(v) for k, v in losses.items()}, block_errors)

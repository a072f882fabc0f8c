"""Voronoi cells and losses between a fitted and a true mixing measure (theory.md section 2).

Cell A_j of true atom j: the fitted atoms whose non-weight parameters are closer to atom j
than to any other true atom. With w = exp(beta0) (softmax-type gates) the losses are

    D1 = sum_j |sum_{i in A_j} w_i - w*_j| + sum_j sum_{i in A_j} w_i sum_p |Delta p_ij|
    D2 = sum_j |sum_{i in A_j} w_i - w*_j|
         + sum_{j: |A_j| = 1} sum_{i in A_j} w_i sum_p |Delta p_ij|
         + sum_{j: |A_j| > 1} sum_{i in A_j} w_i sum_p |Delta p_ij|^{e_p}

with p over the parameter blocks (|.| Euclidean) and e_p the loss exponent the rate
prediction gives block p in an over-specified cell (``identify.theory.predict``: 2 for
strongly identifiable experts, the r-tilde exponents 4, 4, 2, 2 for beta1, b, a, nu of the
softmax Gaussian MoE with linear experts). D2 is defined only when every block's exponent is
a number. Shared parameters (the temperature) add |Delta tau| once. Sigmoid gates have no
weights: the weight term is dropped and w = 1.

The weights are compared as they are, without rescaling, in the convention of the fitted
and the true model alike: the last atom is the softmax reference (beta0 = 0). That
convention is the truth's only when the fitted reference atom is alone in the true
reference atom's cell; otherwise (an over-specified reference cell, or the reference atom
in another cell) softmax invariance makes the fitted weights a common factor c = exp(t) off
the truth's, and the loss is taken at the translation t that minimises the weight term
(a weighted median, exact), recorded as ``translation`` in the result.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from identify.numeric.compile import NumericModel

__all__ = ["VoronoiResult", "voronoi", "voronoi_cells", "atom_weights"]


@dataclass(frozen=True)
class VoronoiResult:
    """Cells, losses, per-block errors and weights of one fit."""

    cells: tuple[tuple[int, ...], ...]      # fitted atom indices per true atom
    losses: dict[str, float]                # "D1", and "D2" when every exponent is a number
    block_errors: dict[str, float]          # "exact:<block>", "over:<block>", "shared:<name>",
                                            # "over@<j>:<block>" (over-specified cell at atom j)
    weights: tuple[float, ...] = ()         # fitted w_i as compared (after the translation)
    translation: float = 0.0                # log c: 0 unless the reference cell needed it

    @property
    def cell_sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.cells)

    def to_dict(self) -> dict:
        return {"cells": [list(c) for c in self.cells], "cell_sizes": list(self.cell_sizes),
                "losses": dict(self.losses), "block_errors": dict(self.block_errors),
                "translation": self.translation}


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


def voronoi_cells(nm_fit: NumericModel, A: np.ndarray, At: np.ndarray
                  ) -> tuple[tuple[int, ...], ...]:
    """Fitted atom indices per true atom, by Euclidean distance of the non-weight parameters."""
    cols = [c for idx in _blocks(nm_fit).values() for c in idx]
    dist = np.linalg.norm(A[:, None, cols] - At[None, :, cols], axis=2)
    owner = np.argmin(dist, axis=1)
    return tuple(tuple(int(i) for i in np.flatnonzero(owner == j)) for j in range(len(At)))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, 0.5 * cum[-1])])


def atom_weights(nm_fit: NumericModel, A: np.ndarray, At: np.ndarray,
                 cells: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """(fitted w, true w*, translation log c) as the losses compare them (module docstring)."""
    if nm_fit.gate.normaliser == "sigmoid":
        return np.ones(len(A)), np.ones(len(At)), 0.0
    b0 = [s.name for s in nm_fit.atom_syms].index("beta0")
    w, wt = np.exp(A[:, b0]), np.exp(At[:, b0])
    ref = len(A) - 1
    if cells[-1] == (ref,) or not _pinned(nm_fit, ref, "beta0"):
        return w, wt, 0.0
    sums = np.array([w[list(c)].sum() for c in cells])
    used = sums > 0
    c = _weighted_median(wt[used] / sums[used], sums[used]) if used.any() else 1.0
    return w * c, wt, float(np.log(c))


def voronoi(nm_fit: NumericModel, theta_fit: np.ndarray, nm_true: NumericModel,
            theta_true: np.ndarray, over_exponents: Mapping[str, float | None] | None = None
            ) -> VoronoiResult:
    """Voronoi cells, the losses D1 and D2 (``over_exponents`` per block on over-specified
    cells, when every block has a number) and per-block errors."""
    A, sh = nm_fit.split(nm_fit.full(theta_fit))
    At, sht = nm_true.split(nm_true.full(theta_true))
    blocks = _blocks(nm_fit)
    cells = voronoi_cells(nm_fit, A, At)
    w, wt, shift = atom_weights(nm_fit, A, At, cells)
    weighted = nm_fit.gate.normaliser != "sigmoid"
    exps = {"D1": {b: 1.0 for b in blocks}}
    if over_exponents is not None and all(over_exponents.get(b) for b in blocks):
        exps["D2"] = {b: float(over_exponents[b]) for b in blocks}
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
                if over:  # the same error stratified by the over-specified true atom
                    errs.setdefault(f"over@{j + 1}:{b}", []).append(max(free))
    for s, a, t in zip(nm_fit.shared_syms, sh, sht, strict=True):
        for name in losses:
            losses[name] += abs(a - t)
        errs[f"shared:{s.name}"] = [abs(float(a - t))]
    block_errors = {k: float(np.mean(v)) for k, v in errs.items()}
    return VoronoiResult(cells, {k: float(v) for k, v in losses.items()}, block_errors,
                         tuple(float(x) for x in w), shift)

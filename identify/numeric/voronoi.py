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
and the true model alike: the last atom is the softmax reference (beta0 = beta1 = 0). That
convention is the truth's only when the fitted reference atom is alone in the true
reference atom's cell; otherwise (an over-specified reference cell, or the reference atom
in another cell) the pinned atom is an arbitrary member of its cell, and the fit is
compared with the truth up to the softmax's translation invariance, as the papers identify
it: the fitted gates (beta0_i, beta1_i) are moved by a common shift (t0, t1), the same
mixture. t1 is the weighted mean of beta1*_j - beta1_i over the fitted atoms, weighted
by each atom's share of the mixture (its mean gate over the input distribution; w_i when
no inputs are given, and for hierarchical density mixtures), recorded as ``shifts``: an
atom of vanishing share does not move it, nor does a steep gate whose exp(beta0) is huge.
It is not the minimiser of D1's or D2's beta1 part: those put t1 exactly on one atom's
difference, whose error would then be exactly 0. t0 = log c minimises the weight term (a
weighted median, exact), recorded as ``translation``. The cells are those of the fitted
parameters as they are.

Per-block errors: in an exact cell |Delta p_ij| (``exact:<block>``, mean over exact cells;
an untranslated pinned parameter is exact by construction and left out); in an
over-specified cell the block's share of D2 as a weighted power mean,

    E_pj = ( sum_{i in A_j} w_i |Delta p_ij|^{e_p} / sum_{i in A_j} w_i )^(1/e_p)

(``over:<block>``, mean over over-specified cells; ``over@<j>:<block>`` per true atom j;
e_p = 2 when the prediction has no number), which decays like n^-1/(2 e_p) when D2 decays
like n^-1/2. Not the largest |Delta p_ij| of the cell: the over-fitted MLE often leaves
one atom of the cell with a vanishing weight, whose parameters it does not estimate, and
neither D2 nor the papers' rates bound them (docs/reproductions.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from identify.numeric.compile import NumericModel
from identify.numeric.relabel import relabel

__all__ = ["VoronoiResult", "voronoi", "voronoi_cells", "atom_weights", "align", "gate_shares"]


@dataclass(frozen=True)
class VoronoiResult:
    """Cells, losses, per-block errors and weights of one fit."""

    cells: tuple[tuple[int, ...], ...]      # fitted atom indices per true atom
    losses: dict[str, float]                # "D1", and "D2" when every exponent is a number
    block_errors: dict[str, float]          # "exact:<block>", "over:<block>", "shared:<name>",
                                            # "over@<j>:<block>" (over-specified cell at atom j)
    weights: tuple[float, ...] = ()         # fitted w_i as compared (after the translation)
    translation: float = 0.0                # log c: 0 unless the reference cell needed it
    shifts: dict[str, list[float]] = field(default_factory=dict)  # gate block -> its shift t

    @property
    def cell_sizes(self) -> tuple[int, ...]:
        return tuple(len(c) for c in self.cells)

    def to_dict(self) -> dict:
        return {"cells": [list(c) for c in self.cells], "cell_sizes": list(self.cell_sizes),
                "losses": dict(self.losses), "block_errors": dict(self.block_errors),
                "translation": self.translation, "shifts": dict(self.shifts)}


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


#: pinned gate blocks whose common additive shift leaves every gate unchanged (the score is
#: linear in them with a coefficient free of the atom's parameters: softmax, temperature)
_SHIFTED = ("beta1",)


def voronoi_cells(nm_fit: NumericModel, A: np.ndarray, At: np.ndarray
                  ) -> tuple[tuple[int, ...], ...]:
    """Fitted atom indices per true atom, by Euclidean distance of the non-weight parameters."""
    cols = [c for idx in _blocks(nm_fit).values() for c in idx]
    A = relabel(nm_fit, A, At, cols)
    dist = np.linalg.norm(A[:, None, cols] - At[None, :, cols], axis=2)
    owner = np.argmin(dist, axis=1)
    return tuple(tuple(int(i) for i in np.flatnonzero(owner == j)) for j in range(len(At)))


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, 0.5 * cum[-1])])


def _translated(nm_fit: NumericModel, cells: tuple[tuple[int, ...], ...]) -> bool:
    """Whether the fit is compared up to translation (module docstring)."""
    ref = nm_fit.k - 1
    return nm_fit.gate.normaliser != "sigmoid" and cells[-1] != (ref,) and \
        _pinned(nm_fit, ref, "beta0")


def atom_weights(nm_fit: NumericModel, A: np.ndarray, At: np.ndarray,
                 cells: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """(fitted w, true w*, translation log c) as the losses compare them (module docstring)."""
    if nm_fit.gate.normaliser == "sigmoid":
        return np.ones(len(A)), np.ones(len(At)), 0.0
    b0 = [s.name for s in nm_fit.atom_syms].index("beta0")
    w, wt = np.exp(A[:, b0]), np.exp(At[:, b0])
    if not _translated(nm_fit, cells):
        return w, wt, 0.0
    sums = np.array([w[list(c)].sum() for c in cells])
    used = sums > 0
    c = _weighted_median(wt[used] / sums[used], sums[used]) if used.any() else 1.0
    return w * c, wt, float(np.log(c))


def _shift(d: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The weighted mean of the differences d_i (rows), weights w_i: argmin_t sum_i w_i
    |d_i - t|^2. Smooth in the fit and equivariant under a common shift; an L1 or D2-type
    criterion would put t exactly on one atom's difference (a kink), making that atom's
    error exactly 0 and its logarithm meaningless."""
    return (w / w.sum()) @ d


def gate_shares(nm_fit: NumericModel, theta_fit: np.ndarray, inputs) -> np.ndarray:
    """Each fitted atom's mean gate value over the input distribution (quadrature nodes of
    `identify.numeric.experts.quadrature`): its share of the mixture."""
    from identify.numeric.experts import quadrature

    X, W = quadrature(inputs, nm_fit.model.dim)
    return W @ nm_fit.parts(X, nm_fit.full(theta_fit))[1]


def align(nm_fit: NumericModel, A: np.ndarray, At: np.ndarray,
          shares: np.ndarray | None = None
          ) -> tuple[tuple[tuple[int, ...], ...], np.ndarray, dict[str, list[float]]]:
    """(cells, A shifted, shifts per block): the fitted atoms, moved by a common gate shift
    when the fit is compared up to translation (module docstring); cells from the fitted
    parameters as they are.

    The shift t of a pinned gate block (beta1) is the weighted mean of beta1*_j - beta1_i
    over the fitted atoms i in the cells A_j, weighted by the atoms' ``shares`` of the
    mixture (`gate_shares`; exp(beta0_i) when not given): softmax gates are unchanged by
    it. An atom of vanishing share does not move it, nor does a steep gate's large beta0."""
    blocks = _blocks(nm_fit)
    cells = voronoi_cells(nm_fit, A, At)
    if not _translated(nm_fit, cells):
        return cells, A, {}
    if shares is None:
        b0 = [s.name for s in nm_fit.atom_syms].index("beta0")
        shares = np.exp(A[:, b0] - A[:, b0].max())
    out, shifts = A.copy(), {}
    owner = [j for i in range(len(A)) for j, c in enumerate(cells) if i in c]
    for b in _SHIFTED:
        if b in blocks and _pinned(nm_fit, nm_fit.k - 1, b):
            idx = blocks[b]
            t = _shift(At[owner][:, idx] - A[:, idx], np.asarray(shares, float))
            out[:, idx] = A[:, idx] + t
            shifts[b] = [float(v) for v in t]
    return cells, out, shifts


def voronoi(nm_fit: NumericModel, theta_fit: np.ndarray, nm_true: NumericModel,
            theta_true: np.ndarray, over_exponents: Mapping[str, float | None] | None = None,
            inputs=None) -> VoronoiResult:
    """Voronoi cells, the losses D1 and D2 (``over_exponents`` per block on over-specified
    cells, when every block has a number) and per-block errors (module docstring).
    ``inputs`` (an `identify.numeric.truth.InputSpec`): the gate shares that weight the
    translation; without it (and for density mixtures) exp(beta0)."""
    A, sh = nm_fit.split(nm_fit.full(theta_fit))
    At, sht = nm_true.split(nm_true.full(theta_true))
    blocks = _blocks(nm_fit)
    # a hierarchical group is compared in its labelling nearest the truth (numeric/relabel.py)
    A = relabel(nm_fit, A, At, [c for idx in blocks.values() for c in idx])
    shares = (None if inputs is None or nm_fit.density  # a density mixture: gates need y
              else gate_shares(nm_fit, theta_fit, inputs))
    cells, A, shifts = align(nm_fit, A, At, shares)
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
            deltas = np.array([float(np.linalg.norm(A[i, idx] - At[j, idx])) for i in cell])
            for name, e in exps.items():
                power = e[b] if over else 1.0
                losses[name] += float(np.sum(w[list(cell)] * deltas**power))
            if over:  # the block's share of D2 in this cell, as a weighted power mean
                e_b = float((over_exponents or {}).get(b) or 2.0)
                wc = w[list(cell)] / w[list(cell)].sum()
                err = float(np.sum(wc * deltas**e_b) ** (1.0 / e_b))
                errs.setdefault(f"over:{b}", []).append(err)
                errs.setdefault(f"over@{j + 1}:{b}", []).append(err)  # stratified by atom j
                continue
            # untranslated, the pinned parameters (the softmax reference atom) are exact by
            # construction and say nothing about the estimator
            if cell and (shifts or not _pinned(nm_fit, cell[0], b)):
                errs.setdefault(f"exact:{b}", []).append(float(deltas[0]))
    for s, a, t in zip(nm_fit.shared_syms, sh, sht, strict=True):
        for name in losses:
            losses[name] += abs(a - t)
        errs[f"shared:{s.name}"] = [abs(float(a - t))]
    block_errors = {k: float(np.mean(v)) for k, v in errs.items()}
    return VoronoiResult(cells, {k: float(v) for k, v in losses.items()}, block_errors,
                         tuple(float(x) for x in w), shift, shifts)

"""Expert estimation: how far the fitted experts are from the true ones, per Voronoi cell.

For a fitted atom i in the cell A_j of true atom j, the distance between the expert
functions h(., eta_i) and h(., eta*_j) in two norms:

    L2:  ( integral (h(x, eta_i) - h(x, eta*_j))^2 dP(x) )^(1/2)   over the input distribution
    sup: max over the input domain of |h(x, eta_i) - h(x, eta*_j)|

computed deterministically on fixed nodes (no Monte Carlo): Gauss-Legendre quadrature for a
uniform (or grid: its uniform limit) design on [low, high]^d, Gauss-Hermite per component for
a Gaussian mixture; the sup on an equally spaced grid of the box [low, high]^d (Gaussian
mixture: means +- 4 sd). Weighted like the Voronoi loss:

    E = sum_{j: |A_j| = 1} sum_{i in A_j} w_i d_ij + sum_{j: |A_j| > 1} sum_{i in A_j} w_i d_ij^e

with e the largest loss exponent of the expert blocks in an over-specified cell, and the
per-cell errors ``exact:<norm>`` (d_ij, mean over exact cells) and ``over:<norm>`` (the
cell's share of E as a weighted power mean, (sum_{i in A_j} w_i d_ij^e / sum_{i in A_j}
w_i)^(1/e), mean over over-specified cells). The largest d_ij of a cell is not used: the
over-fitted estimator often leaves one atom of the cell with a vanishing weight whose expert
it does not estimate at all (docs/reproductions.md), and neither E nor the theory bounds it.

Predicted rates: where h is Lipschitz in eta on compact sets, d_ij <= L |eta_i - eta*_j|, so
the experts inherit their parameters' rates: n^-1/2 in exact cells, n^-1/(2e) in an
over-specified one, and E (like D2) n^-1/2. `lipschitz` decides it syntactically from the
derivatives dh/deta (built from everywhere-bounded pieces on compacts: polynomials, exp,
tanh, sigmoid, softplus, erf, sin, cos, relu, whose derivative Heaviside is bounded though
relu has a kink); otherwise no rate is predicted and the reason is said.

The regression function itself, f_G(x) = sum_i g_i(x) h(x, eta_i), is measured too
(`regression_error`): ``L2`` = ( integral (f_Ghat(x) - f_G*(x))^2 dP(x) )^(1/2) on the same
quadrature. Least squares estimates it at the parametric rate, O(sqrt(log n / n)), whether
the mixture is exactly or over-fitted (arXiv:2402.02952, Theorem 1; recalled, not checked
against the text), so its predicted slope is -1/2 at every fitted k. It tells an estimator
that is not consistent from one whose atoms are not yet near the truth although the
function is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy

from identify.numeric.compile import NumericModel
from identify.numeric.truth import InputSpec
from identify.numeric.voronoi import atom_weights, voronoi_cells

__all__ = ["ExpertErrors", "expert_errors", "regression_error", "quadrature", "sup_grid",
           "lipschitz", "NORMS"]

NORMS = ("L2", "sup")
_QUAD = {1: 64, 2: 20, 3: 8}   # Gauss nodes per coordinate
_GRID = {1: 2001, 2: 101, 3: 31}  # sup-grid points per coordinate
_SMOOTH = {"exp", "sin", "cos", "tanh", "sigmoid", "softplus", "erf", "erfc", "relu",
           "Heaviside", "atan", "sign", "Abs"}


@dataclass(frozen=True)
class ExpertErrors:
    """Per-norm weighted losses and per-cell errors of one fit."""

    losses: dict[str, float]   # "L2", "sup" (absent for over-fitted k without an exponent)
    cells: dict[str, float]    # "exact:L2", "over:sup", ...

    def to_dict(self) -> dict:
        return {"losses": dict(self.losses), "cells": dict(self.cells)}


def _tensor(nodes: np.ndarray, weights: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    grids = np.meshgrid(*([nodes] * dim), indexing="ij")
    X = np.column_stack([g.ravel() for g in grids])
    W = np.ones(X.shape[0])
    for g in np.meshgrid(*([weights] * dim), indexing="ij"):
        W = W * g.ravel()
    return X, W / W.sum()


@lru_cache(maxsize=16)
def _quadrature(spec_key: tuple, dim: int) -> tuple[np.ndarray, np.ndarray]:
    kind, low, high, means, sds, mix = spec_key
    m = _QUAD.get(dim, 4)
    if kind == "gaussian-mixture":
        t, om = np.polynomial.hermite.hermgauss(m)
        mix = np.asarray(mix, float) / np.sum(mix)
        nodes = np.concatenate([mu + sd * np.sqrt(2.0) * t for mu, sd in zip(means, sds,
                                                                            strict=True)])
        weights = np.concatenate([p * om / np.sqrt(np.pi) for p in mix])
    else:
        t, om = np.polynomial.legendre.leggauss(m)
        nodes = 0.5 * (high - low) * t + 0.5 * (high + low)
        weights = om
    return _tensor(nodes, weights, dim)


def _key(spec: InputSpec) -> tuple:
    return (spec.kind, spec.low, spec.high, tuple(spec.means), tuple(spec.sds),
            tuple(spec.weights))


def quadrature(spec: InputSpec, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (m x d) and weights (summing to 1) of the input distribution, fixed."""
    return _quadrature(_key(spec), dim)


def sup_grid(spec: InputSpec, dim: int) -> np.ndarray:
    """The equally spaced grid the sup norm is taken on (m x d)."""
    if spec.kind == "gaussian-mixture":
        low = min(mu - 4 * sd for mu, sd in zip(spec.means, spec.sds, strict=True))
        high = max(mu + 4 * sd for mu, sd in zip(spec.means, spec.sds, strict=True))
    else:
        low, high = spec.low, spec.high
    axis = np.linspace(low, high, _GRID.get(dim, 11))
    return _tensor(axis, np.ones_like(axis), dim)[0]


def lipschitz(nm: NumericModel) -> str:
    """The empty string when h is Lipschitz in its parameters on compact sets (shown from
    dh/deta), else the reason it is not shown."""
    if nm.density:
        return "the group's component is a density in y, not an expert function of x"
    h = nm.model.expert.expr
    for s in nm.expert_syms:
        bad = _unbounded(sympy.diff(h, s))
        if bad:
            return (f"dh/d{s.name} contains {bad}, not bounded on compact sets: h is not shown "
                    f"to be Lipschitz in {s.name}, so the experts need not inherit its rate")
    return ""


def _unbounded(expr: sympy.Expr) -> str:
    """The first piece of ``expr`` that may be unbounded on a compact set ("" if none)."""
    for node in sympy.preorder_traversal(expr):
        if isinstance(node, sympy.Pow):
            base, e = node.args
            if base.free_symbols and not (e.is_Integer and e >= 0):
                return str(node)
        elif isinstance(node, sympy.Function):
            name = type(node).__name__
            if name == "DiracDelta":
                return f"{node} (h jumps)"
            if name not in _SMOOTH:
                return str(node)
    return ""


def _values(nm: NumericModel, X: np.ndarray, atoms: np.ndarray, shared: np.ndarray
            ) -> np.ndarray:
    """h(x_m, eta_i) for every node m and atom i (m x k)."""
    return np.column_stack([np.broadcast_to(nm._call(nm._h, X, a, shared), (X.shape[0],))
                            for a in atoms])


def expert_errors(nm_fit: NumericModel, theta_fit: np.ndarray, nm_true: NumericModel,
                  theta_true: np.ndarray, inputs: InputSpec,
                  over_exponent: float | None = None) -> ExpertErrors:
    """Distances between fitted and true experts per Voronoi cell (module docstring).

    Parameters
    ----------
    nm_fit, theta_fit, nm_true, theta_true:
        The fitted and the true mixture (as for `identify.numeric.voronoi.voronoi`).
    inputs:
        The input distribution (quadrature for L2) and domain (grid for the sup norm).
    over_exponent:
        The exponent e of the over-specified cells in the weighted loss (the largest of the
        expert blocks'); None leaves the loss out when some cell is over-specified.
    """
    A, sh = nm_fit.split(nm_fit.full(theta_fit))
    At, sht = nm_true.split(nm_true.full(theta_true))
    cells = voronoi_cells(nm_fit, A, At)  # the cells of the parameter losses
    w, _, _ = atom_weights(nm_fit, A, At, cells)
    dim = nm_fit.model.dim
    Xq, Wq = quadrature(inputs, dim)
    Xs = sup_grid(inputs, dim)
    dist = {}
    for norm, X in (("L2", Xq), ("sup", Xs)):
        H, Ht = _values(nm_fit, X, A, sh), _values(nm_true, X, At, sht)
        diff = H[:, :, None] - Ht[:, None, :]          # m x k x k*
        dist[norm] = (np.sqrt(np.einsum("m,mij->ij", Wq, diff**2)) if norm == "L2"
                      else np.max(np.abs(diff), axis=0))
    losses: dict[str, float] = {}
    per: dict[str, list[float]] = {}
    over_any = any(len(c) > 1 for c in cells)
    for norm, d in dist.items():
        total = 0.0
        for j, cell in enumerate(cells):
            over = len(cell) > 1
            e = over_exponent if over else 1.0
            if e is not None:
                total += sum(w[i] * d[i, j] ** e for i in cell)
            if over:  # the cell's share of the loss, as a weighted power mean
                e_c = over_exponent or 2.0
                wc = w[list(cell)] / w[list(cell)].sum()
                per.setdefault(f"over:{norm}", []).append(
                    float(np.sum(wc * d[list(cell), j] ** e_c) ** (1.0 / e_c)))
            elif cell:
                per.setdefault(f"exact:{norm}", []).append(float(d[cell[0], j]))
        if over_exponent is not None or not over_any:
            losses[norm] = float(total)
    return ExpertErrors(losses, {k: float(np.mean(v)) for k, v in per.items()})


def regression_error(nm_fit: NumericModel, theta_fit: np.ndarray, nm_true: NumericModel,
                     theta_true: np.ndarray, inputs: InputSpec) -> float:
    """The L2(P) distance between the fitted and the true regression functions (module
    docstring), on the fixed quadrature of the input distribution."""
    if nm_fit.density:
        raise ValueError("a density mixture has no regression function of x alone")
    Xq, Wq = quadrature(inputs, nm_fit.model.dim)
    diff = nm_fit.predict(Xq, theta_fit) - nm_true.predict(Xq, theta_true)
    return float(np.sqrt(np.sum(Wq * diff**2)))


def over_expert_exponent(over: Mapping[str, float | None], nm: NumericModel) -> float | None:
    """The largest over-specified exponent among the expert's blocks (None if any is None)."""
    names = {nm.block_of.get(s.name, s.name) for s in nm.expert_syms}
    vals = [over.get(b) for b in names]
    if not vals or any(v is None for v in vals):
        return None
    return float(max(vals))

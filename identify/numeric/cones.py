"""Stationarity at the Laplace gate's cone points (input dimension d > 1).

In d > 1 the score s_i(x) = beta0_i - ||W_i - x|| is smooth in W_i except where W_i equals a
data input x_m, where it has a cone point. Near such a point the objective F (-log-likelihood
/ n, or RSS / n) is locally

    F(theta) = smooth(theta) + w_i ||W_i - x_m||,   w_i = -(1/n) sum_{x_j = x_m} df_j/ds_i,

the weight as in :mod:`identify.numeric.kinks` (responsibilities or residuals at the
observations on the cone). The directional derivative along (d_W, d_rest) is
g_W . d_W + w_i ||d_W|| + g_rest . d_rest, with g_W the smooth part's W_i-gradient (the
observations off the cone). For w_i >= 0 theta is stationary in W_i exactly when
||g_W|| <= w_i; the residual max(0, ||g_W|| - w_i) is the distance of 0 to the
subdifferential g_W + w_i * ball. For w_i < 0 (a concave cone) every direction descends
unless g_W = 0 and w_i = 0: the residual is ||g_W|| + |w_i|.

The compiled gradient is 0/0 at a cone point, so a fit that stalls next to one is taken
there: every W_i within ``SNAP`` of a data input is put on it, held there while Newton
finishes the other coordinates, and the whole point is certified. The fit keeps the snapped
point only if its objective is not worse and the certificate passes; otherwise the smooth
phase's answer stands (an honest "failed" or "budget"). No clock, fixed order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from identify.numeric.compile import NumericModel
from identify.numeric.kinks import KinkCertificate, score_weight
from identify.numeric.newton import newton_minimise, projected_gradient

__all__ = ["ConeSet", "cone_set", "cone_phase", "SNAP"]

#: a centre this close to a data input (relative to max(1, |x|)) is tried on it
SNAP = 1e-6


@dataclass(frozen=True)
class ConeSet:
    """The centres of a Laplace gate in d > 1: per atom, the free-slot indices of W_i."""

    blocks: tuple[tuple[int, ...], ...]
    atoms: tuple[int, ...]
    names: tuple[str, ...]


def cone_set(nm: NumericModel) -> ConeSet | None:
    if nm.gate.name != "laplace" or nm.model.dim < 2 or nm.gate.normaliser != "softmax":
        return None
    free = [s for s in nm.slots if s.free]
    by_atom: dict[int, list[int]] = {}
    for j, s in enumerate(free):
        if s.symbol.startswith("W_") and s.atom is not None:
            by_atom.setdefault(s.atom, []).append(j)
    if not by_atom:
        return None
    atoms = tuple(sorted(by_atom))
    return ConeSet(tuple(tuple(by_atom[i]) for i in atoms), atoms,
                   tuple(f"W[{i + 1}]" for i in atoms))


def _rows_on(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    return np.flatnonzero(np.all(X == w, axis=1))


def _grad_rows(nm: NumericModel, X, y, theta, rows, n: int) -> np.ndarray:
    """The gradient of F restricted to the observations ``rows`` (F's normalisation 1/n)."""
    if rows.size == 0:
        return np.zeros(len(theta))
    Xr, yr = X[rows], y[rows]
    if nm.gaussian:
        return -nm.loglik(Xr, yr, theta)[1] / n
    r = nm.predict(Xr, theta) - yr
    return 2.0 * (nm.jacobian(Xr, theta).T @ r) / n


def certify_cones(nm: NumericModel, X, y, theta, lo, hi, cs: ConeSet
                  ) -> tuple[KinkCertificate, int]:
    """The stationarity certificate at theta (every W_i on a data input is a cone point)."""
    n = len(y)
    on = {q: _rows_on(X, theta[list(b)]) for q, b in enumerate(cs.blocks)}
    cone_rows = np.unique(np.concatenate([r for r in on.values()] or [np.zeros(0, int)]))
    off = np.setdiff1d(np.arange(n), cone_rows)
    g = _grad_rows(nm, X, y, theta, off, n)
    if cone_rows.size:
        with np.errstate(invalid="ignore", divide="ignore"):  # 0/0 in the cone rows' W-part
            gc = _grad_rows(nm, X, y, theta, cone_rows, n)
        for q, rows in on.items():  # the cone rows' W_i-derivatives are the cone term
            if rows.size:
                gc[list(cs.blocks[q])] = 0.0
        g = g + np.nan_to_num(gc, nan=0.0)
    r, active = projected_gradient(theta, g, lo, hi)
    r = np.abs(r)
    mask = np.zeros(len(theta), bool)
    names, sides, cone_res = [], [], []
    for q, rows in on.items():
        if not rows.size:
            continue
        b = list(cs.blocks[q])
        w = score_weight(nm, X, y, theta, rows, cs.atoms[q])
        s = float(np.linalg.norm(g[b]))
        mask[b] = True
        active[b] = False
        names.append(cs.names[q])
        sides.append((s, w))  # (|smooth gradient|, cone weight)
        cone_res.append(max(0.0, s - w) if w >= 0 else s + abs(w))
    kink_norm = float(np.linalg.norm(cone_res)) if cone_res else 0.0
    smooth_norm = float(np.linalg.norm(r[~mask]))
    return (KinkCertificate(tuple(names), tuple(sides), kink_norm, smooth_norm,
                            float(np.hypot(kink_norm, smooth_norm))), int(active.sum()))


@dataclass(frozen=True)
class ConePhase:
    theta: np.ndarray
    value: float
    stop: str
    iterations: int
    snapped: tuple[str, ...]
    certificate: KinkCertificate
    active: int


def _stop(cert: KinkCertificate, stop: str, grad_tol: float) -> str:
    """The smooth phase's point kept: the certificate decides, a budget stop stays one."""
    return "gradient" if cert.norm <= grad_tol else "budget" if stop == "budget" else "stalled"


def cone_phase(nm: NumericModel, X, y, fun: Callable, theta, value: float, stop: str,
               lo, hi, cs: ConeSet, *, grad_tol: float, max_iter: int) -> ConePhase:
    """After the smooth phase stopped at ``theta`` with ``stop``: snap, hold, finish, certify."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    theta = np.asarray(theta, float)
    cert, active = certify_cones(nm, X, y, theta, lo, hi, cs)
    if stop == "gradient" and not cert.on_kink:
        return ConePhase(theta, value, "gradient", 0, (), cert, active)
    snapped = theta.copy()
    held: list[int] = []
    names = []
    for q, b in enumerate(cs.blocks):
        w = snapped[list(b)]
        dist = np.linalg.norm(X - w, axis=1)
        m = int(np.argmin(dist))
        if dist[m] <= SNAP * max(1.0, float(np.linalg.norm(X[m]))):
            snapped[list(b)] = X[m]
            held += list(b)
            names.append(cs.names[q])
    if not held:
        return ConePhase(theta, value, _stop(cert, stop, grad_tol), 0, (), cert, active)
    keep = np.setdiff1d(np.arange(len(theta)), held)

    def sub_fun(t, hessian):
        full = snapped.copy()
        full[keep] = t
        if not hessian:
            return fun(full, False)
        f, g, H = fun(full, True)
        return f, g[keep], H[np.ix_(keep, keep)]
    out = newton_minimise(sub_fun, snapped[keep], lo[keep], hi[keep], grad_tol=grad_tol,
                          max_iter=max_iter)
    cand = snapped.copy()
    cand[keep] = out.theta
    cand_value = fun(cand, False)
    ccert, cactive = certify_cones(nm, X, y, cand, lo, hi, cs)
    if np.isfinite(cand_value) and cand_value <= value + 1e-15 * max(1.0, abs(value)) and \
            ccert.norm <= grad_tol:
        return ConePhase(cand, float(cand_value), "gradient", out.iterations, tuple(names),
                         ccert, cactive)
    return ConePhase(theta, value, _stop(cert, stop, grad_tol), out.iterations, (), cert, active)

"""Stationarity at the Laplace gate's kinks: a certificate, and a method that reaches them.

The 1-D Laplace gate's score s_i(x) = beta0_i - |W_i - x| has a kink in W_i at every data
point. The objective F = (1/n) sum_m f_m (f_m = -log-likelihood of observation m) depends
on W_i through the scores alone, so where W_i = x_m (observation m, and any other with the
same input) it is locally

    F(theta) = smooth(theta) + w_i |W_i - x_m|,    w_i = -(1/n) sum_{x_j = x_m} df_j/ds_i,

with df_j/ds_i = -(gamma_ji - g_ji) from the smooth outer function (the responsibility minus
the gate weight: the softmax normaliser and the likelihood). The compiled gradient takes
d|t|/dt = sign(0) = 0 there, so it returns the smooth part's derivative s_i (the midpoint of
the one-sided derivatives), and

    D+ = s_i + w_i (to the right),    D- = s_i - w_i (to the left).

The directional derivative F'(theta; d) = g . d + sum_kinks w_i |d_i| is separable, so
theta is d-stationary (no direction descends) exactly when every smooth coordinate has
g_i = 0 (projected, at an active bound) and every kinked one has D- <= 0 <= D+. The
certificate's residual per coordinate is the steepest one-sided descent rate, max(0, -D+,
D-): |g_i| for a smooth coordinate, max(0, |s_i| - w_i) at a kink -- for a convex kink
(w_i >= 0) the distance of 0 to the subdifferential [D-, D+], i.e. the minimum-norm
(Clarke) subgradient; a concave kink (w_i < 0, a local maximum along W_i) gives |s_i| + |w_i|
and passes only when both sides are flat. Its Euclidean norm is the steepest descent rate
of F at theta over unit directions; ``converged`` requires it <= grad_tol.

The method (:func:`kink_newton`): each W_i is confined to its *cell*, the interval between
the two consecutive data points around it, where F is smooth. Newton on the box of cells
(with the one-sided derivative from inside the cell at a cell's edge) converges there; a
W_i held at an edge is an active bound. Then every W_i held at an edge whose outer side
descends (D- > 0 at the left edge, D+ < 0 at the right one) moves that way: to the lowest
of the kinks 1, 2, 4, ... away while F (the other coordinates held) keeps decreasing, else
only into the neighbouring cell; and Newton runs again. Both tests use grad_tol / sqrt(m +
1) (m centres), so that together they stay within grad_tol. The smooth phase hands over
to this one when it stalls, or when its line search has to shorten a step while no W_i
crosses more than 8 kinks (iterates piling up at a kink). F decreases from round to round;
rounds are capped (``budget``). No clock, fixed order: the same bits in every process.

Scope: the 1-D Laplace gate, under the Gaussian MoE (F = -log-likelihood / n) and least
squares (F = RSS / n; its Hessian by central differences of the analytic gradient); the
Euclidean norm's cone points in dimension > 1 are :mod:`identify.numeric.cones`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from identify.numeric.compile import NumericModel
from identify.numeric.newton import newton_minimise, projected_gradient

__all__ = ["KinkSet", "KinkCertificate", "kink_set", "kink_weights", "score_weight", "certify",
           "kink_halt",
           "kink_newton", "kink_phase", "KinkPhase"]


@dataclass(frozen=True)
class KinkSet:
    """The kinked coordinates of a fit: positions in theta_free, their atoms and names, and
    the kinks (the sorted distinct data inputs)."""

    coords: tuple[int, ...]
    atoms: tuple[int, ...]
    names: tuple[str, ...]
    points: np.ndarray


def kink_set(nm: NumericModel, X: np.ndarray) -> KinkSet | None:
    """The Laplace centres W_i of a 1-D Laplace-gated model (softmax normaliser), or None."""
    if nm.gate.name != "laplace" or nm.model.dim != 1 or nm.gate.normaliser != "softmax":
        return None
    free = [s for s in nm.slots if s.free]
    coords = [j for j, s in enumerate(free) if s.symbol == "W"]
    if not coords:
        return None
    return KinkSet(tuple(coords), tuple(free[j].atom for j in coords),
                   tuple(free[j].name for j in coords),
                   np.unique(np.asarray(X, float)[:, 0]))


def score_weight(nm: NumericModel, X: np.ndarray, y: np.ndarray, theta: np.ndarray,
                 rows: np.ndarray, atom: int) -> float:
    """-(1/n) sum over ``rows`` of df_j/ds_atom: the weight of the term -|t| (or -||t||) that
    the observations ``rows`` add to F = -log-likelihood / n (from the gate weights and the
    responsibilities) or RSS / n (from the residuals, gate weights and expert values) when
    the Laplace centre of ``atom`` sits on their input. Analytic; n = len(y)."""
    Xr, yr = np.asarray(X, float)[rows], np.asarray(y, float)[rows]
    _, G, H = nm.parts(Xr, nm.full(theta))
    if nm.gaussian:
        dfds = -(nm.responsibilities(Xr, yr, theta)[:, atom] - G[:, atom])  # softmax normaliser
    else:  # least squares, f_j = r_j^2: d pred_j/ds_i = G_ji (h_ji - pred_j)
        pred = np.sum(G * H, axis=1)
        dfds = 2.0 * (pred - yr) * G[:, atom] * (H[:, atom] - pred)
    return -float(np.sum(dfds)) / len(y)   # s_i = beta0_i - |t|: the change is -|t| df/ds_i


def kink_weights(nm: NumericModel, X: np.ndarray, y: np.ndarray, theta: np.ndarray,
                 ks: KinkSet) -> np.ndarray:
    """w_i for every kinked coordinate: F = smooth + w_i |W_i - x_m| near theta when W_i equals
    the data input x_m (exactly), and nan where W_i is on no data point (:func:`score_weight`)."""
    x = np.asarray(X, float)[:, 0]
    out = np.full(len(ks.coords), np.nan)
    for q, (c, i) in enumerate(zip(ks.coords, ks.atoms, strict=True)):
        rows = np.flatnonzero(x == theta[c])
        if rows.size:
            out[q] = score_weight(nm, X, y, theta, rows, i)
    return out


@dataclass(frozen=True)
class KinkCertificate:
    """Where theta's stationarity was tested: the coordinates on a kink with their one-sided
    derivatives (D-, D+), the residual's norm over them (min-norm subgradient for convex
    kinks) and over the smooth coordinates, and the total (``grad_norm`` of the fit)."""

    on_kink: tuple[str, ...]
    one_sided: tuple[tuple[float, float], ...]
    kink_norm: float
    smooth_norm: float
    norm: float

    def to_dict(self) -> dict:
        return {"on_kink": list(self.on_kink),
                "one_sided": [[float(a), float(b)] for a, b in self.one_sided],
                "kink_norm": self.kink_norm, "smooth_norm": self.smooth_norm, "norm": self.norm}


def certify(g: np.ndarray, theta: np.ndarray, lo: np.ndarray, hi: np.ndarray,
            ks: KinkSet | None, weights: np.ndarray | None
            ) -> tuple[KinkCertificate, int]:
    """The stationarity certificate at theta from the compiled gradient g (sign(0) = 0 at a
    kink) and the kink weights; and the number of active bounds."""
    r, active = projected_gradient(theta, g, lo, hi)
    r = np.abs(r)
    on = np.zeros(len(theta), bool)
    names, sides = [], []
    if ks is not None and weights is not None:
        for q, c in enumerate(ks.coords):
            w = weights[q]
            if np.isnan(w):
                continue
            s = float(g[c])
            on[c] = True
            active[c] = False
            names.append(ks.names[q])
            sides.append((float(s - w), float(s + w)))
            r[c] = max(0.0, abs(s) - float(w))
    cert = KinkCertificate(tuple(names), tuple(sides), float(np.linalg.norm(r[on])),
                           float(np.linalg.norm(r[~on])), float(np.linalg.norm(r)))
    return cert, int(active.sum())


#: the smooth phase hands over when a shortened step moved no W_i across more kinks than this
HALT_CELLS = 8


def kink_halt(ks: KinkSet, cells: int = HALT_CELLS) -> Callable[[np.ndarray, np.ndarray], bool]:
    """The smooth phase's ``halt`` rule: its line search had to shorten a step (a kink in the
    way) and no W_i crossed more than ``cells`` kinks (it is not travelling any more)."""
    def halt(x_old: np.ndarray, x_new: np.ndarray) -> bool:
        c = list(ks.coords)
        crossed = np.abs(np.searchsorted(ks.points, x_new[c]) - np.searchsorted(ks.points, x_old[c]))
        return bool(np.all(crossed <= cells))
    return halt


#: the distance (relative) within which W_i is put on a kink of its cell when the first-order
#: change of F on the way is a decrease or below F's rounding (RISE_REL |F|)
SNAP, RISE_REL = 1e-8, 1e-13


def _cell(points: np.ndarray, v: float, lo: float, hi: float) -> tuple[float, float]:
    """[x_m, x_{m+1}] with x_m <= v < x_{m+1} (the box's bounds beyond the data)."""
    j = int(np.searchsorted(points, v, side="right"))
    a = float(points[j - 1]) if j > 0 else lo
    b = float(points[j]) if j < len(points) else hi
    return max(a, lo), min(b, hi)


@dataclass(frozen=True)
class KinkOutcome:
    theta: np.ndarray
    value: float
    stop: str          # "gradient" (no outer side descends), "stalled" or "budget"
    iterations: int
    rounds: int        # cell moves


def _gallop(fun, x, c, j, d, pts, lo, hi) -> int | None:
    """Along W_c alone (the other coordinates held), F at the kinks j + d, j + 2d, j + 4d, ...
    while it keeps decreasing: the index of the lowest, or None when the first is not lower."""
    best, best_f, step = None, fun(x, False), 1
    while True:
        m = j + d * step
        if not (0 <= m < len(pts)) or not (lo <= pts[m] <= hi):
            return best
        t = x.copy()
        t[c] = pts[m]
        fm = fun(t, False)
        if not fm < best_f:
            return best
        best, best_f, step = m, fm, 2 * step


def kink_newton(fun: Callable, theta0: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                ks: KinkSet, weights: Callable[[np.ndarray], np.ndarray], *, grad_tol: float,
                max_iter: int, max_rounds: int) -> KinkOutcome:
    """Minimise ``fun`` (as for :func:`newton_minimise`) with every W_i confined to a cell
    between consecutive kinks, moving a W_i to the neighbouring cell when the outer side of
    its edge descends. ``weights(theta)``: :func:`kink_weights` at theta.

    A smooth phase that stalled at a kink leaves W_i within ~1e-11 of it, where the step onto
    the kink changes F below its rounding and no line search sees it: such a W_i (within
    :data:`SNAP`, the first-order change a decrease or below :data:`RISE_REL` |F|) is put on
    the kink, before the first Newton run and after a stall."""
    x = np.clip(np.asarray(theta0, float), lo, hi)
    clo, chi = lo.copy(), hi.copy()
    pts = ks.points
    for c in ks.coords:
        clo[c], chi[c] = _cell(pts, float(x[c]), float(lo[c]), float(hi[c]))
    last: dict = {}

    def cell_fun(th, hessian):
        if not hessian:
            return fun(th, False)
        f, g, H = fun(th, True)
        last["theta"], last["f"], last["g"] = th.copy(), f, g.copy()
        w = weights(th)
        g = g.copy()
        for q, c in enumerate(ks.coords):
            if np.isnan(w[q]):
                continue
            if th[c] == clo[c]:    # the left edge: the derivative into the cell, D+
                g[c] += w[q]
            elif th[c] == chi[c]:  # the right edge: D-
                g[c] -= w[q]
        return f, g, H

    def at(th):
        """(f, compiled g) at th, from the last evaluation when it was there."""
        if not np.array_equal(last.get("theta"), th):
            cell_fun(th, True)
        return last["f"], last["g"]

    def snap(th) -> bool:
        f, g = at(th)
        moved = False
        for c in ks.coords:
            for edge in (clo[c], chi[c]):
                d = edge - th[c]
                if (d != 0 and edge in pts and abs(d) <= SNAP * max(1.0, abs(edge))
                        and g[c] * d <= RISE_REL * abs(f)):
                    th[c], moved = edge, True
                    break
        return moved

    # the smooth part's test and each kink's outer side at grad_tol / sqrt(m + 1): together
    # (Euclidean) they stay within grad_tol
    tol = grad_tol / np.sqrt(len(ks.coords) + 1)
    iters, rounds, stop, value = 0, 0, "budget", float("nan")
    snap(x)
    snapped_stall = False
    while True:
        out = newton_minimise(cell_fun, x, clo, chi, grad_tol=tol,
                              max_iter=max(0, max_iter - iters))
        iters += out.iterations
        x, value = out.theta.copy(), out.value
        if out.stop == "stalled" and not snapped_stall and snap(x):
            snapped_stall = True  # once per stall: a second stall at the same kinks ends
            continue
        if out.stop != "gradient":
            stop = out.stop
            break
        snapped_stall = False
        g, w = at(x)[1], weights(x)
        moved = False
        for q, c in enumerate(ks.coords):
            if np.isnan(w[q]):
                continue
            s, v = float(g[c]), float(x[c])
            if v == clo[c] and s - w[q] > tol and v > lo[c]:      # D- > 0: the left side descends
                d = -1
            elif v == chi[c] and s + w[q] < -tol and v < hi[c]:    # D+ < 0: the right side descends
                d = 1
            else:
                continue
            moved = True
            m = _gallop(fun, x, c, int(np.searchsorted(pts, v)), d, pts, lo[c], hi[c])
            if m is not None:
                x[c] = pts[m]
            # the cell beyond W_c on the descending side (W_c on its edge)
            v = float(x[c])
            clo[c], chi[c] = _cell(pts, np.nextafter(v, -np.inf) if d < 0 else v,
                                   float(lo[c]), float(hi[c]))
        if not moved:
            stop = "gradient"
            break
        rounds += 1
        if rounds >= max_rounds or iters >= max_iter:
            stop = "budget"
            value = fun(x, False)  # x has moved since Newton's value
            break
    return KinkOutcome(x, value, stop, iters, rounds)


@dataclass(frozen=True)
class KinkPhase:
    theta: np.ndarray
    value: float
    stop: str                    # "gradient" (the certificate passed), "stalled" or "budget"
    iterations: int              # of the cell phase
    rounds: int | None           # its rounds of moves; None when it did not run
    certificate: KinkCertificate
    active: int                  # active bounds at theta


def kink_phase(nm: NumericModel, X: np.ndarray, y: np.ndarray, fun: Callable, out, ks: KinkSet,
               lo: np.ndarray, hi: np.ndarray, *, grad_tol: float, max_iter: int) -> KinkPhase:
    """After the smooth phase (``out``, a :class:`NewtonOutcome` of ``fun`` = -log-lik / n):
    the cell phase when it stalled or was halted, then the certificate, which decides the
    stop (a budget stop stays a budget stop)."""
    def weights(th):
        return kink_weights(nm, X, y, th, ks)
    theta, stop, value, iters, rounds = out.theta, out.stop, out.value, 0, None
    if stop in ("stalled", "halted"):
        # from the stall point (put on its kinks: a change of F below rounding), descending
        ko = kink_newton(fun, theta, lo, hi, ks, weights, grad_tol=grad_tol,
                         max_iter=max(1, max_iter - out.iterations), max_rounds=max_iter)
        theta, stop, value, iters, rounds = ko.theta, ko.stop, ko.value, ko.iterations, ko.rounds
    _, g, _ = fun(theta, True)
    cert, active = certify(g, theta, lo, hi, ks, weights(theta))
    if stop != "budget":  # converged means exactly that the certificate passed
        stop = "gradient" if cert.norm <= grad_tol else "stalled"
    return KinkPhase(theta, value, stop, iters, rounds, cert, active)

"""Stationarity at a ReLU expert's kinks: snap, hold on the kink, finish, certify.

An expert built from relu(u(x; eta)) with u affine in the atom's parameters (``relu(a*x +
b)``, the neurons of a ReLU FFN) makes the objective F (-log-likelihood / n, or RSS / n)
non-smooth wherever u(x_m; eta_i) = 0 for an observation m: with relu(u) = (u + |u|)/2 it
is locally

    F(theta) = smooth(theta) + omega |nu . (theta - theta_K)|,

a hyperplane kink with the constant normal nu = grad_theta u(x_m; eta_i) (u is affine).
The gradients of the observations on the kink, taken on either side, differ by
2 omega nu / |nu|; their mean g0 is the smooth part's gradient. The directional derivative
along d is g0 . d + sum_j omega_j |nuhat_j . d|, so theta is stationary (no direction
descends) exactly when 0 lies in g0 + sum_j t_j omega_j nuhat_j, |t_j| <= 1, for convex
kinks (omega_j >= 0); a concave kink (omega_j < 0, a local maximum across it) is
stationary only when flat. The certificate's residual is the distance of 0 to that set
(the minimum-norm subgradient; a bounded least-squares problem, scipy's ``lsq_linear``),
with |omega_j| added for a concave kink; ``converged`` requires it <= grad_tol.

The one-sided gradients are those of the observations on the kink at theta +- eps nuhat
(eps = 1e-10 of max(1, |theta|): the error is O(eps) times the observations' own Hessian,
divided by n). The compiled gradient is one-sided at the kink itself, so a fit that stalls
next to one is taken there: the atom is projected onto the nearest kink hyperplane (within
``SNAP`` of it), held there (Newton on the hyperplane's directions, where F is smooth: for
relu(a x + b) the kink stays at x_m), and the whole point is certified. The fit keeps the
point only if its objective is not worse and the certificate passes; otherwise the smooth
phase's answer stands (an honest "failed" or "budget"). No clock, fixed order.

Scope: relu of an argument affine in the atom's own parameters (not the shared ones), one
kink per (atom, relu) at a time; flat gates only (no hierarchical Gaussian density).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy
from scipy.linalg import null_space
from scipy.optimize import lsq_linear

from identify.model.functions import relu
from identify.numeric.compile import NumericModel, _lambdify
from identify.numeric.cones import _grad_rows
from identify.numeric.kinks import KinkCertificate
from identify.numeric.newton import newton_minimise

__all__ = ["RidgeSet", "ridge_set", "ridge_phase", "RidgePhase", "SNAP"]

#: an atom this close to a kink hyperplane (relative to max(1, |eta_i|)) is tried on it
SNAP = 1e-6
_EPS = 1e-10


@dataclass(frozen=True)
class RidgeSet:
    """The expert's relu arguments u_k, compiled with their (constant-in-theta) gradients
    over the atom's parameters, and each atom's parameter positions in theta_free."""

    labels: tuple[str, ...]
    args: tuple            # u_k over the model's arguments
    grads: tuple           # per k: one compiled du_k/ds per atom symbol (None: 0)
    positions: tuple       # per atom: per atom symbol, its index in theta_free or -1


def ridge_set(nm: NumericModel) -> RidgeSet | None:
    """The relu kinks of the expert, or None when there are none this module handles
    (compiled once per NumericModel)."""
    if not hasattr(nm, "_ridge_set"):
        nm._ridge_set = _ridge_set(nm)
    return nm._ridge_set


def _ridge_set(nm: NumericModel) -> RidgeSet | None:
    if nm.density:
        return None
    h = nm._h_expr
    atom_syms = list(nm.atom_syms)
    kept, labels = [], []
    for r in sorted(h.atoms(relu), key=sympy.default_sort_key):
        u = r.args[0]
        params = [s for s in atom_syms if u.has(s)]
        if not params or any(u.has(s) for s in nm.shared_syms):
            continue
        if any(sympy.simplify(sympy.diff(u, s, t)) != 0 for s in params for t in params):
            return None  # not affine: the hyperplane picture does not hold
        kept.append(u)
        labels.append(f"relu({sympy.sstr(u)})")
    if not kept:
        return None
    args = tuple(_lambdify(nm._args, u) for u in kept)
    grads = tuple(tuple(None if not u.has(s) else _lambdify(nm._args, sympy.diff(u, s))
                        for s in atom_syms) for u in kept)
    free = {int(j): q for q, j in enumerate(nm.free_index)}
    positions = tuple(tuple(free.get(i * nm.n_atom + j, -1) for j in range(nm.n_atom))
                      for i in range(nm.k))
    return RidgeSet(tuple(labels), args, grads, positions)


@dataclass(frozen=True)
class _Kink:
    atom: int
    relu: int
    rows: np.ndarray      # the observations on it (the same input)
    normal: np.ndarray    # nu in theta_free coordinates
    label: str


def _values(nm: NumericModel, f, X, theta) -> list[np.ndarray]:
    atoms, shared = nm.split(nm.full(theta))
    return [nm._call(f, X, a, shared) for a in atoms]


def _normal(nm: NumericModel, rs: RidgeSet, k: int, i: int, x_row: np.ndarray, theta
            ) -> np.ndarray:
    atoms, shared = nm.split(nm.full(theta))
    nu = np.zeros(len(theta))
    for g, pos in zip(rs.grads[k], rs.positions[i], strict=True):
        if g is not None and pos >= 0:
            nu[pos] = float(nm._call(g, x_row[None, :], atoms[i], shared)[0])
    return nu


def _near(nm: NumericModel, X, theta, rs: RidgeSet) -> list[tuple[int, int, int, float]]:
    """(atom, relu, row, distance) of the kink hyperplane nearest to each atom, per relu."""
    out = []
    atoms, _ = nm.split(nm.full(theta))
    for k, f in enumerate(rs.args):
        for i, u in enumerate(_values(nm, f, X, theta)):
            best = None
            for m in np.argsort(np.abs(u))[:4]:  # the smallest |u|; the normal varies with x
                nu = _normal(nm, rs, k, i, X[m], theta)
                norm = float(np.linalg.norm(nu))
                if norm > 0:
                    d = abs(float(u[m])) / norm
                    if best is None or d < best[3]:
                        best = (i, k, int(m), d)
            if best is not None:
                scale = max(1.0, float(np.linalg.norm(atoms[i])))
                out.append((*best[:3], best[3] / scale))
    return out


def _certify(nm: NumericModel, X, y, theta, kinks: list[_Kink]
             ) -> tuple[KinkCertificate, list[tuple[float, float]]]:
    """The stationarity certificate at theta (on every kink given), and per kink (s, omega):
    the smooth part's derivative along the unit normal and the kink's weight."""
    n = len(y)
    on = np.unique(np.concatenate([k.rows for k in kinks])) if kinks else np.zeros(0, int)
    off = np.setdiff1d(np.arange(n), on)
    g0 = _grad_rows(nm, X, y, theta, off, n)
    halves, leak = [], 0.0
    for kk in kinks:
        nuhat = kk.normal / np.linalg.norm(kk.normal)
        eps = _EPS * max(1.0, float(np.linalg.norm(theta)))
        gp = _grad_rows(nm, X, y, theta + eps * nuhat, kk.rows, n)
        gm = _grad_rows(nm, X, y, theta - eps * nuhat, kk.rows, n)
        g0 = g0 + (gp + gm) / 2
        half = (gp - gm) / 2
        omega = float(half @ nuhat)
        leak = float(np.hypot(leak, np.linalg.norm(half - omega * nuhat)))  # not along nu
        halves.append((nuhat, omega))
    # a concave kink's term cannot cancel the gradient: only the convex ones enter the
    # bounded least squares, the concave weights are added to the residual below
    cols = [om * nuhat for nuhat, om in halves if om >= 0]
    r = g0
    if cols:
        A = np.column_stack(cols)
        r = g0 + A @ lsq_linear(A, -g0, bounds=(-1.0, 1.0), method="bvls").x
    if kinks:
        Q, _ = np.linalg.qr(np.column_stack([k.normal for k in kinks]))
        along = Q @ (Q.T @ r)
    else:  # every kink released: the plain gradient test
        along = np.zeros_like(r)
    concave = float(np.linalg.norm([om for _, om in halves if om < 0] or [0.0]))
    kink_norm = float(np.hypot(np.linalg.norm(along), concave))
    smooth_norm = float(np.hypot(np.linalg.norm(r - along), leak))
    per = [(float(g0 @ nuhat), om) for nuhat, om in halves]
    cert = KinkCertificate(tuple(k.label for k in kinks),
                           tuple((s_ - abs(om), s_ + abs(om)) for s_, om in per),
                           kink_norm, smooth_norm, float(np.hypot(kink_norm, smooth_norm)))
    return cert, per


@dataclass(frozen=True)
class RidgePhase:
    theta: np.ndarray
    value: float
    stop: str
    iterations: int
    snapped: tuple[str, ...]           # the kinks the point sits on
    certificate: KinkCertificate | None  # None: the phase did not pass (smooth answer stands)
    released: int = 0                  # kinks held in a round and released later


#: rounds of (snap, hold, Newton, certify, release)
MAX_ROUNDS = 12


def _key(kink: _Kink) -> tuple[int, int, int]:
    return kink.atom, kink.relu, int(kink.rows[0])


def _snap(nm, X, theta, rs: RidgeSet, active: list[_Kink], released: frozenset = frozenset()
          ) -> tuple[np.ndarray, list[_Kink]]:
    """theta with every atom within SNAP of a kink put on it; the kinks held (old and new).
    A kink released in an earlier round is not taken again (its atom sits 1e-7 off it, inside
    SNAP, on the side where F descends)."""
    snapped = theta.copy()
    kinks = list(active)
    used = {int(r) for k in kinks for r in k.rows}
    held = {(k.atom, k.relu) for k in kinks}
    for i, k, m, dist in _near(nm, X, theta, rs):
        rows = np.flatnonzero(np.all(X == X[m], axis=1))
        if (i, k) in held or dist > SNAP or used & set(rows.tolist()) or \
                (i, k, int(rows[0])) in released:
            continue  # held, far, released, or its observations are on another kink
        used |= set(rows.tolist())
        nu = _normal(nm, rs, k, i, X[m], snapped)
        u = float(_values(nm, rs.args[k], X[m:m + 1], snapped)[i][0])
        snapped = snapped - u * nu / float(nu @ nu)  # onto the hyperplane (u is affine)
        where = ", ".join(f"{v:.6g}" for v in X[m])
        kinks.append(_Kink(i, k, rows, nu, f"{rs.labels[k]}[{i + 1}] at x = ({where})"))
    return snapped, kinks


def _held(fun, theta, kinks: list[_Kink], lo, hi, grad_tol, max_iter):
    """Newton with every kink held (on the null space of their normals), else on the box."""
    if not kinks:
        out = newton_minimise(fun, theta, lo, hi, grad_tol=grad_tol, max_iter=max_iter)
        return out.theta, out.iterations
    P = null_space(np.column_stack([k.normal for k in kinks]).T)

    def sub_fun(z, hessian):
        full = theta + P @ z
        if not hessian:
            return fun(full, False)
        f, g, H = fun(full, True)
        return f, P.T @ g, P.T @ H @ P
    inf = np.full(P.shape[1], np.inf)
    out = newton_minimise(sub_fun, np.zeros(P.shape[1]), -inf, inf, grad_tol=grad_tol,
                          max_iter=max_iter)
    return theta + P @ out.theta, out.iterations


def ridge_phase(nm: NumericModel, X, y, fun: Callable, theta, value: float, stop: str,
                lo, hi, rs: RidgeSet, *, grad_tol: float, max_iter: int) -> RidgePhase:
    """After the smooth phase stopped short of its gradient test at ``theta``, an active set
    of kinks, in rounds: snap every atom within SNAP of a kink onto it and hold it there while
    Newton finishes; certify; release every held kink across which F still descends (one
    step of 1e-7 of the atom's scale to the descending side; a released kink is not snapped
    again) and go on, with plain Newton once every kink is released. The last point is kept
    only when its certificate passes and F is not worse than the smooth phase's."""
    X = np.asarray(X, float)
    y = np.asarray(y, float)
    theta = np.asarray(theta, float)
    if stop == "gradient":
        return RidgePhase(theta, value, stop, 0, (), None)
    cur, cur_value, its = theta.copy(), value, 0
    active: list[_Kink] = []
    released: set[tuple[int, int, int]] = set()
    tiny = 1e-15 * max(1.0, abs(value))
    for _ in range(MAX_ROUNDS):
        snapped, kinks = _snap(nm, X, cur, rs, active, frozenset(released))
        if not kinks and not released:
            break  # next to no kink: nothing to do here
        cand, k_its = _held(fun, snapped, kinks, lo, hi, grad_tol, max_iter)
        its += k_its
        cand_value = fun(cand, False)
        if not np.isfinite(cand_value) or cand_value > cur_value + tiny or \
                np.any(cand < lo) or np.any(cand > hi):
            break
        cur, cur_value, active = cand, float(cand_value), kinks
        cert, per = _certify(nm, X, y, cur, active)
        if cert.norm <= grad_tol:
            return RidgePhase(cur, cur_value, "gradient", its, tuple(k.label for k in active),
                              cert, len(released))
        if not active:
            break  # plain Newton after the releases did not pass its test either
        keep, moved = [], False
        for kk, (s_, om) in zip(active, per, strict=True):
            if om >= 0 and abs(s_) <= om + grad_tol:
                keep.append(kk)
                continue
            nuhat = kk.normal / np.linalg.norm(kk.normal)
            step = 1e-7 * max(1.0, float(np.linalg.norm(cur)))
            trial = cur - np.sign(s_) * step * nuhat  # to the side where F descends
            tv = fun(trial, False)
            if np.isfinite(tv) and tv <= cur_value:
                cur, cur_value, moved = trial, float(tv), True
                released.add(_key(kk))
            else:
                keep.append(kk)
        if not moved and len(_snap(nm, X, cur, rs, keep, frozenset(released))[1]) == len(keep):
            break  # nothing released, nothing new to hold
        active = keep
    return RidgePhase(theta, value, stop, its, (), None)

"""Levenberg-Marquardt for least squares, in numpy, stopped on a gradient test.

Minimises f(theta) = mean(r(theta)^2) given the residuals r and their Jacobian J. The method
is Moré's trust-region form of Levenberg-Marquardt (the one MINPACK's ``lmder`` implements)
with MINPACK's scaling (``x_scale="jac"``: D = the largest column norms of J seen so far) and
its trust-radius update; what differs:

- the subproblem min ||J p + r|| subject to ||D p|| <= Delta is solved from one QR
  factorisation of [J | r] (only its triangle, (P+1) x (P+1)) and the SVD of that small
  triangle, with Newton's iteration on the secular equation (as scipy's ``trf`` does for
  unbounded problems, on the full Jacobian there): per iteration one pass of LAPACK's QR over
  the data, then work in P dimensions only;
- it stops on the gradient test |grad f| = |2 J^T r / n| <= grad_tol (the fit's certificate,
  computed by the same expression), an evaluation cap ("budget") or a stall (the trust
  radius at rounding level of theta, or neither the objective nor its model can decrease
  beyond rounding) -- never on relative tolerances, never on time.

Why not MINPACK: its path depends on the memory alignment of its work arrays (the same
problem gave 155 or 163 residual evaluations depending on the residual array's address mod
64 bytes, and a different optimum in the 6th digit), so identical inputs gave different fits
from one process to the next. This module uses numpy's and LAPACK's kernels only, whose
results were checked not to depend on the arrays' offsets (tests/numeric/
test_fit_determinism.py runs the same fit in separate processes with different allocation
patterns and compares bits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["LMOutcome", "levenberg_marquardt"]

_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class LMOutcome:
    theta: np.ndarray
    value: float          # mean(r^2) at theta
    grad_norm: float      # |2 J^T r / n| at theta
    stop: str             # "gradient", "budget", "stalled" or "outside" (left the box)
    evaluations: int      # of the residuals
    jacobians: int        # of the Jacobian
    iterations: int       # trust-region subproblems solved


def _secular(s, uf, delta, alpha, full_rank):
    """z minimising |A z + c| with |z| <= delta given A = U diag(s) V^T, uf = U^T c; returns
    (coefficients of z in V's basis, alpha >= 0 the Levenberg-Marquardt parameter)."""
    if full_rank:
        z = -uf / s
        if np.linalg.norm(z) <= delta:
            return z, 0.0
    suf = s * uf

    def phi(a):
        den = s * s + a
        pn = float(np.linalg.norm(suf / den))
        return pn - delta, -float(np.sum(suf * suf / den**3)) / pn

    upper = float(np.linalg.norm(suf)) / delta
    lower = 0.0
    if full_rank:
        f0, d0 = phi(0.0)
        lower = -f0 / d0
    if alpha <= 0.0:
        alpha = max(1e-3 * upper, (lower * upper) ** 0.5)
    for _ in range(10):
        if not lower <= alpha <= upper:
            alpha = max(1e-3 * upper, (lower * upper) ** 0.5)
        f, d = phi(alpha)
        if f < 0:
            upper = alpha
        ratio = f / d
        lower = max(lower, alpha - ratio)
        alpha -= (f + delta) * ratio / delta
        if abs(f) < 0.01 * delta:
            break
    z = -suf / (s * s + alpha)
    return z * (delta / np.linalg.norm(z)), alpha


def levenberg_marquardt(residual: Callable, jacobian: Callable, x0: np.ndarray, *,
                        grad_tol: float, max_nfev: int, box: float = np.inf,
                        factor: float = 100.0) -> LMOutcome:
    """Minimise mean(residual(theta)^2) from x0. ``max_nfev`` caps the residual evaluations
    (the start's included); the gradient test is |2 J^T r / n| <= grad_tol. An accepted step
    leaving |theta| <= box ends the run (stop ``outside``, at that point)."""
    x = np.array(x0, dtype=float)
    r = residual(x)
    n, P = len(r), len(x)
    f = float(np.mean(r**2))
    nfev, njev, it = 1, 0, 0
    diag = None
    delta = alpha = 0.0
    stop = "budget"
    if not np.isfinite(f):
        raise ValueError("the residuals are not finite at the start")
    while True:
        J = jacobian(x)
        njev += 1
        gnorm = float(np.linalg.norm(2.0 * (J.T @ r) / n))
        if gnorm <= grad_tol:
            stop = "gradient"
            break
        if not np.isfinite(gnorm):
            raise ValueError("the Jacobian is not finite")
        # [J | r] = Q T: J^T J = R^T R and J^T r = R^T c with R = T[:, :P], c = T[:, P]
        T = np.linalg.qr(np.column_stack([J, r]), mode="r")
        R, c = T[:, :P], T[:, P]
        cols = np.sqrt(np.sum(R * R, axis=0))  # the column norms of J
        if diag is None:
            diag = np.where(cols > 0, cols, 1.0)
            xn = float(np.linalg.norm(diag * x))
            delta = factor * xn if xn > 0 else factor
        else:
            diag = np.maximum(diag, cols)
        U, s, Vt = np.linalg.svd(R / diag, full_matrices=False)
        uf = U.T @ c
        full_rank = len(s) == P and s[-1] > _EPS * P * s[0]
        if s[0] == 0:
            stop = "stalled"
            break
        improved = False
        while nfev < max_nfev:
            it += 1
            zv, alpha = _secular(s, uf, delta, alpha, full_rank)
            p = (Vt.T @ zv) / diag
            pnorm = float(np.linalg.norm(diag * p))
            if it == 1:
                delta = min(delta, pnorm)  # MINPACK: the first step bounds the radius
            Jp = R @ p
            pred = -float(Jp @ Jp + 2.0 * (c @ Jp)) / n  # the model's decrease of f
            xt = x + p
            rt = residual(xt)
            nfev += 1
            ft = float(np.mean(rt**2))
            ared = f - ft if np.isfinite(ft) else -np.inf
            ratio = ared / pred if pred > 0 else -np.inf
            # the trust radius, as MINPACK's lmder updates it (norms, not squares)
            if ratio <= 0.25:
                if ared >= 0:
                    temp = 0.5
                else:  # quadratic interpolation along the step, floored at 0.1
                    dirder = float(c @ Jp) / n  # half the derivative of f along p
                    temp = 0.5 * dirder / (dirder + 0.5 * ared) if np.isfinite(ared) else 0.1
                if not np.isfinite(ft) or np.sqrt(ft) >= 10 * np.sqrt(f) or not 0.1 <= temp:
                    temp = 0.1
                delta = temp * min(delta, pnorm / 0.1)
                alpha /= temp
            elif alpha == 0 or ratio >= 0.75:
                delta = pnorm / 0.5
                alpha *= 0.5
            if ratio >= 1e-4:
                x, r, f = xt, rt, ft
                improved = True
                break
            xn = float(np.linalg.norm(diag * x))
            rounding = pred <= 4 * _EPS * f and abs(ared) <= 4 * _EPS * f
            if delta <= _EPS * xn or rounding:
                break
        if not improved:
            stop = "stalled" if nfev < max_nfev else "budget"
            break
        if np.any(np.abs(x) > box):
            stop = "outside"
            gnorm = float(np.linalg.norm(2.0 * (jacobian(x).T @ r) / n))
            njev += 1
            break
    return LMOutcome(x, f, gnorm, stop, nfev, njev, it)

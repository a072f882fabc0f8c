"""A bounded second-order minimiser with a gradient test, for small dense problems.

Minimises f over the box lo <= theta <= hi given f, its gradient g and its Hessian H.

- Direction: Newton's on the free variables with the Hessian's eigenvalues replaced by their
  absolute values (floored at 1e-10 of the largest), the "saddle-free" Newton step: the
  Newton step where H is positive definite, a descent direction that leaves saddles where it
  is not.
- Step length: a line search on f alone, starting at 1 and halving until f decreases; when
  the full step decreased f by more than the quadratic model predicts (along the
  over-fitted cells' flat, higher-order valleys; for f = t^4 the best step is 3 Newton
  steps), doubling while f keeps decreasing.
- Bounds: a variable is *active* when it sits on a bound and the gradient pushes it outward;
  active variables are held, trial points are projected onto the box, and the gradient test
  uses the projected gradient (active components set to 0), the first-order (KKT) condition
  of the bounded problem.
- Near the optimum the decrease falls below the rounding of f; there (predicted decrease
  below 1e-13 |f|) the full step is taken when it lowers the projected gradient norm and
  does not raise f beyond that rounding level.

Stopping is on the gradient test, an iteration cap, a stall (no step lowers f nor the
gradient) or the caller's ``halt`` rule (asked after every step the line search had to
shorten; e.g. the Laplace gate's kinks, :mod:`identify.numeric.kinks`) -- never on time, so
the result is a function of the inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["NewtonOutcome", "projected_gradient", "newton_minimise"]


@dataclass(frozen=True)
class NewtonOutcome:
    theta: np.ndarray
    value: float
    grad_norm: float      # Euclidean norm of the projected gradient at theta
    stop: str             # "gradient", "budget", "stalled" or "halted"
    iterations: int
    evaluations: int      # of f (with or without derivatives)
    active: int           # bounds active at theta
    decrement: float      # sqrt(g^T H^-1 g) on the free variables (nan unless H > 0 there)


def projected_gradient(theta, g, lo, hi) -> tuple[np.ndarray, np.ndarray]:
    """(projected gradient, active mask) for minimisation over the box [lo, hi]."""
    active = ((theta <= lo) & (g > 0)) | ((theta >= hi) & (g < 0))
    return np.where(active, 0.0, g), active


def _direction(H, g, free) -> tuple[np.ndarray, float]:
    """The saddle-free Newton direction and the Newton decrement (nan if H is not > 0)."""
    w, Q = np.linalg.eigh(H[np.ix_(free, free)])
    c = Q.T @ g[free]
    floor = 1e-10 * max(1e-300, float(np.max(np.abs(w))))
    p = np.zeros_like(g)
    p[free] = -Q @ (c / np.maximum(np.abs(w), floor))
    dec = float(np.sqrt(np.sum(c**2 / w))) if w[0] > 0 else float("nan")
    return p, dec


def newton_minimise(fun: Callable, theta0: np.ndarray, lo: np.ndarray, hi: np.ndarray, *,
                    grad_tol: float, max_iter: int,
                    halt: Callable[[np.ndarray, np.ndarray], bool] | None = None
                    ) -> NewtonOutcome:
    """Minimise ``fun`` over [lo, hi]. ``fun(theta, True)`` returns (f, g, H), ``fun(theta,
    False)`` f alone; f = inf outside the model's domain. ``halt(x_old, x_new)``, asked after
    a step shorter than the Newton step (the line search halved it), stops with "halted"
    when it returns True."""
    x = np.clip(np.asarray(theta0, float), lo, hi)
    f, g, H = fun(x, True)
    evals = 1
    if not np.isfinite(f):
        raise ValueError("the start is outside the model's domain")
    pg, active = projected_gradient(x, g, lo, hi)
    stop, it, dec = "budget", 0, float("nan")
    while True:
        gnorm = float(np.linalg.norm(pg))
        free = ~active
        if not free.any():
            stop = "gradient"
            break
        p, dec = _direction(H, g, free)
        if gnorm <= grad_tol:
            stop = "gradient"
            break
        if it >= max_iter:
            break
        it += 1
        pred = -float(g @ p)  # first-order decrease of the full step
        if pred < 1e-13 * abs(f):  # below rounding: the projected gradient decides
            xn = np.clip(x + p, lo, hi)
            fn, gn, Hn = fun(xn, True)
            evals += 1
            pgn, act_n = projected_gradient(xn, gn, lo, hi)
            if fn <= f + 1e-13 * abs(f) and np.linalg.norm(pgn) < gnorm:
                x, f, g, H, pg, active = xn, fn, gn, Hn, pgn, act_n
                continue
            stop = "stalled"
            break
        best_t, best_f, t = 0.0, f, 1.0
        while t >= 1e-10:
            ft = fun(np.clip(x + t * p, lo, hi), False)
            evals += 1
            if ft < best_f:
                best_t, best_f = t, ft
                break
            t /= 2
        quad = -(float(g @ p) + 0.5 * float(p @ H @ p))  # the quadratic model's decrease
        if best_t == 1.0 and f - best_f > 1.05 * quad:
            # the full step decreased f by more than the model predicts (flatter than
            # quadratic, as along an over-specified cell): try longer steps
            t = 2.0
            while t <= 64:
                ft = fun(np.clip(x + t * p, lo, hi), False)
                evals += 1
                if not ft < best_f:
                    break
                best_t, best_f, t = t, ft, 2 * t
        if best_t == 0.0:
            stop = "stalled"
            break
        x_old, x = x, np.clip(x + best_t * p, lo, hi)
        f, g, H = fun(x, True)
        evals += 1
        pg, active = projected_gradient(x, g, lo, hi)
        if halt is not None and best_t < 1.0 and halt(x_old, x):
            stop = "halted"
            break
    return NewtonOutcome(x, float(f), float(np.linalg.norm(pg)), stop, it, evals,
                         int(active.sum()), dec)

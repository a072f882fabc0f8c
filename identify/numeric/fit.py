"""Fitting a k-atom mixture, with a certificate of where each fit stopped.

- Least squares: Levenberg-Marquardt (:mod:`identify.numeric.lm`, numpy, stopped on the
  gradient test; scipy's bounded trust-region reflective method when a parameter must stay
  positive or LM leaves the compact box) with the analytic Jacobian; objective RSS / n.
- Gaussian MoE: a few EM iterations to get close (:mod:`identify.numeric.em`), then a
  second-order method on the full objective -log-likelihood / n
  (:func:`identify.numeric.newton.newton_minimise`) with the analytic Hessian
  (:mod:`identify.numeric.hessian`, from the same sympy model) or, for models without one,
  central differences of the analytic gradient.
- Starts: the papers' protocol (every true atom gets at least one fitted atom, the extra
  atoms go to true atoms at random, seeded per task; small noise around the truth shrinking
  like n^-0.083), ``split:J`` (every extra atom at true atom J, 1-based), or random starts;
  several starts, the best objective wins.

Every fit ends with a certificate: the objective, the norm of its gradient (the projected
gradient when a bound is active) and the declared tolerance, and the truth's objective on
the same data. For the 1-D Laplace gate, whose objective has a kink in each centre W_i at
every data point, ``grad_norm`` is the piecewise-smooth residual of
:mod:`identify.numeric.kinks` (the steepest one-sided descent rate of each coordinate on a
kink; the minimum-norm subgradient for a convex kink), ``kinks`` says which coordinates sat
on a kink with their one-sided derivatives, and a smooth phase that stalls next to a kink
continues with Newton over the intervals between kinks. In d > 1 the score's kinks are
cone points W_i = x_m (:mod:`identify.numeric.cones`): a fit that stalls next to one is put
on it, finished with W_i held there, and certified by the cone's subgradient test. The
status is exactly one of

- ``converged``: the gradient test passed (grad_norm <= grad_tol) and the objective is not
  worse than the truth's;
- ``local``: the gradient test passed at an objective worse than the truth's (a local
  optimum; RSS(fit) > RSS(truth), or loglik(fit) < loglik(truth));
- ``budget``: stopped on an iteration or evaluation cap before the gradient test passed;
- ``failed``: an error or a stall (no step improves the objective nor the gradient), with
  the reason.

Nothing depends on time: identical inputs give identical results (``seconds`` is reported
apart and is not part of a fit's identity).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import least_squares
from threadpoolctl import threadpool_limits

from identify.errors import ConfigError
from identify.numeric.compile import NumericModel
from identify.numeric.cones import cone_phase, cone_set
from identify.numeric.em import em_iteration
from identify.numeric.hessian import LoglikKernel, fd_hessian, has_analytic_hessian, loglik_value
from identify.numeric.kinks import kink_halt, kink_phase, kink_set
from identify.numeric.lm import levenberg_marquardt
from identify.numeric.newton import NewtonOutcome, newton_minimise, projected_gradient
from identify.numeric.ridges import ridge_phase, ridge_set

__all__ = ["FitSettings", "FitResult", "initial_points", "fit", "cell_owners", "parse_init",
           "check_init", "truth_objective", "CERTIFICATE_KEYS"]

#: the keys of :meth:`FitResult.to_dict` that certify a fit (stable names, consumed by sweeps)
CERTIFICATE_KEYS = ("status", "reason", "objective", "grad_norm", "grad_tol", "truth_objective",
                    "iterations", "method", "active_bounds", "starts", "kinks")


@dataclass(frozen=True)
class FitSettings:
    """How to fit. ``init``: ``near-truth`` (the papers' protocol), ``split:J`` (the extra
    atoms at true atom J, 1-based), ``random`` or ``mixed`` (near-truth, then random)."""

    init: str = "near-truth"
    restarts: int = 2
    init_noise: float = 0.1
    max_nfev: int = 2000           # least squares: residual evaluations per start
    # Gaussian MoE: EM warm-up iterations (at most); None: 0 from near-truth and split starts
    # (already close; at n = 1e5 an EM iteration costs ~8 Newton iterations and did not shorten
    # the Newton phase), 20 from random ones
    em_iterations: int | None = None
    em_tol: float = 1e-6           # ... stopped early when |delta loglik| / n < em_tol
    em_mstep_iterations: int = 5   # a generalised EM step needs an improvement, not the optimum
    newton_iterations: int = 200   # second-order iterations per start (the cap: "budget")
    grad_tol: float = 1e-8         # the gradient test: |grad objective| <= grad_tol
    box: float = 10.0  # parameters live in [-box * scale, box * scale], scale = max(1, |truth|)

    def __post_init__(self) -> None:
        parse_init(self.init)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_init(init: str) -> tuple[str, int | None]:
    """``near-truth`` / ``random`` / ``mixed`` / ``split:J`` -> (kind, J - 1 or None)."""
    if init in ("near-truth", "random", "mixed"):
        return init, None
    if init.startswith("split:"):
        try:
            j = int(init.split(":", 1)[1])
        except ValueError:
            j = 0
        if j >= 1:
            return "split", j - 1
    raise ConfigError(f"init must be near-truth, random, mixed or split:J (J >= 1, a true atom), "
                      f"got {init!r}", where="init")


def check_init(init: str, k_true: int) -> None:
    """Refuse ``split:J`` for a truth without an atom J (one clear error before any fit)."""
    _, at = parse_init(init)
    if at is not None and at >= k_true:
        raise ConfigError(f"split:{at + 1}: the truth has atoms 1..{k_true}", where="init")


@dataclass(frozen=True)
class FitResult:
    theta: np.ndarray
    status: str
    reason: str | None
    iterations: int
    objective: float
    grad_norm: float
    seconds: float
    starts: int
    grad_tol: float = float("nan")
    truth_objective: float | None = None
    method: str = ""
    active_bounds: int = 0
    # the Laplace gate's kinks (identify.numeric.kinks): the coordinates on a kink, their
    # one-sided derivatives and the residual norms; None for a smooth objective
    kinks: dict | None = None

    def to_dict(self) -> dict:
        """The certificate (:data:`CERTIFICATE_KEYS`) and ``seconds`` (wall time: keep it out
        of identity checks)."""
        out = {"status": self.status, "reason": self.reason, "iterations": self.iterations,
               "objective": self.objective, "grad_norm": self.grad_norm,
               "grad_tol": self.grad_tol, "truth_objective": self.truth_objective,
               "method": self.method, "active_bounds": self.active_bounds,
               "starts": self.starts, "kinks": self.kinks,
               "seconds": round(self.seconds, 4)}
        return out


def cell_owners(k: int, k_true: int, rng: np.random.Generator | None = None,
                at: int | None = None) -> list[int]:
    """Which true atom each fitted atom starts near (0-based). Every true atom gets at least
    one fitted atom; the k - k* extra atoms go to true atom ``at`` (split), else to true
    atoms drawn uniformly with ``rng``, else round robin. The last fitted atom (the softmax
    reference, its pinned parameters at 0) is always on the last true atom (the reference)."""
    if k < k_true:
        return list(range(k - 1)) + [k_true - 1]
    extra = k - k_true
    if at is not None:
        check_init(f"split:{at + 1}", k_true)
        extras = [at] * extra
    elif rng is not None:
        extras = [int(j) for j in rng.integers(0, k_true, size=extra)]
    else:
        extras = [j % k_true for j in range(extra)]
    return list(range(k_true - 1)) + sorted(extras) + [k_true - 1]


def _bounds(nm: NumericModel, box: float = np.inf) -> tuple[np.ndarray, np.ndarray]:
    """The compact parameter space of the theory: |theta| <= box; nu, tau > 0."""
    lo, hi = np.full(nm.n_free, -box), np.full(nm.n_free, box)
    free = [s for s in nm.slots if s.free]
    for j, sl in enumerate(free):
        if sl.symbol in ("nu", "tau") or sl.symbol.startswith("nu_"):
            lo[j] = 1e-6
    return lo, hi


def initial_points(nm: NumericModel, nm_true: NumericModel, theta_true: np.ndarray, n: int,
                   rng: np.random.Generator, settings: FitSettings) -> list[np.ndarray]:
    """Starting points for the fit of ``nm`` (k atoms) to data from the truth. The cell
    assignment is drawn once per task (all restarts share it); the noise per restart."""
    At, sh = nm_true.split(nm_true.full(theta_true))
    kind, at = parse_init(settings.init)
    owners = cell_owners(nm.k, nm_true.k, rng if kind != "split" else None, at)
    sizes = np.bincount(owners, minlength=nm_true.k)
    names = [s.name for s in nm.atom_syms]
    lo, _ = _bounds(nm)
    starts = []
    for r in range(max(1, settings.restarts)):
        if kind == "random" or (kind == "mixed" and r > 0):
            atoms = rng.uniform(-2, 2, size=(nm.k, nm.n_atom))
            for v, name in enumerate(names):
                if name == "nu" or name.startswith("nu_"):
                    atoms[:, v] = rng.uniform(0.05, 1.0, size=nm.k)
            shared = rng.uniform(0.5, 2.0, size=len(sh))
        else:
            sd = settings.init_noise * n ** -0.083
            atoms = At[owners].copy() + sd * rng.normal(size=(nm.k, nm.n_atom))
            if "beta0" in names and nm.gate.normaliser != "sigmoid":
                b0 = names.index("beta0")  # the cell's weight split evenly among its atoms
                atoms[:, b0] = At[owners, b0] + math.log(sizes[-1]) - np.log(sizes[owners])
            for v, name in enumerate(names):  # variances start at the truth's (positive)
                if name == "nu" or name.startswith("nu_"):
                    atoms[:, v] = At[owners, v]
            shared = sh.copy()
        theta = nm.pack(atoms, shared)
        starts.append(np.maximum(theta, np.where(np.isfinite(lo), lo * 10, -np.inf)))
    return starts


def truth_objective(nm_true: NumericModel, theta_true: np.ndarray, X, y) -> float:
    """The truth's objective on the data: RSS / n (least squares) or -loglik / n (MLE)."""
    if nm_true.gaussian:  # the value alone (the chunked pass where there is one)
        v = (loglik_value(nm_true, X, y, theta_true) if has_analytic_hessian(nm_true)
             else nm_true.loglik(X, y, theta_true)[0])
        return -v / len(y)
    return float(np.mean((nm_true.predict(X, theta_true) - y) ** 2))


# -- least squares ------------------------------------------------------------------------

def _one_blas_thread(fit_fn):
    """Run a fit with one BLAS thread: its products are small or tall-and-narrow (the QR of
    a least-squares Jacobian, 13 x 13 Hessians on 5 x 4096 blocks), gain nothing from threads
    (a contended second thread made the QR 30x slower), and the result must not depend on
    the thread count (sweeps run their fits with one thread)."""
    def run(*args):
        with threadpool_limits(limits=1, user_api="blas"):
            return fit_fn(*args)
    run.__name__, run.__doc__ = fit_fn.__name__, fit_fn.__doc__
    return run


@_one_blas_thread
def _lse(nm: NumericModel, X, y, x0, settings: FitSettings, box: float):
    n = len(y)
    lo, hi = _bounds(nm, box)
    positive = bool(np.any(lo > -box))

    def residual(th):
        return nm.predict(X, th) - y

    def jacobian(th):
        return nm.jacobian(X, th)

    def trf(start, budget: int, tol: float = 1e-8):
        return least_squares(residual, start, jac=jacobian, bounds=(lo, hi), method="trf",
                             x_scale="jac", max_nfev=budget, ftol=tol, xtol=tol, gtol=tol)

    def certificate(th):
        r = residual(th)
        g = 2.0 * (jacobian(th).T @ r) / n  # gradient of RSS / n
        pg, active = projected_gradient(th, g, lo, hi)
        return float(np.mean(r**2)), float(np.linalg.norm(pg)), int(active.sum())

    # Levenberg-Marquardt (identify.numeric.lm: numpy, stopped on the gradient test, bitwise
    # reproducible) converges far faster on these ill-conditioned problems than the bounded
    # trust-region method, which is used only when a parameter must stay positive or when LM
    # leaves the compact box (an over-fitted atom running off).
    method, nfev, budget = "lm", 0, False
    if not positive:
        out = levenberg_marquardt(residual, jacobian, x0, grad_tol=settings.grad_tol,
                                  max_nfev=settings.max_nfev, box=box)
        nfev, theta, budget = out.evaluations, out.theta, out.stop == "budget"
    if positive or out.stop == "outside":
        method = "trf"
        res = trf(np.clip(x0, lo, hi),
                  settings.max_nfev if positive else max(50, settings.max_nfev // 4))
        nfev += int(res.nfev)
        theta, budget = res.x, res.status == 0
    obj, grad, active = certificate(theta)
    if method == "trf" and grad > settings.grad_tol and not budget and nfev < settings.max_nfev:
        # trf stopped on its relative tolerances, not on the gradient test: continue with
        # them at rounding level, within what is left of the budget
        res = trf(theta, settings.max_nfev - nfev, 1e-15)
        nfev += int(res.nfev)
        if np.mean(res.fun**2) <= obj:
            theta = res.x
            obj, grad, active = certificate(theta)
        budget = res.status == 0
    def fun(th, hessian):  # RSS / n with its gradient and a central-difference Hessian
        r = residual(th)
        f = float(np.mean(r**2))
        if not hessian:
            return f

        def grad_of(t):
            return 2.0 * (jacobian(t).T @ residual(t)) / n
        return f, grad_of(th), fd_hessian(grad_of, th)
    ks = kink_set(nm, X)
    if grad > settings.grad_tol and (not budget or ks is not None):
        # stalled before the gradient test (or, at the Laplace gate's kinks, stopped on the
        # budget there): polish with Newton on RSS / n
        out = newton_minimise(fun, np.clip(theta, lo, hi), lo, hi, grad_tol=settings.grad_tol,
                              max_iter=max(10, settings.newton_iterations // 4),
                              halt=None if ks is None else kink_halt(ks))
        if out.value <= obj:
            theta, method = out.theta, method + "+newton"
            obj, grad, active = certificate(theta)
        budget = out.stop == "budget"
    stop = "gradient" if grad <= settings.grad_tol else "budget" if budget else "stalled"
    if ks is None:
        cs = cone_set(nm)
        if cs is None:
            ridged = _ridges(nm, X, y, fun, theta, obj, stop, lo, hi, settings)
            if ridged is not None:
                rp, snapped = ridged
                return (rp.theta, rp.stop, nfev + rp.iterations, rp.value, rp.certificate.norm,
                        0, method + snapped, rp.certificate)
            return theta, stop, nfev, obj, grad, active, method, None
        cp = cone_phase(nm, X, y, fun, theta, obj, stop, lo, hi, cs, grad_tol=settings.grad_tol,
                        max_iter=settings.newton_iterations)
        if cp.snapped:
            method += f"+cones({', '.join(cp.snapped)})"
        return (cp.theta, cp.stop, nfev + cp.iterations, cp.value, cp.certificate.norm,
                cp.active, method, cp.certificate)
    # the Laplace gate's kinks: the cell phase when the smooth phases did not pass, and in
    # every case the certificate (the smooth gradient is the midpoint of one-sided ones there)
    smooth = NewtonOutcome(theta, obj, grad, "gradient" if stop == "gradient" else "stalled",
                           0, 0, active, float("nan"))
    kp = kink_phase(nm, X, y, fun, smooth, ks, lo, hi, grad_tol=settings.grad_tol,
                    max_iter=settings.newton_iterations)
    if kp.rounds is not None:
        method += f"+kinks({kp.rounds} moves)"
    return (kp.theta, kp.stop, nfev + kp.iterations, kp.value, kp.certificate.norm, kp.active,
            method, kp.certificate)


def _ridges(nm, X, y, fun, theta, value, stop, lo, hi, settings):
    """A ReLU expert's kinks (identify.numeric.ridges): (phase, method suffix) when the fit
    stopped short of its gradient test next to one and the point on it is certified."""
    rs = ridge_set(nm)
    if rs is None or stop == "gradient":
        return None
    rp = ridge_phase(nm, X, y, fun, theta, value, stop, lo, hi, rs, grad_tol=settings.grad_tol,
                     max_iter=settings.newton_iterations)
    if rp.certificate is None:
        return None
    released = f", {rp.released} released" if rp.released else ""
    return rp, f"+ridges({len(rp.snapped)} on a kink{released})"


# -- Gaussian MoE -------------------------------------------------------------------------

@_one_blas_thread
def _gaussian(nm: NumericModel, X, y, x0, settings: FitSettings, box: float):
    n = len(y)
    lo, hi = _bounds(nm, box)
    theta = np.clip(x0, lo, hi)
    prev, em_it = None, 0
    cap = settings.em_iterations
    if cap is None:
        cap = 20 if parse_init(settings.init)[0] in ("random", "mixed") else 0
    for em_it in range(1, cap + 1):  # noqa: B007 (reported below)
        new, value = em_iteration(nm, X, y, theta, box, list(zip(lo, hi, strict=True)),
                                  settings.em_mstep_iterations)
        if prev is not None and abs(value - prev) / n < settings.em_tol:
            break  # the log-likelihood at theta has settled: keep theta
        prev, theta = value, np.clip(new, lo, hi)
    analytic = has_analytic_hessian(nm)
    kernel = LoglikKernel(nm, X, y) if analytic else None  # the data prepared once per fit

    def fun(th, hessian):
        if not hessian:
            v = kernel.value(th) if analytic else nm.loglik(X, y, th)[0]
            return -v / n if np.isfinite(v) else np.inf
        if analytic:
            v, g, H = kernel.hessian(th)
        else:
            v, g = nm.loglik(X, y, th)
            H = fd_hessian(lambda t: nm.loglik(X, y, t)[1], th)
        return (-v / n, -g / n, -H / n) if np.isfinite(v) else (np.inf, g * 0, H * 0)
    ks = kink_set(nm, X)
    out = newton_minimise(fun, theta, lo, hi, grad_tol=settings.grad_tol,
                          max_iter=settings.newton_iterations,
                          halt=None if ks is None else kink_halt(ks))
    method = f"em({em_it})+newton({'analytic' if analytic else 'fd'} hessian)"
    if ks is None:
        cs = cone_set(nm)
        if cs is None:
            ridged = _ridges(nm, X, y, fun, out.theta, out.value, out.stop, lo, hi, settings)
            if ridged is not None:
                rp, snapped = ridged
                return (rp.theta, rp.stop, em_it + out.iterations + rp.iterations, rp.value,
                        rp.certificate.norm, 0, method + snapped, rp.certificate)
            return (out.theta, out.stop, em_it + out.iterations, out.value, out.grad_norm,
                    out.active, method, None)
        cp = cone_phase(nm, X, y, fun, out.theta, out.value, out.stop, lo, hi, cs,
                        grad_tol=settings.grad_tol, max_iter=settings.newton_iterations)
        if cp.snapped:
            method += f"+cones({', '.join(cp.snapped)})"
        return (cp.theta, cp.stop, em_it + out.iterations + cp.iterations, cp.value,
                cp.certificate.norm, cp.active, method, cp.certificate)
    # the Laplace gate's kinks: the cell phase after a stall or halt, and the certificate
    kp = kink_phase(nm, X, y, fun, out, ks, lo, hi, grad_tol=settings.grad_tol,
                    max_iter=settings.newton_iterations)
    if kp.rounds is not None:
        method += f"+kinks({kp.rounds} moves)"
    return (kp.theta, kp.stop, em_it + out.iterations + kp.iterations, kp.value,
            kp.certificate.norm, kp.active, method, kp.certificate)


def fit(nm: NumericModel, X: np.ndarray, y: np.ndarray, starts: list[np.ndarray],
        settings: FitSettings, scale: float = 1.0,
        truth: tuple[NumericModel, np.ndarray] | None = None) -> FitResult:
    """Fit from every start; keep the best objective. Never raises on numerical trouble.

    Parameters are kept in the compact box |theta| <= settings.box * scale (the theory's
    compact parameter space; without it an over-fitted atom of vanishing weight can run off
    to infinity at small n). ``truth`` = (its model, its parameters): its objective on the
    same data certifies the fit (without it, ``local`` cannot be told from ``converged``)."""
    box = settings.box * max(1.0, scale)
    t0 = time.perf_counter()
    best = None
    reasons = []
    total_it = 0
    for x0 in starts:
        try:
            with np.errstate(all="ignore"):
                out = (_gaussian if nm.gaussian else _lse)(nm, X, y, np.clip(x0, -box, box),
                                                           settings, box)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError, OverflowError) as exc:
            reasons.append(f"{type(exc).__name__}: {exc}")
            continue
        theta, stop, it, obj, grad, active, method, _ = out
        total_it += it
        if not np.all(np.isfinite(theta)) or not np.isfinite(obj):
            reasons.append("non-finite parameters or objective")
            continue
        if best is None or obj < best[3]:
            best = out
    ref = None
    if truth is not None:
        with np.errstate(all="ignore"):
            ref = float(truth_objective(truth[0], truth[1], X, y))
    seconds = time.perf_counter() - t0
    if best is None:
        return FitResult(starts[0], "failed", "; ".join(reasons) or "no start succeeded",
                         total_it, float("nan"), float("nan"), seconds, len(starts),
                         settings.grad_tol, ref, "")
    theta, stop, _, obj, grad, active, method, kcert = best
    reason = None
    if stop == "budget":
        status = "budget"
        reason = f"iteration cap reached at gradient norm {grad:.3g} > {settings.grad_tol:g}"
    elif stop == "stalled":
        status = "failed"
        what = "gradient norm" if kcert is None else "stationarity residual (kinks)"
        reason = (f"stalled: no step lowers the objective or the {what} "
                  f"{grad:.3g} > {settings.grad_tol:g}")
    elif ref is not None and obj > ref + 1e-12 * max(1.0, abs(ref)):
        status = "local"
        reason = f"a stationary point worse than the truth: objective {obj:.10g} > {ref:.10g}"
    else:
        status = "converged"
    return FitResult(theta, status, reason, total_it, obj, grad, seconds, len(starts),
                     settings.grad_tol, ref, method, active,
                     None if kcert is None else kcert.to_dict())

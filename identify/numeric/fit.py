"""Fitting a k-atom mixture: least squares and the Gaussian MoE's maximum likelihood.

- Least squares: trust-region reflective (``scipy.optimize.least_squares``) with the
  analytic Jacobian, several starts, a per-start evaluation budget.
- Gaussian MoE: EM. For softmax-type gates the M-step is weighted least squares for each
  expert (exact for experts linear in their parameters), the closed-form variances, and
  Fisher scoring (IRLS) for the gate with step halving; for the other gates a short
  L-BFGS-B step on the EM surrogate Q (a generalised EM). Then a quasi-Newton polish of the
  full log-likelihood with its analytic gradient. Over-specified EM crawls (its iteration count
  grows like a power of n), so it stops on the gradient norm *and* the parameter change,
  and its iteration cap grows with n.
- Initialisation: the papers' protocol (every true atom gets at least one fitted atom,
  weights split inside a cell, small noise around the truth shrinking like n^-0.083), or
  random starts.

Every fit returns a :class:`FitResult` with a status (converged / budget / failed), the
iterations, objective, gradient norm and time; a failure is a result with its reason, never
an exception.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import least_squares, minimize

from identify.numeric.compile import NumericModel

__all__ = ["FitSettings", "FitResult", "initial_points", "fit", "cell_owners"]


@dataclass(frozen=True)
class FitSettings:
    """How to fit. ``init``: ``near-truth`` (the papers' protocol) or ``random``."""

    init: str = "near-truth"
    restarts: int = 2
    init_noise: float = 0.1
    max_nfev: int = 2000
    em_iterations: int = 60
    em_tol: float = 1e-6
    em_mstep_iterations: int = 5  # a generalised EM step needs an improvement, not the optimum
    polish_iterations: int = 300
    box: float = 10.0  # parameters live in [-box * scale, box * scale], scale = max(1, |truth|)

    def to_dict(self) -> dict:
        return asdict(self)


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

    def to_dict(self) -> dict:
        return {"status": self.status, "reason": self.reason, "iterations": self.iterations,
                "objective": self.objective, "grad_norm": self.grad_norm,
                "seconds": round(self.seconds, 4), "starts": self.starts}


def cell_owners(k: int, k_true: int) -> list[int]:
    """Which true atom each fitted atom starts near: the first k* - 1 one each, the extras
    round robin over the non-reference atoms, the last fitted atom on the reference atom."""
    if k < k_true:
        return list(range(k - 1)) + [k_true - 1]
    extras = [j % max(1, k_true - 1) for j in range(k - k_true)]
    return list(range(k_true - 1)) + extras + [k_true - 1]


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
    """Starting points for the fit of ``nm`` (k atoms) to data from the truth."""
    At, sh = nm_true.split(nm_true.full(theta_true))
    owners = cell_owners(nm.k, nm_true.k)
    sizes = np.bincount(owners, minlength=nm_true.k)
    names = [s.name for s in nm.atom_syms]
    lo, _ = _bounds(nm)
    starts = []
    for r in range(max(1, settings.restarts)):
        if settings.init == "random" or (settings.init == "mixed" and r > 0):
            atoms = rng.uniform(-2, 2, size=(nm.k, nm.n_atom))
            for v, name in enumerate(names):
                if name == "nu" or name.startswith("nu_"):
                    atoms[:, v] = rng.uniform(0.05, 1.0, size=nm.k)
            shared = rng.uniform(0.5, 2.0, size=len(sh))
        else:
            sd = settings.init_noise * n ** -0.083
            atoms = At[owners].copy() + sd * rng.normal(size=(nm.k, nm.n_atom))
            if "beta0" in names and nm.gate.normaliser != "sigmoid":
                b0 = names.index("beta0")
                atoms[:, b0] = At[owners, b0] + math.log(sizes[-1]) - np.log(sizes[owners])
            for v, name in enumerate(names):  # variances start at the truth's (positive)
                if name == "nu" or name.startswith("nu_"):
                    atoms[:, v] = At[owners, v]
            shared = sh.copy()
        theta = nm.pack(atoms, shared)
        starts.append(np.maximum(theta, np.where(np.isfinite(lo), lo * 10, -np.inf)))
    return starts


def _lse(nm: NumericModel, X, y, x0, settings: FitSettings, box: float):
    lo, hi = _bounds(nm, box)
    positive = bool(np.any(lo > -box))

    def run(method: str, bounded: bool, budget: int):
        return least_squares(lambda th: nm.predict(X, th) - y, x0,
                             jac=lambda th: nm.jacobian(X, th),
                             bounds=(lo, hi) if bounded else (-np.inf, np.inf),
                             method=method, x_scale="jac", max_nfev=budget)

    # Levenberg-Marquardt (MINPACK) converges far faster on these ill-conditioned problems
    # than the bounded trust-region method, which is used only when a parameter must stay
    # positive or when LM leaves the compact box (an over-fitted atom running off).
    res = run("trf", True, settings.max_nfev) if positive else run("lm", False, settings.max_nfev)
    if not positive and np.any(np.abs(res.x) > box):
        res = run("trf", True, max(50, settings.max_nfev // 4))
    grad = float(np.linalg.norm(nm.jacobian(X, res.x).T @ res.fun)) / len(y)
    status = "converged" if res.status > 0 else "budget" if res.status == 0 else "failed"
    return res.x, status, int(res.nfev), float(np.mean(res.fun**2)), grad


def _gaussian(nm: NumericModel, X, y, x0, settings: FitSettings, box: float):
    n = len(y)
    lo, hi = _bounds(nm, box)
    bounds = list(zip(lo, hi, strict=True))
    theta = x0.copy()
    cap = int(settings.em_iterations * (n / 100) ** 0.25)
    status, it = "budget", 0
    classic = nm.gate.normaliser in ("softmax", "top-k") and not nm.density
    for it in range(1, cap + 1):  # noqa: B007  (it is reported after the loop)
        gamma = nm.responsibilities(X, y, theta)
        if classic:  # weighted least squares for the experts, Fisher scoring for the gate
            new = _m_step(nm, X, y, theta, gamma, box)
        else:  # gates without a multinomial form: a short quasi-Newton step on Q

            def negq(th, gamma=gamma):
                v, g = nm.loglik(X, y, th, gamma)
                return (-v / n, -g / n) if np.isfinite(v) else (np.inf, np.zeros_like(g))
            new = minimize(negq, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                           options={"maxiter": settings.em_mstep_iterations}).x
        change = float(np.linalg.norm(new - theta)) / (1 + float(np.linalg.norm(theta)))
        theta = new
        _, g = nm.loglik(X, y, theta)
        if change < settings.em_tol and float(np.linalg.norm(g)) / n < 1e-4:
            status = "converged"
            break

    def negll(th):
        v, g = nm.loglik(X, y, th)
        return (-v / n, -g / n) if np.isfinite(v) else (np.inf, np.zeros_like(g))
    res = minimize(negll, theta, jac=True, method="L-BFGS-B", bounds=bounds,
                   options={"maxiter": settings.polish_iterations, "gtol": 1e-9})
    theta = res.x
    v, g = nm.loglik(X, y, theta)
    grad = float(np.linalg.norm(g)) / n
    if res.success or grad < 1e-5:
        status = "converged"
    return theta, status, it + int(res.nit), -v / n, grad


def _m_step(nm: NumericModel, X, y, theta, gamma, box: float) -> np.ndarray:
    """One EM M-step for a softmax-type gate.

    Experts: for each atom, weighted least squares of y on h(x; eta) with weights gamma_i
    (Levenberg-Marquardt; exact in one step when h is linear in eta), then the closed-form
    variance nu_i = sum gamma_i (y - h_i)^2 / sum gamma_i. Gate: Fisher scoring (IRLS) on
    Q_gate = sum_n sum_i gamma_ni log g_i(x_n) with step halving.
    """
    atoms, shared = nm.split(nm.full(theta))
    ng, ne = len(nm.gate_syms), len(nm.expert_syms)
    e_idx = list(range(ng, ng + ne))
    for i in range(nm.k):
        w = gamma[:, i]
        sw = np.sqrt(w)
        if ne:
            def res(eta, i=i, sw=sw):
                a = atoms[i].copy()
                a[e_idx] = eta
                return sw * (nm._call(nm._h, X, a, shared) - y)

            def jac(eta, i=i, sw=sw):
                a = atoms[i].copy()
                a[e_idx] = eta
                return np.column_stack([sw * nm._call(f, X, a, shared) for f in nm._dh])
            r = least_squares(res, atoms[i, e_idx], jac=jac, method="lm", max_nfev=50)
            if np.all(np.abs(r.x) <= box):
                atoms[i, e_idx] = r.x
        resid = y - nm._call(nm._h, X, atoms[i], shared)
        atoms[i, -1] = max(float(np.sum(w * resid**2) / max(np.sum(w), 1e-300)), 1e-8)
    theta = nm.pack(atoms, shared)
    return _gate_scoring(nm, X, theta, gamma)


def _gate_scoring(nm: NumericModel, X, theta, gamma, steps: int = 3) -> np.ndarray:
    """Fisher scoring for the gate parameters: grad = sum_n D_n^T (gamma_n - g_n),
    Fisher = sum_n D_n^T (diag g_n - g_n g_n^T) D_n, D_n[i, p] = d s_i / d phi_p."""
    gate_free = np.array([j for j, sl in enumerate(s for s in nm.slots if s.free)
                          if sl.atom is None or _slot_index(nm, sl) < len(nm.gate_syms)])
    if gate_free.size == 0:
        return theta

    def q_and_parts(th):
        full = nm.full(th)
        atoms, shared = nm.split(full)
        S, G, _ = nm.parts(X, full)
        with np.errstate(divide="ignore"):
            q = float(np.sum(np.where(gamma > 0, gamma * np.log(G), 0.0)))
        return q, atoms, shared, G

    q, atoms, shared, G = q_and_parts(theta)
    for _ in range(steps):
        D = _score_jacobian(nm, X, atoms, shared)[:, :, gate_free]  # n x k x P
        grad = np.einsum("nip,ni->p", D, gamma - G)
        t = np.einsum("nip,ni->np", D, G)
        fisher = np.einsum("nip,ni,niq->pq", D, G, D) - t.T @ t
        try:
            step = np.linalg.solve(fisher + 1e-9 * np.eye(len(grad)) * (1 + np.trace(fisher)),
                                   grad)
        except np.linalg.LinAlgError:
            break
        for _halving in range(20):
            cand = theta.copy()
            cand[gate_free] += step
            qc, ac, sc, Gc = q_and_parts(cand)
            if np.isfinite(qc) and qc >= q:
                theta, q, atoms, shared, G = cand, qc, ac, sc, Gc
                break
            step = step / 2
        else:
            break
    return theta


def _slot_index(nm: NumericModel, slot) -> int:
    return [s.name for s in nm.atom_syms].index(slot.symbol)


def _score_jacobian(nm: NumericModel, X, atoms, shared) -> np.ndarray:
    """d s_i(x_n) / d theta_free_j for every free slot: n x k x n_free (0 off the atom)."""
    free = [s for s in nm.slots if s.free]
    out = np.zeros((X.shape[0], nm.k, len(free)))
    dS = nm._dscores(X, atoms, shared)
    ng = len(nm.gate_syms)
    for j, sl in enumerate(free):
        if sl.atom is None:  # shared (temperature): every atom's score
            p = ng + [s.name for s in nm.shared_syms].index(sl.symbol)
            for i in range(nm.k):
                out[:, i, j] = dS[i][p]
        else:
            p = _slot_index(nm, sl)
            if p < ng:
                out[:, sl.atom, j] = dS[sl.atom][p]
    return out


def fit(nm: NumericModel, X: np.ndarray, y: np.ndarray, starts: list[np.ndarray],
        settings: FitSettings, scale: float = 1.0) -> FitResult:
    """Fit from every start; keep the best objective. Never raises on numerical trouble.

    Parameters are kept in the compact box |theta| <= settings.box * scale (the theory's
    compact parameter space; without it an over-fitted atom of vanishing weight can run off
    to infinity at small n)."""
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
        theta, status, it, obj, grad = out
        total_it += it
        if not np.all(np.isfinite(theta)) or not np.isfinite(obj):
            reasons.append("non-finite parameters or objective")
            continue
        if best is None or obj < best[3]:
            best = (theta, status, it, obj, grad)
    seconds = time.perf_counter() - t0
    if best is None:
        return FitResult(starts[0], "failed", "; ".join(reasons) or "no start succeeded",
                         total_it, float("nan"), float("nan"), seconds, len(starts))
    theta, status, _, obj, grad = best
    return FitResult(theta, status, None, total_it, obj, grad, seconds, len(starts))

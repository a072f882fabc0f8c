"""Benchmark: fitting speed and quality against baselines timed in the same run.

Times are CPU seconds of this process (``time.process_time``: core-seconds, all threads), so
another job on the machine does not inflate them much; ratios are within one run.

1. Least squares at n = 1e4 (tanh experts, softmax, k = 3 fitted to k* = 2): our fit
   (Levenberg-Marquardt with the analytic Jacobian and the gradient certificate) against
   scipy's ``least_squares`` with finite differences (``jac="2-point"``), same data, same start.
2. The over-fitted Gaussian MoE of arXiv:2305.03288 (preset softmax-gaussian-linear: softmax
   gate, linear experts, k = 3 fitted to k* = 2, n = 1e5, inputs on a grid in [0, 1]): one fit
   with the default settings (one start of the papers' protocol), its certificate, against a
   reference EM written the way the authors' code works (meteorits' emNMoE: E-step; weighted
   least squares per expert and closed-form variances; the gate by IRLS to convergence;
   stopped when the relative change of the log-likelihood is below 1e-6, at most 2000
   iterations), on identical data and from the identical start: time, iterations, final
   log-likelihood and gradient norm of both.
3. One iteration, timed at the point where the fit ends (where an EM run near convergence
   is): our EM iteration (E-step with the log-likelihood its stopping rule uses, WLS + IRLS
   M-step), the reference EM's iteration (likewise with its stopping rule), one Newton
   iteration's derivatives (log-likelihood, gradient and analytic Hessian) and the floor: one
   vectorised pass over the data (the mixture's values).

4. ``--seeds 1,2,3,4 [--runs R]``: the over-fitted Gaussian fit alone (ours, no reference), R
   runs per seed, each fit's core-seconds, with the load average seen.

Everything runs with one BLAS thread (threadpoolctl), as the sweeps do.

Run: ``make bench-fit`` or ``python benchmarks/bench_fit.py [--quick] [--seeds S --runs R]``.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import scipy.special as sp
from scipy.optimize import least_squares
from threadpoolctl import threadpool_limits

from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.em import em_iteration
from identify.numeric.fit import FitSettings, _bounds, fit, initial_points
from identify.numeric.hessian import loglik_hessian
from identify.numeric.truth import default_truth, load_preset, sample_data


def _cpu(f):
    t0 = time.process_time()
    out = f()
    return time.process_time() - t0, out


def _best_of(f, repeat: int = 5) -> float:
    return min(_cpu(f)[0] for _ in range(repeat))


def bench_lse(n: int = 10_000) -> None:
    model = build_model("tanh(a*x+b)")
    truth = default_truth(model)
    nm_true = NumericModel(model, 2)
    tt = truth.vector(nm_true)
    rng = np.random.default_rng(0)
    X, y = sample_data(nm_true, truth, n, rng)
    nm = NumericModel(model, 3)
    settings = FitSettings(restarts=1)
    x0 = initial_points(nm, nm_true, tt, n, rng, settings)[0]

    def ours():
        return fit(nm, X, y, [x0], settings, scale=4.0, truth=(nm_true, tt))

    def finite():
        return least_squares(lambda th: nm.predict(X, th) - y, x0, jac="2-point", method="lm",
                             x_scale="jac", max_nfev=2000 * (nm.n_free + 1))

    t1, r1 = _cpu(ours)
    t2, r2 = _cpu(finite)
    print(f"least squares, n = {n}, {nm.n_free} free parameters (tanh, softmax, k = 3):")
    print(f"  ours (LM, analytic Jacobian) {t1:8.3f} s  status {r1.status}, RSS/n "
          f"{r1.objective:.8g} (truth {r1.truth_objective:.8g}), |grad| {r1.grad_norm:.2e} "
          f"(tol {r1.grad_tol:g}), {r1.method}")
    print(f"  LM, finite differences       {t2:8.3f} s  ({r2.nfev} residual evaluations, "
          f"RSS/n {2 * r2.cost / n:.8g})")
    print(f"  ratio (finite / ours): {t2 / t1:.1f}x")


# -- the reference EM (the authors' algorithm, plain numpy, d = 1, linear experts) --------

def _ref_estep(X1, y, alpha, beta, sigma2):
    """alpha: 2 x K gate (last column 0), beta: 2 x K experts, sigma2: K."""
    S = X1 @ alpha
    logpi = S - sp.logsumexp(S, axis=1, keepdims=True)
    R = y[:, None] - X1 @ beta
    L = logpi - 0.5 * np.log(2 * np.pi * sigma2) - R**2 / (2 * sigma2)
    lse = sp.logsumexp(L, axis=1, keepdims=True)
    return np.exp(L - lse), float(lse.sum()), logpi


def _ref_irls(X1, tau, alpha, tol=1e-6, max_iter=300):
    """Multinomial logistic regression of the responsibilities on x (Newton-Raphson), the
    last class the reference: meteorits' IRLS."""
    K = tau.shape[1]
    w = alpha[:, :-1].T.reshape(-1).copy()  # (K-1) * 2

    def crit(w):
        A = np.column_stack([w.reshape(K - 1, 2).T, np.zeros(2)])
        S = X1 @ A
        logpi = S - sp.logsumexp(S, axis=1, keepdims=True)
        return float(np.sum(tau * logpi)), np.exp(logpi)
    q, pi = crit(w)
    for _ in range(max_iter):
        g = ((tau - pi)[:, :-1].T @ X1).reshape(-1)
        Hb = np.zeros((2 * (K - 1), 2 * (K - 1)))
        for i in range(K - 1):
            for j in range(K - 1):
                wij = pi[:, i] * ((i == j) - pi[:, j])
                Hb[2 * i:2 * i + 2, 2 * j:2 * j + 2] = (X1 * wij[:, None]).T @ X1
        w_new = w + np.linalg.solve(Hb + 1e-12 * np.eye(len(w)), g)
        q_new, pi_new = crit(w_new)
        done = abs(q_new - q) <= tol * abs(q)
        w, q, pi = w_new, q_new, pi_new
        if done:
            break
    return np.column_stack([w.reshape(K - 1, 2).T, np.zeros(2)])


def _ref_mstep(X1, y, tau, alpha):
    alpha = _ref_irls(X1, tau, alpha)
    K = tau.shape[1]
    beta, sigma2 = np.zeros((2, K)), np.zeros(K)
    for k in range(K):
        Xw = X1 * tau[:, k:k + 1]
        beta[:, k] = np.linalg.solve(Xw.T @ X1, Xw.T @ y)
        sigma2[k] = float(tau[:, k] @ (y - X1 @ beta[:, k]) ** 2 / tau[:, k].sum())
    return alpha, beta, sigma2


def reference_em(X1, y, alpha, beta, sigma2, max_iter=2000, eps=1e-6):
    prev = -np.inf
    for it in range(1, max_iter + 1):
        tau, ll, _ = _ref_estep(X1, y, alpha, beta, sigma2)
        if abs((ll - prev) / ll) < eps:
            return alpha, beta, sigma2, ll, it
        prev = ll
        alpha, beta, sigma2 = _ref_mstep(X1, y, tau, alpha)
    return alpha, beta, sigma2, _ref_estep(X1, y, alpha, beta, sigma2)[1], max_iter


def _to_ref(nm, theta):
    """Our layout (beta0, beta1, a, b, nu per atom) -> the authors' (alpha, beta, sigma2)."""
    atoms, _ = nm.split(nm.full(theta))
    alpha = np.array([atoms[:, 0], atoms[:, 1]])
    beta = np.array([atoms[:, 3], atoms[:, 2]])  # intercept b, slope a
    return alpha, beta, atoms[:, 4].copy()


def _from_ref(nm, alpha, beta, sigma2):
    return nm.pack(np.column_stack([alpha[0], alpha[1], beta[1], beta[0], sigma2]))


def bench_overfitted_gaussian(n: int = 100_000, seed: int = 1, reference: bool = True) -> None:
    nm, nm_true, tt, X, y, x0, settings = _gaussian_problem(n, seed)
    t_ours, res = _cpu(lambda: fit(nm, X, y, [x0], settings, scale=25.0, truth=(nm_true, tt)))
    print(f"over-fitted Gaussian MoE (arXiv:2305.03288's setup), n = {n}, k = 3 vs k* = 2, "
          f"{nm.n_free} free parameters, one start (seed {seed}):")
    print(f"  ours: {t_ours:7.2f} core-s  status {res.status}, {res.method}, "
          f"{res.iterations} iterations")
    print(f"        loglik/n {-res.objective:.10f} (truth {-res.truth_objective:.10f}), "
          f"|grad|/n {res.grad_norm:.2e} (tol {res.grad_tol:g})")
    X1 = np.column_stack([np.ones(n), X[:, 0]])
    if reference:
        t_ref, out = _cpu(lambda: reference_em(X1, y, *_to_ref(nm, x0)))
        th_ref = _from_ref(nm, *out[:3])
        g_ref = float(np.linalg.norm(nm.loglik(X, y, th_ref)[1])) / n
        print(f"  reference EM: {t_ref:7.2f} core-s  {out[4]} iterations "
              f"({'cap' if out[4] == 2000 else 'tol'}), loglik/n {out[3] / n:.10f}, "
              f"|grad|/n {g_ref:.2e}")
        print(f"  ratio (reference / ours): {t_ref / t_ours:.1f}x; loglik difference "
              f"(ours - reference) x n: {(-res.objective - out[3] / n) * n:.4f}")
    # one iteration, at the point where the fit ends
    th = res.theta
    lo, hi = _bounds(nm, 250.0)
    bounds = list(zip(lo, hi, strict=True))
    floor = _best_of(lambda: nm.predict(X, th), 10)
    em = _best_of(lambda: em_iteration(nm, X, y, th, 250.0, bounds, 5), 3)
    a, b, s2 = _to_ref(nm, th)

    def ref_iteration():
        tau, _, _ = _ref_estep(X1, y, a, b, s2)  # with the log-likelihood (stopping rule)
        _ref_mstep(X1, y, tau, a)
    ref_it = _best_of(ref_iteration, 3)
    newton = _best_of(lambda: loglik_hessian(nm, X, y, th), 5)
    print("  one iteration at the fitted point:")
    print(f"    floor: one pass (mixture values)          {floor * 1e3:8.2f} ms")
    print(f"    our EM iteration (E-step + loglik, M-step) {em * 1e3:8.2f} ms ({em / floor:.0f}x)")
    print(f"    reference EM iteration                     {ref_it * 1e3:8.2f} ms "
          f"({ref_it / floor:.0f}x)")
    print(f"    loglik + gradient + analytic Hessian       {newton * 1e3:8.2f} ms "
          f"({newton / floor:.0f}x)")


def _gaussian_problem(n: int, seed: int):
    model, truth, _ = load_preset("softmax-gaussian-linear")
    nm_true = NumericModel(model, truth.k)
    tt = truth.vector(nm_true)
    rng = np.random.default_rng(seed)
    X, y = sample_data(nm_true, truth, n, rng)
    nm = NumericModel(model, 3)
    settings = FitSettings(restarts=1)
    x0 = initial_points(nm, nm_true, tt, n, rng, settings)[0]
    return nm, nm_true, tt, X, y, x0, settings


def bench_seeds(seeds: list[int], runs: int = 3, n: int = 100_000) -> None:
    """Our over-fitted Gaussian fit alone: core-seconds of each of ``runs`` runs per seed."""
    print(f"over-fitted Gaussian MoE, n = {n}, one start, core-seconds per fit ({runs} runs):")
    for seed in seeds:
        nm, nm_true, tt, X, y, x0, settings = _gaussian_problem(n, seed)
        times = []
        for _ in range(runs):
            t0 = time.process_time()
            res = fit(nm, X, y, [x0], settings, scale=25.0, truth=(nm_true, tt))
            times.append(time.process_time() - t0)
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
        print(f"  seed {seed}: " + " ".join(f"{t:.2f}" for t in times)
              + f"  (min {min(times):.2f}, median {float(np.median(times)):.2f}) "
              f"{res.status}, {res.iterations} iterations, |grad|/n {res.grad_norm:.1e}, "
              f"n (loglik - truth) {(res.truth_objective - res.objective) * n:.2f}; load {load}")


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    quick = "--quick" in args
    with threadpool_limits(limits=1, user_api="blas"):
        if "--seeds" in args:
            seeds = [int(s) for s in args[args.index("--seeds") + 1].split(",")]
            runs = int(args[args.index("--runs") + 1]) if "--runs" in args else 3
            bench_seeds(seeds, runs, 10_000 if quick else 100_000)
            return 0
        bench_lse(2_000 if quick else 10_000)
        print()
        bench_overfitted_gaussian(10_000 if quick else 100_000, reference=not quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: fitting speed against baselines timed in the same run.

1. Least squares at n = 1e4 (tanh experts, softmax, k = 3 fitted to k* = 2): our fit with
   the analytic Jacobian against scipy's ``least_squares`` with finite differences
   (``jac="2-point"``), same data, same start, same method; ratio of wall times.
2. Gaussian MoE at n = 1e4 (linear experts, softmax, k = 3): the time of one log-likelihood
   + analytic gradient evaluation and of one EM iteration, against the floor: one
   vectorised pass over the data (evaluating the mixture once).

Run: ``make bench-fit`` or ``python benchmarks/bench_fit.py``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from scipy.optimize import least_squares

from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.fit import FitSettings, _m_step, initial_points
from identify.numeric.truth import default_truth, sample_data


def _best_of(f, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def bench_lse(n: int = 10_000) -> None:
    model = build_model("tanh(a*x+b)")
    truth = default_truth(model)
    nm_true = NumericModel(model, 2)
    rng = np.random.default_rng(0)
    X, y = sample_data(nm_true, truth, n, rng)
    nm = NumericModel(model, 3)
    x0 = initial_points(nm, nm_true, truth.vector(nm_true), n, rng, FitSettings(restarts=1))[0]

    def resid(th):
        return nm.predict(X, th) - y

    def ours():
        return least_squares(resid, x0, jac=lambda th: nm.jacobian(X, th), method="lm",
                             x_scale="jac", max_nfev=2000)

    def finite():
        return least_squares(resid, x0, jac="2-point", method="lm", x_scale="jac",
                             max_nfev=2000 * (nm.n_free + 1))

    r1, r2 = ours(), finite()
    t1, t2 = _best_of(ours, 3), _best_of(finite, 3)
    print(f"least squares, n = {n}, {nm.n_free} free parameters (tanh, softmax, k = 3):")
    print(f"  analytic Jacobian   {t1:8.3f} s  ({r1.nfev} residual evaluations, "
          f"cost {r1.cost:.6g})")
    print(f"  finite differences  {t2:8.3f} s  ({r2.nfev} residual evaluations, "
          f"cost {r2.cost:.6g})")
    print(f"  ratio (finite / analytic): {t2 / t1:.1f}x")


def bench_em(n: int = 10_000) -> None:
    model = build_model("a*x+b", estimator="gaussian")
    truth = default_truth(model)
    nm_true = NumericModel(model, 2)
    rng = np.random.default_rng(0)
    X, y = sample_data(nm_true, truth, n, rng)
    nm = NumericModel(model, 3)
    th = initial_points(nm, nm_true, truth.vector(nm_true), n, rng, FitSettings(restarts=1))[0]
    floor = _best_of(lambda: nm.predict(X, th), 20)
    grad = _best_of(lambda: nm.loglik(X, y, th), 20)

    def em_iteration():
        gamma = nm.responsibilities(X, y, th)
        _m_step(nm, X, y, th, gamma, box=1e3)
    em = _best_of(em_iteration, 5)
    print(f"Gaussian MoE, n = {n}, {nm.n_free} free parameters (linear, softmax, k = 3):")
    print(f"  floor: one vectorised pass (mixture values)  {floor * 1e3:8.3f} ms")
    print(f"  log-likelihood + analytic gradient           {grad * 1e3:8.3f} ms "
          f"({grad / floor:.1f}x the floor)")
    print(f"  one EM iteration (E-step, WLS + IRLS M-step) {em * 1e3:8.3f} ms "
          f"({em / floor:.1f}x the floor)")


def main() -> int:
    bench_lse()
    print()
    bench_em()
    return 0


if __name__ == "__main__":
    sys.exit(main())

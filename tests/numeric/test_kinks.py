"""The Laplace gate's kinks: the piecewise-smooth stationarity certificate and the cell Newton.

The one-sided derivatives are checked against one-sided difference quotients of a direct
evaluation of the log-likelihood in 50-digit arithmetic (mpmath), the method against the
exact minimiser of a piecewise quadratic found by enumeration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import mpmath
import numpy as np
import pytest

import identify
from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.fit import FitSettings, fit, initial_points
from identify.numeric.hessian import LoglikKernel
from identify.numeric.kinks import KinkSet, certify, kink_newton, kink_set, kink_weights
from identify.numeric.truth import load_preset, sample_data

TOL = 1e-8


def _setup(n: int, seed: int):
    model, truth, _ = load_preset("laplace-gaussian-linear")
    nm_true = NumericModel(model, truth.k)
    theta_true = truth.vector(nm_true)
    rng = np.random.default_rng(seed)
    X, y = sample_data(nm_true, truth, n, rng)
    nm = NumericModel(model, 2)
    starts = initial_points(nm, nm_true, theta_true, n, rng, FitSettings())
    return nm, nm_true, theta_true, X, y, starts


def _objective(nm, X, y):
    """F = -log-likelihood / n with its compiled gradient (sign(0) = 0 at a kink)."""
    kernel = LoglikKernel(nm, X, y)

    def fun(th, hessian):
        if not hessian:
            return -kernel.value(th) / len(y)
        v, g, H = kernel.hessian(th)
        return -v / len(y), -g / len(y), -H / len(y)
    return fun


def _mp_objective(nm, X, y, theta) -> mpmath.mpf:
    """F at a parameter vector of doubles, by :func:`_mp_objective_mp`."""
    return _mp_objective_mp(nm, X, y, [mpmath.mpf(float(v)) for v in theta])


def _mp_one_sided(nm, X, y, theta, c) -> tuple[float, float]:
    """(D-, D+) of F along coordinate c by one-sided quotients with step 1e-25 at 50 digits."""
    with mpmath.workdps(50):
        h = mpmath.mpf(10) ** -25

        def at(delta):
            th = [mpmath.mpf(float(v)) for v in theta]
            th[c] += delta
            return _mp_objective_mp(nm, X, y, th)
        f0 = at(0)
        return float((f0 - at(-h)) / h), float((at(h) - f0) / h)


def _mp_objective_mp(nm, X, y, th_mp):
    """-log-likelihood / n of the Laplace-gated Gaussian MoE with linear experts, written out
    directly (no compiled code) in mpmath, at a parameter vector of mpf (the free slots)."""
    free = [s for s in nm.slots if s.free]
    full = {s.name: v for s, v in zip(free, th_mp, strict=True)}
    atoms = []
    for i in range(nm.k):
        atoms.append({v: full.get(f"{v}[{i + 1}]", mpmath.mpf(0))
                      for v in ("beta0", "W", "a", "b", "nu")})
    total = mpmath.mpf(0)
    for x, yy in zip(X[:, 0], y, strict=True):
        x, yy = mpmath.mpf(float(x)), mpmath.mpf(float(yy))
        scores = [a["beta0"] - abs(a["W"] - x) for a in atoms]
        z = sum(mpmath.exp(s) for s in scores)
        dens = 0
        for a, s in zip(atoms, scores, strict=True):
            r = yy - a["a"] * x - a["b"]
            dens += mpmath.exp(s) / z * mpmath.exp(-r * r / (2 * a["nu"])) / mpmath.sqrt(
                2 * mpmath.pi * a["nu"])
        total += mpmath.log(dens)
    return -total / len(y)


@pytest.fixture(scope="module")
def small_fit():
    # seed 1: both centres end on a kink (measured; seeds 4 and 6 end between kinks)
    nm, nm_true, theta_true, X, y, starts = _setup(300, 1)
    res = fit(nm, X, y, starts, FitSettings(), scale=float(np.max(np.abs(theta_true))),
              truth=(nm_true, theta_true))
    return nm, X, y, res


def test_the_one_sided_derivatives_at_a_kink_match_a_direct_50_digit_evaluation():
    nm, _, theta_true, X, y, starts = _setup(40, 1)
    ks = kink_set(nm, X)
    assert ks is not None and [ks.names[q] for q in range(len(ks.coords))] == ["W[1]", "W[2]"]
    theta = starts[0].copy()
    c = ks.coords[0]
    theta[c] = X[7, 0]  # W_1 exactly on the data point x_8
    _, g, _ = _objective(nm, X, y)(theta, True)
    w = kink_weights(nm, X, y, theta, ks)
    assert not np.isnan(w[0]) and np.isnan(w[1])  # only W_1 is on a data point
    lo, hi = np.full(len(theta), -np.inf), np.full(len(theta), np.inf)
    cert, _ = certify(g, theta, lo, hi, ks, w)
    assert cert.on_kink == ("W[1]",)
    d_minus, d_plus = cert.one_sided[0]
    ref_minus, ref_plus = _mp_one_sided(nm, X, y, theta, c)
    assert abs(d_plus - d_minus) > 1e-4  # a real kink: the two sides differ
    assert d_minus == pytest.approx(ref_minus, rel=1e-9, abs=1e-13)
    assert d_plus == pytest.approx(ref_plus, rel=1e-9, abs=1e-13)
    # the reference objective agrees with the compiled one at theta (the same function)
    assert float(_mp_objective(nm, X, y, theta)) == pytest.approx(
        _objective(nm, X, y)(theta, False), rel=1e-12)


def test_the_certificate_accepts_a_convex_kink_minimum_and_rejects_a_descending_side():
    ks = KinkSet((0,), (0,), ("W[1]",), np.array([0.25, 0.5]))
    lo, hi = np.array([-10.0]), np.array([10.0])
    # F = 0.3 (W - 0.5) + 0.5 |W - 0.5| near 0.5: D- = -0.2 <= 0 <= D+ = 0.8, a minimum
    cert, _ = certify(np.array([0.3]), np.array([0.5]), lo, hi, ks, np.array([0.5]))
    assert cert.norm == 0.0 and cert.one_sided == ((pytest.approx(-0.2), pytest.approx(0.8)),)
    # F = 0.7 (W - 0.5) + 0.5 |W - 0.5|: the left side descends at rate D- = 0.2
    cert, _ = certify(np.array([0.7]), np.array([0.5]), lo, hi, ks, np.array([0.5]))
    assert cert.norm == pytest.approx(0.2)
    # a concave kink (w < 0) is a local maximum along W: both sides descend
    cert, _ = certify(np.array([0.0]), np.array([0.5]), lo, hi, ks, np.array([-0.5]))
    assert cert.norm == pytest.approx(0.5)
    # off the data points the gradient test applies
    cert, _ = certify(np.array([0.3]), np.array([0.4]), lo, hi, ks, np.array([np.nan]))
    assert cert.on_kink == () and cert.norm == pytest.approx(0.3)


def _piecewise(points, c, a, t0):
    """F(t) = 0.5 a (t - t0)^2 + sum_j c_j |t - x_j| with its (f, g, H) at sign(0) = 0 and its
    kink weights: a 1-D objective with kinks at the points."""
    def fun(th, hessian):
        t = th[0]
        f = 0.5 * a * (t - t0) ** 2 + float(np.sum(c * np.abs(t - points)))
        if not hessian:
            return f
        return f, np.array([a * (t - t0) + float(np.sum(c * np.sign(t - points)))]), np.array([[a]])

    def weights(th):
        on = points == th[0]
        return np.array([float(np.sum(c[on])) if on.any() else np.nan])
    return fun, weights


@pytest.mark.parametrize("seed", range(6))
def test_the_cell_newton_reaches_the_exact_minimiser_of_a_piecewise_quadratic(seed):
    rng = np.random.default_rng(seed)
    points = np.sort(rng.uniform(0, 1, 60))
    c = rng.uniform(0, 0.02, 60)  # convex kinks: one minimiser, found by enumeration
    fun, weights = _piecewise(points, c, 1.0, 0.5)
    candidates = list(points)
    for lo_, hi_ in zip(np.r_[-10, points], np.r_[points, 10], strict=True):
        # the stationary point of the quadratic piece on (lo_, hi_), if inside
        mid = (lo_ + hi_) / 2
        slope = float(np.sum(c * np.sign(mid - points)))
        t = 0.5 - slope
        if lo_ < t < hi_:
            candidates.append(t)
    best = min(candidates, key=lambda t: fun(np.array([t]), False))
    ks = KinkSet((0,), (0,), ("W[1]",), points)
    lo, hi = np.array([-10.0]), np.array([10.0])
    start = np.array([points[3]])  # on a kink far from the minimiser
    out = kink_newton(fun, start, lo, hi, ks, weights, grad_tol=TOL, max_iter=500,
                      max_rounds=200)
    assert out.stop == "gradient"
    assert out.theta[0] == pytest.approx(best, abs=1e-12)
    _, g, _ = fun(out.theta, True)
    cert, _ = certify(g, out.theta, lo, hi, ks, weights(out.theta))
    assert cert.norm <= TOL
    if best in points:
        assert out.rounds >= 1 and cert.on_kink == ("W[1]",)


def test_the_cell_newton_is_capped_and_the_cap_is_a_budget_stop():
    points = np.linspace(0, 1, 101)
    fun, weights = _piecewise(points, np.full(101, 1e-4), 1.0, 0.9)
    ks = KinkSet((0,), (0,), ("W[1]",), points)
    out = kink_newton(fun, np.array([0.0]), np.array([-10.0]), np.array([10.0]), ks, weights,
                      grad_tol=TOL, max_iter=500, max_rounds=3)
    assert out.stop == "budget" and out.rounds == 3


def test_a_laplace_fit_on_small_data_converges_with_a_kink_certificate(small_fit):
    nm, X, y, res = small_fit
    assert res.status == "converged", res.reason
    k = res.kinks
    assert k is not None and k["on_kink"]  # the optimum sits on a kink
    assert res.grad_norm == k["norm"] <= res.grad_tol
    ks = kink_set(nm, X)
    for name, (d_minus, d_plus) in zip(k["on_kink"], k["one_sided"], strict=True):
        c = ks.coords[ks.names.index(name)]
        assert res.theta[c] in X[:, 0]  # exactly on a data point
        assert d_minus <= TOL and d_plus >= -TOL and d_plus - d_minus > 1e-4
        ref_minus, ref_plus = _mp_one_sided(nm, X, y, res.theta, c)
        assert d_minus == pytest.approx(ref_minus, rel=1e-7, abs=1e-12)
        assert d_plus == pytest.approx(ref_plus, rel=1e-7, abs=1e-12)


def test_a_kink_point_off_the_optimum_is_rejected(small_fit):
    nm, X, y, res = small_fit
    ks = kink_set(nm, X)
    name = res.kinks["on_kink"][0]
    c = ks.coords[ks.names.index(name)]
    theta = res.theta.copy()
    j = int(np.searchsorted(ks.points, theta[c]))
    theta[c] = ks.points[j + 5]  # five data points to the right: still a kink
    _, g, _ = _objective(nm, X, y)(theta, True)
    cert, _ = certify(g, theta, np.full(len(theta), -np.inf), np.full(len(theta), np.inf), ks,
                      kink_weights(nm, X, y, theta, ks))
    assert name in cert.on_kink and cert.norm > 1e3 * TOL


def test_a_budget_stopped_laplace_fit_is_never_converged():
    nm, nm_true, theta_true, X, y, starts = _setup(300, 4)
    res = fit(nm, X, y, starts, FitSettings(newton_iterations=2),
              scale=float(np.max(np.abs(theta_true))), truth=(nm_true, theta_true))
    assert res.status == "budget" and res.grad_norm > res.grad_tol


def test_only_the_one_dimensional_laplace_gate_has_kinks():
    X = np.zeros((3, 2))
    assert kink_set(NumericModel(build_model("a*x+b", "softmax", estimator="gaussian"), 2),
                    X[:, :1]) is None
    assert kink_set(NumericModel(build_model("a1*x1+a2*x2+b", "laplace", estimator="gaussian",
                                             dim=2), 2), X) is None


_CHILD = """
import json, sys
import numpy as np
sys.path.insert(0, sys.argv[2])
from tests.numeric.test_kinks import _setup
from identify.numeric.fit import FitSettings, fit
keep = [np.empty(1 + (37 * int(sys.argv[1]) + 11 * j) % 97) for j in range(5)]
nm, nm_true, theta_true, X, y, starts = _setup(400, 2)
r = fit(nm, X, y, starts, FitSettings(), scale=2.0, truth=(nm_true, theta_true))
print(json.dumps({"status": r.status, "theta": r.theta.tobytes().hex(), "kinks": r.kinks,
                  "objective": r.objective.hex(), "method": r.method}))
"""


def test_laplace_fits_give_the_same_bits_in_two_processes():
    root = str(Path(identify.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(p), root], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE) for p in range(2)]
    outs = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=300)
        assert p.returncode == 0, stderr
        outs.append(json.loads(stdout))
    assert outs[0] == outs[1] and outs[0]["status"] == "converged"


def _lse_setup(seed: int):
    """tanh(a x + b) experts under the Laplace gate, least squares, k = 3 fitted to the default
    two-atom truth, n = 100 (seed 13: the optimum has W[2] on a data point; measured)."""
    from identify.numeric.simulate import _context, build_spec
    spec = build_spec("tanh(a*x+b)", "laplace", fitted_ks=(3,), ns=[100], replicates=1,
                      settings=FitSettings())
    _, model, truth, nm_true, tt = _context(json.dumps(spec.config(), sort_keys=True))
    nm = NumericModel(model, 3)
    rng = np.random.default_rng(seed)
    X, y = sample_data(nm_true, truth, 100, rng)
    starts = initial_points(nm, nm_true, tt, 100, rng, FitSettings())
    return nm, nm_true, tt, X, y, starts


def _mp_rss_one_sided(nm, X, y, theta, c) -> tuple[float, float]:
    """(D-, D+) of RSS / n along coordinate c, written out directly in 50-digit mpmath."""
    free = [s for s in nm.slots if s.free]

    def rss(th):
        full = {s.name: v for s, v in zip(free, th, strict=True)}
        atoms = [{v: full.get(f"{v}[{i + 1}]", mpmath.mpf(0)) for v in ("beta0", "W", "a", "b")}
                 for i in range(nm.k)]
        total = mpmath.mpf(0)
        for x, yy in zip(X[:, 0], y, strict=True):
            x = mpmath.mpf(float(x))
            e = [mpmath.exp(a["beta0"] - abs(a["W"] - x)) for a in atoms]
            pred = sum(ei * mpmath.tanh(a["a"] * x + a["b"]) for ei, a in zip(e, atoms,
                                                                             strict=True)) / sum(e)
            total += (pred - mpmath.mpf(float(yy))) ** 2
        return total / len(y)

    with mpmath.workdps(50):
        h = mpmath.mpf(10) ** -25

        def at(delta):
            th = [mpmath.mpf(float(v)) for v in theta]
            th[c] += delta
            return rss(th)
        f0 = at(0)
        return float((f0 - at(-h)) / h), float((at(h) - f0) / h)


def test_a_least_squares_laplace_fit_converges_with_a_kink_certificate():
    """Least squares at the Laplace gate: the optimum sits on a kink, the smooth phases cannot
    pass the gradient test there (before the kink phase this fit was "failed"); the kink
    certificate passes, and its one-sided derivatives are those of a direct evaluation."""
    nm, nm_true, tt, X, y, starts = _lse_setup(13)
    res = fit(nm, X, y, starts, FitSettings(), scale=float(np.max(np.abs(tt))),
              truth=(nm_true, tt))
    assert res.status == "converged", res.reason
    k = res.kinks
    assert k["on_kink"] and res.grad_norm == k["norm"] <= res.grad_tol
    assert res.objective <= res.truth_objective
    ks = kink_set(nm, X)
    for name, (d_minus, d_plus) in zip(k["on_kink"], k["one_sided"], strict=True):
        c = ks.coords[ks.names.index(name)]
        assert res.theta[c] in X[:, 0]
        assert d_minus <= TOL and d_plus >= -TOL and d_plus - d_minus > 1e-5  # a real kink
        ref_minus, ref_plus = _mp_rss_one_sided(nm, X, y, res.theta, c)
        assert d_minus == pytest.approx(ref_minus, rel=1e-7, abs=1e-12)
        assert d_plus == pytest.approx(ref_plus, rel=1e-7, abs=1e-12)

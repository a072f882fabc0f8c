"""Fits and their certificates: statuses, gradient tests, the papers' initialisation."""

from __future__ import annotations

import numpy as np
import pytest

from identify import ConfigError
from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.fit import (
    CERTIFICATE_KEYS,
    FitSettings,
    cell_owners,
    fit,
    initial_points,
    truth_objective,
)
from identify.numeric.newton import newton_minimise
from identify.numeric.truth import InputSpec, Truth, default_truth, load_preset, sample_data


def _problem(n: int, seed: int, k: int = 3, preset: str = "softmax-gaussian-linear"):
    model, truth, _ = load_preset(preset)
    nm_true = NumericModel(model, truth.k)
    theta_true = truth.vector(nm_true)
    rng = np.random.default_rng(seed)
    X, y = sample_data(nm_true, truth, n, rng)
    return NumericModel(model, k), nm_true, theta_true, X, y, rng


def _fd_objective_gradient(nm, X, y, th, eps=1e-6):
    n = len(y)
    out = np.zeros(nm.n_free)
    for j in range(nm.n_free):
        e = np.zeros(nm.n_free)
        e[j] = eps
        out[j] = -(nm.loglik(X, y, th + e)[0] - nm.loglik(X, y, th - e)[0]) / (2 * eps * n)
    return out


def test_overfitted_gaussian_fit_converges_with_the_gradient_test_and_beats_the_truth():
    nm, nm_true, tt, X, y, rng = _problem(2000, 1)
    settings = FitSettings(restarts=1)
    res = fit(nm, X, y, initial_points(nm, nm_true, tt, 2000, rng, settings), settings,
              scale=25.0, truth=(nm_true, tt))
    assert res.status == "converged" and res.reason is None
    assert res.grad_norm <= settings.grad_tol == res.grad_tol
    assert res.objective <= res.truth_objective
    assert res.truth_objective == pytest.approx(truth_objective(nm_true, tt, X, y), abs=0)
    # the certificate is true: an independent finite-difference gradient is small as well
    assert np.linalg.norm(_fd_objective_gradient(nm, X, y, res.theta)) < 1e-6
    d = res.to_dict()
    assert set(CERTIFICATE_KEYS) <= set(d) and d["method"].endswith("(analytic hessian)")


def test_budget_stopped_fit_is_never_converged_and_its_gradient_norm_is_the_true_one():
    nm, nm_true, tt, X, y, rng = _problem(2000, 1)
    settings = FitSettings(restarts=1, newton_iterations=1)
    res = fit(nm, X, y, initial_points(nm, nm_true, tt, 2000, rng, settings), settings,
              scale=25.0, truth=(nm_true, tt))
    assert res.status == "budget" and "cap" in res.reason
    assert res.grad_norm > settings.grad_tol
    fd = np.linalg.norm(_fd_objective_gradient(nm, X, y, res.theta))
    assert res.grad_norm == pytest.approx(fd, rel=1e-5)


def test_least_squares_budget_and_convergence():
    model = build_model("tanh(a*x+b)")
    truth = default_truth(model)
    nm_true = NumericModel(model, 2)
    tt = truth.vector(nm_true)
    rng = np.random.default_rng(3)
    X, y = sample_data(nm_true, truth, 500, rng)
    nm = NumericModel(model, 2)
    starts = initial_points(nm, nm_true, tt, 500, rng, FitSettings(restarts=1))
    tiny = fit(nm, X, y, starts, FitSettings(restarts=1, max_nfev=2), truth=(nm_true, tt))
    assert tiny.status == "budget" and tiny.grad_norm > tiny.grad_tol
    ok = fit(nm, X, y, starts, FitSettings(restarts=1), truth=(nm_true, tt))
    assert ok.status == "converged" and ok.grad_norm <= ok.grad_tol
    assert ok.objective <= ok.truth_objective
    r = nm.predict(X, ok.theta) - y  # the certificate's gradient is that of RSS / n
    assert ok.grad_norm == pytest.approx(np.linalg.norm(2 * nm.jacobian(X, ok.theta).T @ r
                                                        / len(y)), rel=1e-6, abs=1e-14)


def test_a_stationary_point_worse_than_the_truth_is_local():
    # sin(a x) on [-10, 10]: the least-squares objective in a has a local minimum near each
    # multiple of the truth's frequency's neighbours; started at a = 6 the fit stops at one
    nm = NumericModel(build_model("sin(a*x)"), 1)
    truth = Truth(({"beta0": 0.0, "beta1": 0.0, "a": 1.5},), {}, 0.1, InputSpec(low=-10, high=10))
    tt = truth.vector(nm)
    X, y = sample_data(nm, truth, 500, np.random.default_rng(0))
    bad = fit(nm, X, y, [np.array([6.0])], FitSettings(), truth=(nm, tt))
    assert bad.status == "local" and bad.grad_norm <= bad.grad_tol
    assert bad.objective > 10 * bad.truth_objective and "worse than the truth" in bad.reason
    good = fit(nm, X, y, [np.array([1.4])], FitSettings(), truth=(nm, tt))
    assert good.status == "converged" and abs(good.theta[0] - 1.5) < 0.01


def test_projected_gradient_test_at_an_active_bound():
    # minimise (x + 1)^2 + (y - 2)^2 over x >= 0: the optimum has x on its bound, where the
    # raw gradient is 2 but the projected gradient 0
    def fun(t, hessian):
        f = (t[0] + 1) ** 2 + (t[1] - 2) ** 2
        if not hessian:
            return f
        return f, np.array([2 * (t[0] + 1), 2 * (t[1] - 2)]), 2 * np.eye(2)
    out = newton_minimise(fun, np.array([3.0, 0.0]), np.array([0.0, -5]), np.array([5.0, 5]),
                          grad_tol=1e-10, max_iter=20)
    assert out.stop == "gradient" and out.active == 1 and out.grad_norm == 0
    np.testing.assert_allclose(out.theta, [0.0, 2.0], atol=1e-12)


def test_identical_inputs_give_identical_fits():
    a, b = (fit(nm, X, y, initial_points(nm, nm_true, tt, 1000, rng, FitSettings()),
                FitSettings(), scale=25.0, truth=(nm_true, tt))
            for nm, nm_true, tt, X, y, rng in (_problem(1000, 7), _problem(1000, 7)))
    np.testing.assert_array_equal(a.theta, b.theta)
    da, db = a.to_dict(), b.to_dict()
    da.pop("seconds")
    db.pop("seconds")
    assert da == db


@pytest.mark.parametrize("formula, estimator, preset", [
    ("tanh(a*x+b)", "lse", None), ("a*x+b", "gaussian", None),
    (None, None, "softmax-gaussian-linear")])
def test_over_specified_cells_occur_at_every_true_atom_across_seeds(formula, estimator, preset):
    if preset:
        model, truth, _ = load_preset(preset)
    else:
        model = build_model(formula, estimator=estimator)
        truth = default_truth(model)
    nm_true = NumericModel(model, truth.k)
    tt = truth.vector(nm_true)
    At, _ = nm_true.split(nm_true.full(tt))
    nm = NumericModel(model, truth.k + 1)
    doubled = set()
    for seed in range(12):
        starts = initial_points(nm, nm_true, tt, 1000, np.random.default_rng(seed),
                                FitSettings(restarts=2))
        owners = []
        for th in starts:  # every start atom sits near one true atom (non-weight coordinates)
            A, _ = nm.split(nm.full(th))
            d = np.linalg.norm(A[:, None, 1:] - At[None, :, 1:], axis=2)
            owners.append(tuple(np.argmin(d, axis=1)))
        assert len(set(owners)) == 1  # the restarts share the cell assignment
        counts = np.bincount(owners[0], minlength=truth.k)
        assert counts.min() >= 1 and counts.sum() == truth.k + 1
        doubled.add(int(np.argmax(counts)))
    assert doubled == set(range(truth.k))


def test_split_init_puts_the_over_specified_cell_at_the_chosen_atom():
    nm, nm_true, tt, X, y, rng = _problem(1000, 0, k=4)
    At, _ = nm_true.split(nm_true.full(tt))
    for j in (1, 2):
        starts = initial_points(nm, nm_true, tt, 1000, rng, FitSettings(init=f"split:{j}"))
        A, _ = nm.split(nm.full(starts[0]))
        owner = np.argmin(np.linalg.norm(A[:, None, 1:] - At[None, :, 1:], axis=2), axis=1)
        assert np.bincount(owner, minlength=2)[j - 1] == 3
    assert cell_owners(4, 2, at=0) == [0, 0, 0, 1] and cell_owners(3, 2, at=1) == [0, 1, 1]
    with pytest.raises(ConfigError, match="split:3"):
        initial_points(nm, nm_true, tt, 1000, rng, FitSettings(init="split:3"))
    for bad in ("split:0", "split:x", "nearest"):
        with pytest.raises(ConfigError, match="init must be"):
            FitSettings(init=bad)


def test_failed_fit_keeps_its_reason():
    nm, nm_true, tt, X, y, _ = _problem(200, 0, k=2)
    res = fit(nm, X, y, [np.full(nm.n_free, np.nan)], FitSettings(), truth=(nm_true, tt))
    assert res.status == "failed" and "outside the model's domain" in res.reason
    assert res.to_dict()["reason"] == res.reason

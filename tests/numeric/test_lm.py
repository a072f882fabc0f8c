"""The numpy Levenberg-Marquardt: stops on the gradient test, the budget, a stall or the box."""

from __future__ import annotations

import numpy as np

from identify.numeric.lm import levenberg_marquardt


def _rosenbrock(x):
    return np.array([10 * (x[1] - x[0] ** 2), 1 - x[0]])


def _rosenbrock_jac(x):
    return np.array([[-20 * x[0], 10.0], [-1.0, 0.0]])


def test_rosenbrock_converges_on_the_gradient_test():
    out = levenberg_marquardt(_rosenbrock, _rosenbrock_jac, np.array([-1.2, 1.0]),
                              grad_tol=1e-10, max_nfev=200)
    assert out.stop == "gradient" and out.grad_norm <= 1e-10
    np.testing.assert_allclose(out.theta, [1.0, 1.0], atol=1e-9)
    # the reported gradient is that of mean(r^2) at the returned point
    r, J = _rosenbrock(out.theta), _rosenbrock_jac(out.theta)
    assert out.grad_norm == np.linalg.norm(2.0 * (J.T @ r) / 2)
    assert out.value == np.mean(r**2)


def test_the_evaluation_cap_is_a_budget_stop():
    out = levenberg_marquardt(_rosenbrock, _rosenbrock_jac, np.array([-1.2, 1.0]),
                              grad_tol=1e-10, max_nfev=3)
    assert out.stop == "budget" and out.evaluations == 3 and out.grad_norm > 1e-10


def test_a_rank_deficient_jacobian_still_converges():
    # y = (a + b) x: only a + b is identified, J has two equal columns
    x = np.linspace(-1, 1, 50)
    y = 0.7 * x + 0.01 * np.sin(7 * x)

    def res(t):
        return (t[0] + t[1]) * x - y
    out = levenberg_marquardt(res, lambda t: np.column_stack([x, x]), np.array([2.0, -3.0]),
                              grad_tol=1e-12, max_nfev=100)
    assert out.stop == "gradient"
    assert abs(out.theta.sum() - (x @ y) / (x @ x)) < 1e-10


def test_a_kink_at_the_minimum_is_a_stall_not_convergence():
    # (|t - 0.3| + 1)^2 has no stationary point: the gradient test can never pass
    out = levenberg_marquardt(lambda t: np.array([abs(t[0] - 0.3) + 1.0]),
                              lambda t: np.array([[np.sign(t[0] - 0.3)]]), np.array([2.0]),
                              grad_tol=1e-8, max_nfev=500)
    assert out.stop == "stalled" and out.evaluations < 500 and out.grad_norm > 1
    assert abs(out.theta[0] - 0.3) < 1e-6


def test_leaving_the_box_ends_the_run():
    out = levenberg_marquardt(lambda t: t - 1000.0, lambda t: np.eye(2), np.array([0.0, 1.0]),
                              grad_tol=1e-10, max_nfev=100, box=10.0)
    assert out.stop == "outside" and np.max(np.abs(out.theta)) > 10

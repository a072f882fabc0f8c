"""The compiled numpy model: analytic Jacobians and likelihood gradients against finite
differences, for every catalog expert and every gate the simulator supports."""

from __future__ import annotations

import numpy as np
import pytest

from identify import ConfigError  # noqa: F401
from identify.model.catalog import CATALOG, catalog_formula
from identify.model.gate import GATES
from identify.model.model import build_model
from identify.numeric.compile import NumericModel

SIM_GATES = sorted(GATES)


def _theta(nm: NumericModel, rng) -> np.ndarray:
    th = rng.normal(size=nm.n_free) * 0.7
    for j, sl in enumerate([s for s in nm.slots if s.free]):
        if sl.symbol in ("nu", "tau"):
            th[j] = abs(th[j]) + 0.3
    return th


def _fd_jacobian(nm, X, th, eps=1e-6):
    cols = []
    for j in range(nm.n_free):
        e = np.zeros(nm.n_free)
        e[j] = eps
        cols.append((nm.predict(X, th + e) - nm.predict(X, th - e)) / (2 * eps))
    return np.column_stack(cols)


def _check_loglik_gradient(nm, X, y, th, eps=1e-6):
    _, g = nm.loglik(X, y, th)
    fd = []
    for j in range(nm.n_free):
        e = np.zeros(nm.n_free)
        e[j] = eps
        fd.append((nm.loglik(X, y, th + e)[0] - nm.loglik(X, y, th - e)[0]) / (2 * eps))
    np.testing.assert_allclose(g, fd, atol=1e-4, rtol=1e-5)


def _check(formula, gate, estimator="lse", dim=1, k=3):
    rng = np.random.default_rng(0)
    nm = NumericModel(build_model(formula, gate, dim=dim, estimator=estimator), k)
    th = _theta(nm, rng)
    X = rng.uniform(-1, 1, size=(40, dim)) + 0.013  # off the kinks of relu / abs experts
    J = nm.jacobian(X, th)
    assert J.shape == (40, nm.n_free)
    np.testing.assert_allclose(J, _fd_jacobian(nm, X, th), atol=2e-6, rtol=1e-5)
    if estimator == "gaussian":
        _check_loglik_gradient(nm, X, rng.normal(size=40), th)


@pytest.mark.parametrize("name", sorted(CATALOG))
def test_jacobian_matches_finite_differences_for_every_catalog_expert(name):
    _check(catalog_formula(name), "softmax")


@pytest.mark.parametrize("gate", SIM_GATES)
def test_jacobian_matches_finite_differences_for_every_gate(gate):
    _check("tanh(a*x+b)", gate)


@pytest.mark.parametrize("gate", ["softmax", "laplace", "normalised-sigmoid"])
def test_gaussian_loglik_gradient_matches_finite_differences(gate):
    _check("a*x+b", gate, estimator="gaussian")


def test_two_dimensional_model():
    _check("tanh(a1*x1 + a2*x2 + b)", "softmax", dim=2)


def test_pinned_reference_atom_is_not_free():
    nm = NumericModel(build_model("tanh(a*x+b)"), 2)
    assert [s.name for s in nm.slots if not s.free] == ["beta0[2]", "beta1[2]"]


def test_softmax_weights_sum_to_one_and_topk_zeroes_the_rest():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(30, 1))
    nm = NumericModel(build_model("tanh(a*x+b)", "top-k:k=2,experts=4"), 4)
    _, G, _ = nm.parts(X, nm.full(_theta(nm, rng)))
    np.testing.assert_allclose(G.sum(axis=1), 1.0)
    assert np.all((G > 0).sum(axis=1) == 2)


def test_hierarchical_mixture_is_a_softmax_over_groups_of_inner_mixtures():
    nm = NumericModel(build_model("tanh(a*x+b)", "hierarchical"), 2)
    assert [s.name for s in nm.gate_syms] == ["beta0", "beta1"]
    assert {"gamma_e1", "alpha_e1", "a_e1", "a_e2"} <= {s.name for s in nm.expert_syms}
    assert "gamma_e2" not in {s.name for s in nm.expert_syms}  # the pinned child


def test_hierarchical_gaussian_moe_is_a_density_mixture_with_exact_gradient():
    nm = NumericModel(build_model("a*x+b", "hierarchical", estimator="gaussian"), 2)
    assert nm.density and {"nu_e1", "nu_e2"} <= {s.name for s in nm.expert_syms}
    rng = np.random.default_rng(3)
    th = _theta(nm, rng)
    for j, sl in enumerate([s for s in nm.slots if s.free]):
        if sl.symbol.startswith("nu_"):
            th[j] = abs(th[j]) + 0.3
    _check_loglik_gradient(nm, rng.uniform(-1, 1, size=(40, 1)), rng.normal(size=40), th)


@pytest.mark.parametrize("formula, gate", [("a*x+b", "softmax"), ("a*x+b", "laplace"),
                                           ("a*x+b", "normalised-sigmoid"),
                                           ("tanh(a*x+b)", "temperature"),
                                           ("c*sigmoid(a*x)", "activation-temperature"),
                                           ("tanh(a*x+b)", "top-k:k=2,experts=3"),
                                           ("tanh(a1*x1 + a2*x2 + b)", "softmax")])
def test_analytic_hessian_matches_finite_differences_of_the_analytic_gradient(formula, gate):
    from identify.numeric.hessian import fd_hessian, has_analytic_hessian, loglik_hessian, loglik_value

    dim = 2 if "x2" in formula else 1
    nm = NumericModel(build_model(formula, gate, dim=dim, estimator="gaussian"), 3)
    assert has_analytic_hessian(nm)
    rng = np.random.default_rng(0)
    th = _theta(nm, rng)
    X = rng.uniform(-1, 1, size=(50, dim)) + 0.013
    y = rng.normal(size=50)
    v, g, H = loglik_hessian(nm, X, y, th)
    v2, g2 = nm.loglik(X, y, th)
    assert v == pytest.approx(v2, rel=1e-13) and loglik_value(nm, X, y, th) == pytest.approx(v)
    np.testing.assert_allclose(g, g2, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, H.T, atol=1e-12)
    np.testing.assert_allclose(H, fd_hessian(lambda t: nm.loglik(X, y, t)[1], th),
                               atol=1e-6 * max(1.0, np.abs(H).max()), rtol=1e-6)


def test_models_without_an_analytic_hessian_are_told_apart():
    from identify.numeric.hessian import has_analytic_hessian, loglik_hessian

    for gate in ("sigmoid", "hierarchical"):
        nm = NumericModel(build_model("a*x+b", gate, estimator="gaussian"), 2)
        assert not has_analytic_hessian(nm)
        with pytest.raises(ValueError, match="no analytic Hessian"):
            loglik_hessian(nm, np.zeros((3, 1)), np.zeros(3), np.ones(nm.n_free))
    assert not has_analytic_hessian(NumericModel(build_model("a*x+b"), 2))  # least squares

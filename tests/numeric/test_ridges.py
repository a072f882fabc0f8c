"""A ReLU expert's kinks in the fit (identify/numeric/ridges.py): a fit that stalls next to
a kink is taken onto it, held, finished and certified; the certificate is checked against
the objective itself."""

from __future__ import annotations

import json

import numpy as np
import pytest

from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.fit import FitSettings, fit, initial_points
from identify.numeric.hessian import LoglikKernel
from identify.numeric.ridges import ridge_set
from identify.numeric.simulate import _context, build_spec
from identify.numeric.truth import sample_data


@pytest.fixture(scope="module")
def relu_gaussian():
    spec = build_spec("relu(a*x+b)", estimator="gaussian", fitted_ks=(3,),
                      ns=[100, 316, 1000, 3162, 10000], replicates=8)
    return spec, _context(json.dumps(spec.config(), sort_keys=True))


def _fit(spec, ctx, n, rep):
    cfg, model, truth, nm_true, theta_true = ctx
    settings = FitSettings(**cfg["fit"])
    task = next(t for t in spec.tasks() if t.n == n and t.replicate == rep)
    rng = np.random.default_rng(task.seed)
    X, y = sample_data(nm_true, truth, task.n, rng)
    nm = NumericModel(model, task.fitted_k)
    starts = initial_points(nm, nm_true, theta_true, task.n, rng, settings)
    scale = float(np.max(np.abs(theta_true), initial=1.0))
    return nm, X, y, fit(nm, X, y, starts, settings, scale=scale, truth=(nm_true, theta_true))


def _rises(nm, X, y, theta, seed=5):
    kern = LoglikKernel(nm, X, y)
    f0 = -kern.value(theta) / len(y)
    rng = np.random.default_rng(seed)
    for _ in range(40):
        d = rng.standard_normal(len(theta))
        d /= np.linalg.norm(d)
        assert -kern.value(theta + 1e-4 * d) / len(y) >= f0 - 1e-13


@pytest.mark.parametrize("n, rep", [(316, 0), (1000, 1)])
def test_a_fit_that_stalls_at_relu_kinks_is_certified_on_them(relu_gaussian, n, rep,
                                                                monkeypatch):
    """Without the kink phase both fits stall (an atom within 1e-13 of a kink). On the
    kinks: the certificate passes, every kink's one-sided derivatives straddle 0, and F
    itself rises along random directions from the point."""
    import identify.numeric.fit as fitmod
    spec, ctx = relu_gaussian
    with monkeypatch.context() as mp:
        mp.setattr(fitmod, "ridge_set", lambda nm: None)
        assert _fit(spec, ctx, n, rep)[3].status == "failed"
    nm, X, y, r = _fit(spec, ctx, n, rep)
    assert r.status == "converged" and "+ridges(" in r.method
    cert = r.kinks
    assert cert["norm"] <= r.grad_tol and cert["on_kink"]
    assert all(lo <= 0 <= hi for lo, hi in cert["one_sided"])
    _rises(nm, X, y, r.theta)  # a local minimum: no direction descends


def test_a_released_kink_is_not_snapped_again(relu_gaussian):
    """n = 1e4, replicate 5: held on two kinks, one of them still descends across and is
    released 1e-7 off it, inside SNAP. It used to be snapped straight back (so the round was
    refused as worse and the fit failed, gradient 1.5e-3); now it stays released, Newton
    finishes and the point is certified and a local minimum."""
    spec, ctx = relu_gaussian
    nm, X, y, r = _fit(spec, ctx, 10000, 5)
    assert r.status == "converged" and "released)" in r.method, r.method
    assert r.kinks["norm"] <= r.grad_tol
    _rises(nm, X, y, r.theta)


def test_the_kink_phase_is_for_relu_of_an_affine_argument_only():
    assert ridge_set(NumericModel(build_model("tanh(a*x+b)"), 2)) is None
    rs = ridge_set(NumericModel(build_model("relu(a*x+b)", estimator="gaussian"), 3))
    assert rs is not None and rs.labels == ("relu(a*x + b)",)
    assert ridge_set(NumericModel(build_model("relu(a*b*x + c)"), 2)) is None  # not affine

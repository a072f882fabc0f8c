"""The Laplace gate's cone points in d = 2: the certificate against a direct 50-digit
evaluation of the log-likelihood, and fits that reach them (identify/numeric/cones.py)."""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest

from identify.numeric.compile import NumericModel
from identify.numeric.cones import certify_cones, cone_set
from identify.numeric.fit import FitSettings, fit, initial_points
from identify.numeric.simulate import _context, build_spec
from identify.numeric.truth import sample_data


def _setup(k: int, seed: int, estimator: str = "gaussian", n: int = 500):
    spec = build_spec("a1*x1+a2*x2+b", "laplace", dim=2, estimator=estimator,
                      fitted_ks=(k,), ns=[100], replicates=1, settings=FitSettings())
    _, model, truth, nm_true, tt = _context(json.dumps(spec.config(), sort_keys=True))
    nm = NumericModel(model, k)
    rng = np.random.default_rng(seed)
    X, y = sample_data(nm_true, truth, n, rng)
    starts = initial_points(nm, nm_true, tt, n, rng, FitSettings())
    return nm, nm_true, tt, X, y, starts


def _mp_F(nm, X, y, th):
    """-log-likelihood / n of the d = 2 Laplace-gated Gaussian MoE, written out in mpmath."""
    free = [s for s in nm.slots if s.free]
    full = {s.name: v for s, v in zip(free, th, strict=True)}
    atoms = [{v: full.get(f"{v}[{i + 1}]", mpmath.mpf(0))
              for v in ("beta0", "W_1", "W_2", "a1", "a2", "b", "nu")} for i in range(nm.k)]
    total = mpmath.mpf(0)
    for (x1, x2), yy in zip(X, y, strict=True):
        x1, x2, yy = mpmath.mpf(float(x1)), mpmath.mpf(float(x2)), mpmath.mpf(float(yy))
        s = [a["beta0"] - mpmath.sqrt((a["W_1"] - x1) ** 2 + (a["W_2"] - x2) ** 2) for a in atoms]
        z = sum(mpmath.exp(v) for v in s)
        dens = sum(mpmath.exp(v) / z * mpmath.exp(-(yy - a["a1"] * x1 - a["a2"] * x2 - a["b"]) ** 2
                                                  / (2 * a["nu"])) / mpmath.sqrt(2 * mpmath.pi * a["nu"])
                   for v, a in zip(s, atoms, strict=True))
        total += mpmath.log(dens)
    return -total / len(y)


def _mp_directional(nm, X, y, theta, block, d) -> float:
    with mpmath.workdps(50):
        h = mpmath.mpf(10) ** -25
        th0 = [mpmath.mpf(float(v)) for v in theta]
        th1 = list(th0)
        for j, dj in zip(block, d, strict=True):
            th1[j] += h * mpmath.mpf(float(dj))
        return float((_mp_F(nm, X, y, th1) - _mp_F(nm, X, y, th0)) / h)


@pytest.fixture(scope="module")
def cone_fit():
    # k = 2, seed 4: the smooth phase stalls 5e-13 from a data input (measured), gradient 1e-4
    nm, nm_true, tt, X, y, starts = _setup(2, 4, n=500)
    res = fit(nm, X, y, starts, FitSettings(), scale=float(np.max(np.abs(tt))),
              truth=(nm_true, tt))
    return nm, X, y, res


def test_a_fit_that_stalls_next_to_a_cone_point_is_taken_there_and_certified(cone_fit):
    nm, X, y, res = cone_fit
    assert res.status == "converged", res.reason
    assert "cones(W[2])" in res.method and res.kinks["on_kink"] == ["W[2]"]
    assert res.grad_norm == res.kinks["norm"] <= res.grad_tol
    assert res.objective <= res.truth_objective
    cs = cone_set(nm)
    block = list(cs.blocks[cs.names.index("W[2]")])
    assert any(np.array_equal(res.theta[block], x) for x in X)  # exactly on a data input


def test_the_cone_certificate_matches_directional_derivatives_at_50_digits(cone_fit):
    """F'(theta; d) = g_W . d + w |d| along the cone block: from the +- coordinate directions,
    g and w; they match the certificate's |g_W| and w, and no direction descends."""
    nm, X, y, res = cone_fit
    cs = cone_set(nm)
    block = list(cs.blocks[cs.names.index("W[2]")])
    (s_norm, w), = res.kinks["one_sided"]
    plus = [_mp_directional(nm, X, y, res.theta, block, e) for e in ((1, 0), (0, 1))]
    minus = [_mp_directional(nm, X, y, res.theta, block, e) for e in ((-1, 0), (0, -1))]
    g = [(p - m) / 2 for p, m in zip(plus, minus, strict=True)]
    ws = [(p + m) / 2 for p, m in zip(plus, minus, strict=True)]
    assert ws[0] == pytest.approx(w, rel=1e-7) and ws[1] == pytest.approx(w, rel=1e-7)
    assert float(np.hypot(*g)) == pytest.approx(s_norm, rel=1e-6, abs=1e-12)
    assert w > s_norm  # a strict cone minimum in W
    for t in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        assert _mp_directional(nm, X, y, res.theta, block, (np.cos(t), np.sin(t))) >= 0


def test_a_point_off_the_cone_minimum_is_rejected(cone_fit):
    nm, X, y, res = cone_fit
    cs = cone_set(nm)
    block = list(cs.blocks[cs.names.index("W[2]")])
    theta = res.theta.copy()
    d = np.linalg.norm(X - theta[block], axis=1)
    theta[block] = X[np.argsort(d)[3]]  # another data input nearby: still a cone point
    lo, hi = np.full(len(theta), -np.inf), np.full(len(theta), np.inf)
    cert, _ = certify_cones(nm, np.asarray(X, float), np.asarray(y, float), theta, lo, hi, cs)
    assert "W[2]" in cert.on_kink and cert.norm > 1e-6


def test_only_the_laplace_gate_in_two_or_more_dimensions_has_cones():
    nm, *_ = _setup(2, 1, n=50)
    assert cone_set(nm).names == ("W[1]", "W[2]")
    spec = build_spec("a*x+b", "laplace", fitted_ks=(2,), ns=[100], replicates=1)
    _, model, *_ = _context(json.dumps(spec.config(), sort_keys=True))
    assert cone_set(NumericModel(model, 2)) is None  # d = 1: numeric/kinks.py

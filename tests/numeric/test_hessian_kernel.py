"""The prepared log-likelihood kernel (numeric/hessian.py) over several blocks and sub-blocks:
its value, gradient and Hessian are the model's, and its two passes agree to the last bit."""

from __future__ import annotations

import numpy as np
import pytest

from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.hessian import CHUNK, SUB, LoglikKernel, fd_hessian


def _theta(nm: NumericModel, rng) -> np.ndarray:
    th = rng.normal(size=nm.n_free) * 0.7
    for j, sl in enumerate([s for s in nm.slots if s.free]):
        if sl.symbol in ("nu", "tau"):
            th[j] = abs(th[j]) + 0.3
    return th


@pytest.mark.parametrize("formula, gate", [("a*x+b", "softmax"), ("a*x+b", "normalised-sigmoid"),
                                           ("a*x+b", "laplace"), ("tanh(a*x+b)", "temperature"),
                                           ("tanh(a*x+b)", "top-k:k=2,experts=3")])
def test_kernel_over_several_blocks_matches_the_model(formula, gate):
    nm = NumericModel(build_model(formula, gate, estimator="gaussian"), 3)
    n = CHUNK + SUB + 123  # two blocks, three sub-blocks, a ragged end
    rng = np.random.default_rng(1)
    th = _theta(nm, rng)
    X = rng.uniform(-1, 1, size=(n, 1))
    y = rng.normal(size=n)
    kern = LoglikKernel(nm, X, y)
    v, g, H = kern.hessian(th)
    assert v == kern.value(th)  # the line search compares the two passes' values
    v2, g2 = nm.loglik(X, y, th)
    assert v == pytest.approx(v2, rel=1e-12)
    np.testing.assert_allclose(g, g2, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(H, H.T, atol=1e-9)
    if gate in ("softmax", "normalised-sigmoid", "temperature"):  # smooth (top-K selects,
        # the Laplace score has a kink at its centre: differences across them are not H)
        np.testing.assert_allclose(H, fd_hessian(lambda t: nm.loglik(X, y, t)[1], th),
                                   atol=1e-5 * max(1.0, np.abs(H).max()), rtol=1e-5)
    # a prepared kernel gives the same bits at every call (the input-only arrays it keeps)
    v3, g3, H3 = kern.hessian(th)
    assert v3 == v and np.array_equal(g3, g) and np.array_equal(H3, H)


def test_far_atoms_floor_changes_neither_the_value_nor_the_derivatives():
    """exp's argument is floored at -300 (off numpy's slow underflow path): an atom whose
    responsibilities are exp(-1e4) everywhere leaves the value and derivatives as they are."""
    nm = NumericModel(build_model("a*x+b", "softmax", estimator="gaussian"), 2)
    rng = np.random.default_rng(2)
    n = 3000
    X = rng.uniform(0, 1, size=(n, 1))
    y = 2 * X[:, 0] + 0.1 * rng.normal(size=n)
    # atom 1: slope 2 (the data); atom 2 (reference): expert at y + 50 with variance 0.01
    th = nm.pack(np.array([[0.0, 0.0, 2.0, 0.0, 0.01], [0.0, 0.0, 0.0, 50.0, 0.01]]))
    v, g, H = LoglikKernel(nm, X, y).hessian(th)
    v2, g2 = nm.loglik(X, y, th)
    assert v == pytest.approx(v2, rel=1e-13)
    np.testing.assert_allclose(g, g2, rtol=1e-10, atol=1e-8)

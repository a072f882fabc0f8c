"""The Taylor expansion over certified independent monomials (theory/expansion.py)."""

from __future__ import annotations

import math
from itertools import product

import pytest
import sympy

from identify.errors import IdentifyError
from identify.model.model import build_model
from identify.theory.expansion import KINK_REASON, PHI, atom_function, expand_model


def _taylor_by_differentiation(F, params, atom, order, ds):
    total = sympy.Integer(0)
    for alpha in product(range(order + 1), repeat=len(params)):
        if sum(alpha) > order:
            continue
        d = F
        for s, k in zip(params, alpha, strict=True):
            if k:
                d = sympy.diff(d, s, k)
        coef = d.subs(atom) / math.prod(math.factorial(k) for k in alpha)
        total += coef * sympy.Mul(*[q ** k for q, k in zip(ds, alpha, strict=True)])
    return total


@pytest.mark.parametrize("formula, estimator", [("tanh(a*x+b)", "lse"), ("a*x+b", "gaussian"),
                                                ("sigmoid(a*(x-c))", "lse")])
def test_expansion_equals_the_taylor_polynomial_by_differentiation(formula, estimator):
    model = build_model(formula, "softmax", estimator=estimator)
    exp = expand_model(model, 2, seed=3)
    ds = [sympy.Symbol(f"d_{s.name}") for s in exp.parameters]
    ours = sympy.Integer(0)
    for mono, row in zip(exp.monomials, exp.coefficients, strict=True):
        poly = sum(c * sympy.Mul(*[q ** k for q, k in zip(ds, a, strict=True)]) for a, c in row.items())
        ours += poly * mono.expr
    F = atom_function(model, exp.normaliser)
    theirs = _taylor_by_differentiation(F, exp.parameters, exp.atom, 2, ds)
    # compare exactly at a rational input point (and y), in the Delta's and Phi symbolically
    pt = {s: sympy.Rational(3, 7) for s in model.inputs}
    diff = sympy.expand(sympy.expand_func(ours.subs(pt) - theirs.subs(pt)), power_exp=False)
    assert sympy.simplify(diff.rewrite(sympy.exp)) == 0


def test_softmax_expansion_has_the_normaliser_monomials_and_a_certificate():
    exp = expand_model(build_model("tanh(a*x+b)"), 3)
    assert exp.normaliser and exp.independent is True
    phis = [m for m in exp.monomials if m.normaliser]
    assert len(phis) == 4  # x^k exp(beta1* x) Phi, k = 0..3
    assert all(m.expr.has(PHI) for m in phis)
    assert "nonzero" in exp.certificate and "minor" in exp.certificate


def test_no_normaliser_terms_under_the_sigmoid_gate():
    exp = expand_model(build_model("tanh(a*x+b)", "sigmoid"), 2)
    assert not exp.normaliser and not any(m.normaliser for m in exp.monomials)


def test_dependent_generators_are_not_certified():
    # sin^2 + cos^2 = 1: the monomials sin^2, cos^2, 1 (times the kernel) are dependent
    exp = expand_model(build_model("sin(a*x+b)**2 + c"), 2)
    assert exp.independent is None
    assert "no certificate" in exp.certificate


def test_a_moving_kink_has_no_second_order_expansion_but_a_certified_first_order_one():
    with pytest.raises(IdentifyError, match="not twice differentiable") as err:
        expand_model(build_model("relu(a*x+b)"), 2)
    assert "|Delta|^(3/2)" in str(err.value)
    e1 = expand_model(build_model("relu(a*x+b)"), 1)
    assert e1.independent is True and "first-order L2 expansion" in e1.certificate
    # the first-order form relu(u) -> u H(u*): its monomials carry the side indicator
    assert all(m.normaliser or "Heaviside" in m.label for m in e1.monomials)


def test_the_kink_reason_is_true_the_first_order_remainder_is_of_order_three_halves():
    # relu(x + d) - relu(x) - d 1[x > 0] on x in [-1, 1], 0 < d < 1: its squared L2 norm is
    # d^3 / 3 exactly, so the remainder is of order d^(3/2), not d^2 (what KINK_REASON says)
    d = sympy.Symbol("d", positive=True)
    xr = sympy.Symbol("xr", real=True)
    rem = sympy.integrate((xr + d) ** 2, (xr, -d, 0))  # the remainder is x + d on (-d, 0)
    assert sympy.simplify(rem - d ** 3 / 3) == 0
    f = sympy.Max(xr + d, 0) - sympy.Max(xr, 0) - d * sympy.Heaviside(xr)
    assert f.subs({xr: sympy.Rational(-1, 3), d: sympy.Rational(1, 2)}) == sympy.Rational(1, 6)
    assert f.subs({xr: sympy.Rational(1, 3), d: sympy.Rational(1, 2)}) == 0
    assert f.subs({xr: sympy.Rational(-2, 3), d: sympy.Rational(1, 2)}) == 0
    assert "not twice differentiable" in KINK_REASON


def test_the_answer_does_not_depend_on_the_seed_in_structure():
    e0 = expand_model(build_model("tanh(a*x+b)"), 3, seed=0)
    e1 = expand_model(build_model("tanh(a*x+b)"), 3, seed=5)
    assert e0.atom != e1.atom
    assert len(e0.monomials) == len(e1.monomials)

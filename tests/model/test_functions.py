"""Tests of the whitelisted functions: derivatives, elementary rewrites, high-precision evalf."""

from __future__ import annotations

import pickle

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from identify.model.functions import (
    CONSTANTS,
    ELEMENTARY_REWRITE,
    FUNCTIONS,
    gelu,
    relu,
    sigmoid,
    silu,
    softplus,
)

x = sympy.Symbol("x", real=True)
a = sympy.Symbol("a", real=True)
POINTS = [sympy.Rational(1, 3), sympy.Rational(-7, 2), sympy.Integer(5), sympy.Rational(22, 7)]
ELEMENTARY = {
    sigmoid: lambda z: 1 / (1 + sympy.exp(-z)),
    softplus: lambda z: sympy.log(1 + sympy.exp(z)),
}


def close(value: sympy.Expr, reference: sympy.Expr, digits: int = 50) -> bool:
    """``value`` and ``reference`` agree to ``digits`` significant digits (relative error)."""
    v, r = sympy.N(value, digits + 10), sympy.N(reference, digits + 10)
    scale = abs(r) if r != 0 else sympy.Integer(1)
    return bool(abs(v - r) <= sympy.Float(10, digits + 10) ** (-digits) * scale)


@pytest.mark.parametrize("func", [sigmoid, softplus])
@pytest.mark.parametrize("arg", [x, a * x**2 + 1, sympy.sin(x)])
def test_derivative_equals_elementary_derivative(func, arg):
    compact = sympy.diff(func(arg), x)
    elementary = sympy.diff(ELEMENTARY[func](arg), x)
    assert sympy.simplify(ELEMENTARY_REWRITE(compact) - elementary) == 0


@pytest.mark.parametrize("func", [sigmoid, softplus])
def test_second_derivative_equals_elementary(func):
    compact = sympy.diff(func(x), x, 2)
    elementary = sympy.diff(ELEMENTARY[func](x), x, 2)
    assert sympy.simplify(compact.rewrite(sympy.exp) - elementary) == 0


def test_derivatives_are_compact():
    assert sympy.diff(sigmoid(x), x) == sigmoid(x) * (1 - sigmoid(x))
    assert sympy.diff(softplus(x), x) == sigmoid(x)
    assert sympy.diff(relu(x), x) == sympy.Heaviside(x)
    assert sympy.diff(sigmoid(2 * x), x) == 2 * sigmoid(2 * x) * (1 - sigmoid(2 * x))


def test_relu_derivative_matches_max_and_heaviside_forms():
    assert sympy.diff(relu(x), x) == sympy.diff(sympy.Max(0, x), x)
    rewritten = sympy.diff(relu(x).rewrite(sympy.exp), x)  # x*Heaviside(x): adds x*DiracDelta(x)
    for point in [sympy.Rational(-3, 2), sympy.Rational(1, 5), sympy.Integer(4)]:
        assert rewritten.subs(x, point) == sympy.Heaviside(point)


def test_rewrite_to_elementary():
    assert sigmoid(x).rewrite(sympy.exp) == 1 / (1 + sympy.exp(-x))
    assert softplus(x).rewrite(sympy.exp) == sympy.log(1 + sympy.exp(x))
    assert relu(x).rewrite(sympy.exp) == x * sympy.Heaviside(x)
    assert relu(x).rewrite(sympy.Max) == sympy.Max(0, x)
    assert relu(x).rewrite(sympy.Piecewise).subs(x, -2) == 0


def test_elementary_rewrite_touches_only_the_activations():
    expr = sympy.tanh(sigmoid(softplus(relu(x)))) + silu(a)
    out = ELEMENTARY_REWRITE(expr)
    assert not out.has(sigmoid, softplus, relu)
    assert out.has(sympy.tanh)
    assert ELEMENTARY_REWRITE(sympy.tanh(x)) == sympy.tanh(x)
    point = {x: sympy.Rational(3, 4), a: sympy.Rational(-5, 3)}
    assert close(out.subs(point), expr.subs(point))


def test_elementary_rewrite_inside_derivatives():
    expr = sympy.diff(softplus(a * x), a, x)
    assert not ELEMENTARY_REWRITE(expr).has(sigmoid, softplus)


@pytest.mark.parametrize("func", [sigmoid, softplus])
@pytest.mark.parametrize("point", POINTS)
def test_evalf_agrees_with_elementary_to_50_digits(func, point):
    value = func(point).evalf(60)
    assert isinstance(value, sympy.Float)
    assert close(value, ELEMENTARY[func](point))


@pytest.mark.parametrize("point", POINTS + [-POINTS[0]])
def test_relu_evalf(point):
    assert close(relu(point * sympy.pi).evalf(60), sympy.Max(0, point * sympy.pi))


def test_evalf_in_the_tails_keeps_relative_precision():
    with mpmath.workdps(60):
        tail = mpmath.log1p(mpmath.exp(-200))
        assert close(softplus(-200).evalf(55), sympy.Float(tail, 60))
        assert close(sigmoid(-300).evalf(55), sympy.Float(1 / (1 + mpmath.exp(300)), 60))


def test_evalf_of_compound_and_symbolic_expressions():
    expr = sigmoid(x) + softplus(2 * x) - relu(x - 1)
    point = sympy.Rational(1, 7)
    assert close(expr.subs(x, point).evalf(60), ELEMENTARY_REWRITE(expr).subs(x, point))
    assert sigmoid(x).evalf() == sigmoid(x)
    assert isinstance(sigmoid(sympy.Float(0.5)), sympy.Float)


@settings(max_examples=100, deadline=None)
@given(st.fractions(min_value=-60, max_value=60, max_denominator=1000))
def test_evalf_matches_mpmath(value):
    point = sympy.Rational(value.numerator, value.denominator)
    with mpmath.workdps(60):
        z = mpmath.mpf(value.numerator) / value.denominator
        assert close(sigmoid(point).evalf(55), sympy.Float(1 / (1 + mpmath.exp(-z)), 60))
        assert close(softplus(point).evalf(55), sympy.Float(mpmath.log1p(mpmath.exp(z)), 60))


def test_special_values():
    assert sigmoid(0) == sympy.Rational(1, 2)
    assert softplus(0) == sympy.log(2)
    assert relu(-3) == 0
    assert relu(sympy.Rational(5, 2)) == sympy.Rational(5, 2)
    assert isinstance(relu(x), relu)
    assert relu(sympy.Symbol("p", positive=True)) == sympy.Symbol("p", positive=True)


def test_real_assumptions():
    z = sympy.Symbol("z")
    for func in (sigmoid, softplus, relu):
        assert func(x).is_real is True
        assert func(z).is_real is None
    assert sigmoid(x).is_positive is True
    assert softplus(x).is_positive is True
    assert relu(x).is_nonnegative is True


def test_gelu_and_silu_are_elementary():
    assert gelu(x) == x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2
    assert silu(x) == x * sigmoid(x)
    phi = sympy.exp(-(x**2) / 2) / sympy.sqrt(2 * sympy.pi)
    cdf = (1 + sympy.erf(x / sympy.sqrt(2))) / 2
    assert sympy.simplify(sympy.diff(gelu(x), x) - (cdf + x * phi)) == 0


def test_function_table():
    assert set(FUNCTIONS) == {
        "exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sinh", "cosh", "atan", "erf", "abs",
        "sigmoid", "softplus", "gelu", "silu", "relu",
    }  # fmt: skip
    assert FUNCTIONS["abs"] is sympy.Abs
    assert FUNCTIONS["sigmoid"] is sigmoid
    for name, func in FUNCTIONS.items():
        assert isinstance(func(x), sympy.Expr), name
    assert CONSTANTS == {"pi": sympy.pi}


def test_pickle_round_trip():
    expr = sigmoid(x) + softplus(a) * relu(x)
    assert pickle.loads(pickle.dumps(expr)) == expr


def test_constructors_never_parse_strings():
    """gelu/silu/ELEMENTARY_REWRITE accept only sympy objects and numbers: text is refused, so
    no user string can reach sympy's parser through them."""
    from sympy.core.sympify import SympifyError

    from identify.model.functions import ELEMENTARY_REWRITE, gelu, silu

    for f in (gelu, silu, ELEMENTARY_REWRITE):
        with pytest.raises(SympifyError):
            f("__import__('os').system('echo hi')")

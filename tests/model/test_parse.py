"""Tests of the safe formula parser: known answers, every refusal, hostile and random text."""

from __future__ import annotations

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from identify.errors import FormulaError
from identify.model.functions import FUNCTIONS, gelu, relu, sigmoid, softplus
from identify.model.parse import INPUT_PATTERN, make_symbol, parse_formula

a, b, x, x1, x2, a1, a2 = (make_symbol(n) for n in ("a", "b", "x", "x1", "x2", "a1", "a2"))


# -- known answers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "inputs", "expected"),
    [
        ("tanh(a*x+b)", ["x"], sympy.tanh(a * x + b)),
        ("a1*x1 + a2*x2 + b", ["x1", "x2"], a1 * x1 + a2 * x2 + b),
        ("0.5*x", ["x"], sympy.Rational(1, 2) * x),
        ("0.1*x + 2.5e-3", ["x"], x / 10 + sympy.Rational(1, 400)),
        ("sigmoid(a*x)", ["x"], sigmoid(a * x)),
        ("softplus(x) + relu(x - b)", ["x"], softplus(x) + relu(x - b)),
        ("gelu(x)", ["x"], gelu(x)),
        ("silu(x)", ["x"], x * sigmoid(x)),
        ("pi*x", ["x"], sympy.pi * x),
        ("abs(x) + atan(x) + erf(x)", ["x"], sympy.Abs(x) + sympy.atan(x) + sympy.erf(x)),
        ("exp(-x**2/2)/sqrt(2*pi)", ["x"], sympy.exp(-(x**2) / 2) / sympy.sqrt(2 * sympy.pi)),
        ("x**2**3", ["x"], x**8),
        ("a - b - x", ["x"], a - b - x),
        ("a / b / x", ["x"], a / (b * x)),
        ("-x + +a", ["x"], a - x),
        ("  x +\n 1  ", ["x"], x + 1),
        ("a*x1\r\n  + b*x2", ["x1", "x2"], a * x1 + b * x2),
        ("(((x)))", ["x"], x),
        ("1_000*x + 0x10", ["x"], 1000 * x + 16),
        ("x**(1/2)", ["x"], sympy.sqrt(x)),
        ("print*x", ["x"], make_symbol("print") * x),
    ],
)
def test_known_answers(text, inputs, expected):
    assert parse_formula(text, inputs) == expected


def test_symbols_are_real_and_shared():
    expr = parse_formula("a*x", ["x"])
    assert expr.free_symbols == {a, x}
    assert all(s.is_real for s in expr.free_symbols)
    assert make_symbol("a") is make_symbol("a")
    assert make_symbol("x") == sympy.Symbol("x", real=True)


def test_parameters_are_not_required():
    assert parse_formula("tanh(x)", ["x"]) == sympy.tanh(x)
    assert parse_formula("3", ["x"]) == 3


def test_long_sums_are_not_deep():
    text = " + ".join(f"a{i}*x" for i in range(150))
    assert len(parse_formula(text, ["x"], max_length=5000).args) == 150


def test_input_pattern():
    assert INPUT_PATTERN.fullmatch("x") and INPUT_PATTERN.fullmatch("x12")
    assert not INPUT_PATTERN.fullmatch("xa") and not INPUT_PATTERN.fullmatch("ax1")


def test_every_function_parses():
    for name, func in FUNCTIONS.items():
        assert parse_formula(f"{name}(x)", ["x"]) == func(x)


# -- refusals ---------------------------------------------------------------------------------

REFUSALS = [
    ("__import__('os').system('echo hi')", r"attribute access '__import__\('os'\)\.system'"),
    ("__import__('os')", r"unknown function '__import__'"),
    ("__builtins__", r"the name '__builtins__' is not allowed"),
    ("().__class__.__bases__", r"attribute access '\(\)\.__class__\.__bases__' is not allowed"),
    ("os.system", r"attribute access 'os\.system' is not allowed"),
    ("x.real", r"attribute access 'x\.real' is not allowed"),
    ("(lambda: 1)()", r"lambda is not allowed"),
    ("lambda: 1", r"lambda is not allowed"),
    ("[x for x in ()]", r"comprehensions are not allowed"),
    ("(x for x in ())", r"comprehensions are not allowed"),
    ("[x]", r"lists are not allowed"),
    ("x, a", r"tuples are not allowed"),
    ("{x: 1}", r"dicts are not allowed"),
    ("x[0]", r"subscripts are not allowed"),
    ("open('f')", r"unknown function 'open' at column 1; allowed: abs, atan, "),
    ("x1 + foo(x1)", r"unknown function 'foo' at column 6; allowed: abs"),
    ("f(x)", r"unknown function 'f'"),
    ("eval('1')", r"unknown function 'eval'"),
    ("a if b else c", r"conditional expressions \(if/else\) are not allowed"),
    ("x < 1", r"comparisons are not allowed"),
    ("x and a", r"and/or are not allowed"),
    ("not x", r"operator 'not' is not allowed"),
    ("~x", r"operator '~' is not allowed"),
    ("x % 2", r"operator '%' is not allowed"),
    ("x // 2", r"operator '//' is not allowed"),
    ("'str'", r"string literals are not allowed"),
    ("b'bytes'", r"string literals are not allowed"),
    ("f'{x}'", r"string literals are not allowed"),
    ("True*x", r"boolean literals"),
    ("None", r"'None' is not allowed"),
    ("2j*x", r"complex literals are not allowed"),
    ("...", r"'\.\.\.' is not allowed"),
    ("(a := 1)", r"assignment expressions"),
    ("a ^ 2", r"'\^' is not a power in Python syntax; use \*\* \(at column 3\)"),
    ("9**9**9", r"exponent in '9\*\*9\*\*9' is too large"),
    ("10**1000", r"exponent in '10\*\*1000' is too large"),
    ("x1**101", r"exponent .* too large"),
    ("x1**-200", r"exponent .* too large"),
    ("(10**30)**99 * (10**30)**99", r"the numbers in .* are too large"),
    ("x1**(50*pi)", r"exponent in 'x1\*\*\(50\*pi\)' is too large"),
    ("exp(exp(100))", r"the argument of exp\(\.\.\.\) is larger than 5000"),
    ("x1 + exp(exp(exp(100)))", r"the argument of exp\(\.\.\.\) is larger than 5000"),
    ("sinh((cos(10**30))**(sinh(10**30)))", r"the argument of sinh\(\.\.\.\) is larger"),
    ("erf(1000)", r"the argument of erf\(\.\.\.\) is larger than 100"),
    ("(exp(4000)**2)**2 * x1", r"the numbers in .* are too large"),
    ("sin(((10**30)**99)**2)", r"the numbers in .* are too large"),
    ("1" * 31, r"more than 30 digits"),
    ("1e999", r"the number '1e999' is too large"),
    ("1e300*x", r"too large"),
    ("tanh", r"'tanh' is a function; call it as tanh\(\.\.\.\)"),
    ("tanh(x, a)", r"tanh\(\.\.\.\) takes exactly one argument, got 2"),
    ("tanh()", r"takes exactly one argument, got 0"),
    ("tanh(x=1)", r"keyword or starred arguments are not allowed in tanh\(\.\.\.\)"),
    ("tanh(*x)", r"keyword or starred arguments are not allowed"),
    ("tanh(x1)(a)", r"calling 'tanh\(x1\)' is not allowed"),
    ("x2", r"'x2' looks like an input, but the inputs are x1 \(dim=1\)"),
    ("x", r"'x' looks like an input, but the inputs are x1 \(dim=1\)"),
    ("y", r"'y' looks like an input"),
    ("beta1*x1", r"'beta1' is reserved for the gate's parameters"),
    ("_a*x1", r"the name '_a' is not allowed"),
    ("a__b", r"the name 'a__b' is not allowed"),
    ("\u03b1*x1", r"the name '\u03b1' is not allowed"),
    ("x1 +* 2", r"syntax error at column 5: "),
    ("x1 + (", r"syntax error at column \d+: "),
    ("import os", r"syntax error at column 1"),
    ("x1 = 1", r"syntax error"),
    ("x1 + 1  # note", r"comments are not allowed at column 9"),
    ("x1\n# note\n+ 1", r"comments are not allowed at line 2, column 1"),
    ("x1\x00", r"syntax error at column 3"),
    ("", r"empty formula"),
    ("  \n\t ", r"empty formula"),
    ("1/0", r"the formula is undefined \(division by zero\?\)"),
    ("x1/(a - a)", r"the formula is undefined \(division by zero\?\)"),
    ("log(0)*x1", r"the formula is undefined"),
    ("0**-1", r"the formula is undefined"),
    ("sqrt(-1)*x1", r"not real: I"),
    ("log(-2)", r"not real"),
    ("x1" + "+x1" * 600, r"the formula has 1802 characters; the limit is 1000"),
    ("(" * 5000 + "x1" + ")" * 5000, r"characters; the limit is"),
    ("-" * 900 + "x1", r"nested"),
    ("tanh(" * 150 + "x1" + ")" * 150, r"nested more than 100 levels"),
]


@pytest.mark.parametrize(("text", "match"), REFUSALS)
def test_refusals(text, match):
    with pytest.raises(FormulaError, match=match) as info:
        parse_formula(text, ["x1"], reserved={"beta1"})
    error = info.value
    assert error.where == "formula"
    assert "\n" not in str(error)
    assert isinstance(error, ValueError)


def test_deep_nesting_within_the_length_limit():
    for text in ["(" * 5000 + "x" + ")" * 5000, "-" * 5000 + "x", "x**" * 2000 + "x"]:
        with pytest.raises(FormulaError, match="nested|syntax error"):
            parse_formula(text, ["x"], max_length=100_000)


def test_reserved_mapping_gives_the_reason():
    with pytest.raises(FormulaError, match="'w' is reserved for the expert's weights"):
        parse_formula("w*x", ["x"], reserved={"w": "the expert's weights"})


def test_no_inputs_message():
    with pytest.raises(FormulaError, match="'x' looks like an input, but there are no inputs"):
        parse_formula("x", [])


def test_columns_count_characters_and_leading_space():
    with pytest.raises(FormulaError, match=r"unknown function 'foo' at column 5"):
        parse_formula("\uff58 + foo(x)", ["x"])  # fullwidth x: 3 bytes, 1 character
    with pytest.raises(FormulaError, match=r"unknown function 'foo' at column 3"):
        parse_formula("  foo(x)", ["x"])
    with pytest.raises(FormulaError, match=r"line 2, column 3"):
        parse_formula("(x +\n  foo(x))", ["x"])
    with pytest.raises(FormulaError, match=r"'\^' is not a power .* \(at line 2, column 5\)"):
        parse_formula("\n  x ^ 2", ["x"])
    with pytest.raises(FormulaError, match=r"syntax error at line 2, column 5"):
        parse_formula("x +\nx + $", ["x"])


def test_not_a_string():
    with pytest.raises(FormulaError, match="must be a string"):
        parse_formula(b"x", ["x"])  # type: ignore[arg-type]


# -- property tests ---------------------------------------------------------------------------

TOKENS = [
    "x", "x1", "x2", "y", "a", "b", "beta1", "_a", "__class__", "__import__", "os", "system",
    "0", "1", "2", "10", "99", "0.5", "1e3", "1e999", "9" * 40, "1j", "True", "None",
    "+", "-", "*", "/", "**", "^", "%", "//", "@", "~", "<", "==", "=", ":=", ",", ":", ";",
    "(", ")", "[", "]", "{", "}", ".", "'", '"', "\\", "#", " ", "\n",
    "lambda", "import", "if", "else", "for", "in", "not", "and", "yield", "await",
    "pi", "tanh", "exp", "log", "sqrt", "sigmoid", "softplus", "relu", "gelu", "silu", "abs",
    "open", "eval", "foo",
]  # fmt: skip


def parse_or_refuse(text: str) -> sympy.Expr | None:
    """Parse; only a sympy expression or a FormulaError may come out."""
    try:
        result = parse_formula(text, ["x", "x1"], reserved={"beta1"})
    except FormulaError as error:
        assert error.where == "formula"
        assert "\n" not in str(error)
        return None
    assert isinstance(result, sympy.Expr)
    return result


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_parses_or_refuses(text):
    parse_or_refuse(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=30).map("".join))
def test_token_soup_parses_or_refuses(text):
    parse_or_refuse(text)


_BAD = (sympy.zoo, sympy.nan, sympy.oo, -sympy.oo)


def _node(text: str, expr: sympy.Expr, *children: tuple) -> tuple[str, sympy.Expr, bool]:
    """A generated formula: text, expression, and whether any step was undefined (x/0 ...)."""
    bad = any(c[2] for c in children) or expr.has(*_BAD)
    return text, expr, bad


def expressions() -> st.SearchStrategy[tuple[str, sympy.Expr, bool]]:
    """Triples (formula text, the expression it must give, undefined somewhere), built side by
    side; an undefined intermediate (e.g. (x/0)**0, which sympy would turn into 1) must make
    the parser refuse."""
    leaves = st.one_of(
        st.sampled_from([("x", x), ("a", a), ("b", b), ("pi", sympy.pi)]),
        st.integers(0, 12).map(lambda n: (str(n), sympy.Integer(n))),
        st.sampled_from([("0.5", sympy.Rational(1, 2)), ("2.25", sympy.Rational(9, 4))]),
    ).map(lambda t: (t[0], t[1], False))
    calls = {"tanh": sympy.tanh, "exp": sympy.exp, "sigmoid": sigmoid, "sin": sympy.sin}
    binary = {"+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q}
    binary["/"] = lambda p, q: p / q

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(sorted(binary)), children, children).map(
                lambda t: _node(
                    f"({t[1][0]}) {t[0]} ({t[2][0]})", binary[t[0]](t[1][1], t[2][1]), t[1], t[2]
                )
            ),
            st.tuples(st.sampled_from(sorted(calls)), children).map(
                lambda t: _node(f"{t[0]}({t[1][0]})", calls[t[0]](t[1][1]), t[1])
            ),
            st.tuples(children, st.integers(0, 3)).map(
                lambda t: _node(f"({t[0][0]})**{t[1]}", t[0][1] ** t[1], t[0])
            ),
            children.map(lambda t: _node(f"-({t[0]})", -t[1], t)),
        )

    return st.recursive(leaves, extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(expressions())
def test_generated_formulas_give_the_expected_expression(triple):
    text, expected, undefined = triple
    try:
        result = parse_formula(text, ["x"])
    except FormulaError as error:  # an undefined step, or a guard against huge numbers
        reasons = ("undefined",) * undefined + ("too large", "is larger than")
        assert any(reason in str(error) for reason in reasons), error
    else:
        assert not undefined and result == expected

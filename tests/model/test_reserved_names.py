"""Names the model generates (per gate and dimension) can never be an expert's parameter.

A clash used to give wrong answers (`alpha*x+b` under the hierarchical gate was "degenerate",
`W1*x1+W2*x2` under Laplace duplicated the block W, `a1*x1+a2*x2+a_1` dropped a1); each is now
one clear error, for every gate. Property tests feed formulas mixing generated names, control
characters and out-of-range literals to the parser and the model builder.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identify.errors import IdentifyError
from identify.model.blocks import group_blocks
from identify.model.expert import input_names
from identify.model.gate import GATES, get_gate
from identify.model.model import build_model
from identify.model.parse import make_symbol, parse_formula

GATE_SPECS = sorted(GATES) + ["hierarchical:form=path", "hierarchical:inner=3"]


def _linear(dim: int, extra: str) -> str:
    xs = input_names(dim)
    return " + ".join(f"c{i}*{x}" if dim > 1 else f"c*{x}" for i, x in enumerate(xs, 1)) + \
        f" + {extra}"


def _refused(formula: str, gate: str, dim: int, estimator: str = "lse") -> str:
    with pytest.raises(IdentifyError) as info:
        build_model(formula, gate, dim=dim, estimator=estimator)
    text = str(info.value)
    assert "\n" not in text
    return text


@pytest.mark.parametrize("gate", GATE_SPECS)
@pytest.mark.parametrize("dim", [1, 2, 3])
def test_every_generated_name_is_refused(gate, dim):
    g = get_gate(gate)
    names = g.reserved_names(dim)
    generated = {s.name for b in build_model(_linear(dim, "b"), gate, dim=dim).gate_blocks
                 for s in b.symbols} | {b.name for b in g.blocks(dim)}
    assert generated <= names | {"beta0"}
    for name in sorted(names):
        text = _refused(_linear(dim, f"{name}*b"), gate, dim)
        assert name in text


@pytest.mark.parametrize("gate", GATE_SPECS)
def test_a_vector_named_like_a_gate_block_is_refused(gate):
    for block in get_gate(gate).blocks(2):
        stem = block.name
        if stem.isalpha():  # a user vector stem1, stem2 forms the block `stem`
            _refused(f"{stem}1*x1 + {stem}2*x2 + b", gate, 2)


@pytest.mark.parametrize("gate", GATE_SPECS)
@pytest.mark.parametrize("dim", [1, 2])
def test_models_without_a_clash_have_unique_names(gate, dim):
    model = build_model(f"tanh({_linear(dim, 'b')})", gate, dim=dim, estimator="gaussian")
    names = [s.name for s in model.parameters]
    blocks = [b.name for b in model.blocks]
    assert len(names) == len(set(names)) and len(blocks) == len(set(blocks))


@pytest.mark.parametrize(("formula", "gate", "dim", "words"), [
    ("alpha*x+b", "hierarchical", 1, "alpha"),
    ("tanh(alpha*x+b)", "hierarchical", 1, "alpha"),
    ("tanh(gamma*x+b)", "hierarchical", 1, "gamma"),
    ("tanh(beta1*x1+a*x2+b)", "softmax", 2, "beta1"),
    ("tanh(beta1*x1+a*x2+b)", "sigmoid", 2, "beta1"),
    ("a1*x1+a2*x2+a_1", "softmax", 2, "a1 and a_1"),
    ("a1*x1+a2*x2+a", "softmax", 2, "same name"),
    ("W1*x1+W2*x2", "laplace", 2, "block W"),
    ("tau1*x1+tau2*x2", "temperature", 2, "tau"),
    ("tanh(nu*x+b)", "softmax", 1, "nu"),
])
def test_reported_clashes(formula, gate, dim, words):
    assert words in _refused(formula, gate, dim, estimator="gaussian")


def test_duplicate_gate_options_are_refused():
    with pytest.raises(IdentifyError, match="given twice"):
        get_gate("top-k:k=2,k=3")


def test_group_blocks_keeps_distinct_stems():
    syms = [make_symbol(n) for n in ("a1", "a2", "b_1", "b_2", "c")]
    assert [b.name for b in group_blocks(syms, 2)] == ["a", "b", "c"]


# -- property tests ---------------------------------------------------------------------------

_NAMES = sorted({n for g in GATE_SPECS for d in (1, 2) for n in get_gate(g).reserved_names(d)}
                | {"a", "b", "c", "a1", "a2", "a_1", "W1", "W2", "alpha", "gamma", "nu", "y"})
_LITERALS = ["1e-999999", "1e-31", "1e-30", "0.0", "0e5", "1e30", "1e29", "2", "0.5", "1e308"]
_CONTROL = ["\0", "\x01", "\x1b", "\x7f", "\t", "\n", ""]


@st.composite
def hostile_formulas(draw) -> tuple[str, str, int]:
    terms = draw(st.lists(st.tuples(st.sampled_from(_LITERALS), st.sampled_from(_NAMES),
                                    st.sampled_from(["x", "x1", "x2"])), min_size=1, max_size=4))
    text = " + ".join(f"{lit}*{name}*{x}" for lit, name, x in terms)
    cut = draw(st.integers(0, len(text)))
    text = text[:cut] + draw(st.sampled_from(_CONTROL)) + text[cut:]
    return text, draw(st.sampled_from(GATE_SPECS)), draw(st.sampled_from([1, 2]))


@settings(max_examples=400, deadline=None)
@given(hostile_formulas(), st.sampled_from(["lse", "gaussian"]))
def test_hostile_formulas_build_a_consistent_model_or_one_error(case, estimator):
    text, gate, dim = case
    try:
        model = build_model(text, gate, dim=dim, estimator=estimator)
    except IdentifyError as error:
        message = str(error)
        assert "\n" not in message and "\x00" not in message
        if "\0" in text:
            assert "U+0000" in message or "U+" not in message
        return
    names = [s.name for s in model.parameters]
    assert len(names) == len(set(names))
    generated = get_gate(gate).reserved_names(dim)
    assert not {s.name for s in model.expert.parameters} & generated
    assert not any(c in text for c in ("\0", "\x01", "\x1b", "\x7f"))
    assert "1e-999999" not in text and "1e-31" not in text and "1e308" not in text


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7f), max_size=60))
def test_ascii_with_control_characters_parses_or_names_the_character(text):
    try:
        parse_formula(text, ["x"])
    except IdentifyError as error:
        bad = [c for c in text.strip() if (ord(c) < 32 and c not in "\t\n\r") or c == "\x7f"]
        if bad:
            assert f"U+{ord(bad[0]):04X}" in str(error)

"""Results display themselves (issue 11): one-line repr, the CLI's text as str, HTML and
Markdown with the report's content, DataFrames, statuses equal to their strings."""

from __future__ import annotations

import pytest
import sympy

import identify
from identify.textout import format_check, format_prediction


@pytest.fixture(scope="module")
def tanh():
    return identify.check("tanh(a*x + b)")


def test_verdict_compares_equal_to_its_text(tanh):
    assert tanh.verdict == "strongly identifiable"
    assert identify.check("a*x + b").verdict == "weakly identifiable"
    assert f"{tanh.verdict}" == "strongly identifiable"


def test_check_repr_is_one_short_line_with_model_verdict_and_rank(tanh):
    text = repr(tanh)
    assert "\n" not in text and len(text) < 200
    assert "tanh(a*x + b)" in text.replace("tanh(a*x+b)", "tanh(a*x + b)")
    assert "strongly identifiable" in text and "rank 9/10" in text


def test_check_str_is_the_cli_text(tanh):
    assert str(tanh) == format_check(tanh)


def test_check_html_and_markdown_show_the_relation_as_math(tanh):
    html = tanh._repr_html_()
    assert html.count("<math") >= 2 and "<table>" in html and "strongly identifiable" in html
    assert "&#8706;" in html  # the partial derivative sign
    md = tanh._repr_markdown_()
    assert r"\frac{\partial^{2}}{\partial \beta_{1} \partial b}" in md


def test_check_frames(tanh):
    fam = tanh.to_frame()
    assert list(fam.columns) == ["function", "order", "derivative", "status"]
    assert len(fam) == tanh.family.size
    assert fam.loc[fam["function"] == "dF/da", "status"].item() == "in R1"
    rel = tanh.relations_frame()
    assert rel.loc["R1", "relation"] == "dF/da = d2F/(dbeta_1 db)"


def test_prediction_displays(tanh):
    p = identify.predict(tanh)
    assert "\n" not in repr(p) and "softmax-lse-strong" in repr(p)
    assert str(p) == format_prediction(p)
    frame = p.to_frame()
    assert set(frame.loc[frame.cell_size == 2, "exponent"]) == {2.0}
    assert "<msup><mi>n</mi>" in p._repr_html_()  # n^{-1/4} as math
    assert "$n^{-1/4}$" in p._repr_markdown_()


def test_proof_steps_end_in_zero(tanh):
    steps = tanh.relations[0].proof_steps()
    assert steps[0].expr.has(sympy.Derivative)  # the claimed sum of derivatives of F
    assert not steps[1].expr.has(sympy.Derivative)  # F substituted
    assert steps[-1].expr == 0 and len(steps) >= 3


def test_proof_steps_of_a_non_smooth_expert_reach_zero_on_a_smooth_piece():
    r = identify.check("a*x + b", "laplace")
    for rel in r.relations:
        steps = rel.proof_steps()
        assert steps[-1].expr == 0, [str(s) for s in steps]


def test_catalog_lists_gates_with_their_defaults():
    cat = identify.catalog()
    assert "top-k:k=2,experts=4" in str(cat)
    assert "ridge-tanh" in cat.to_frame().index
    assert "\n" not in repr(cat)

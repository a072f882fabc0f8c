"""Predictions: derived exponents beside the registry row (theory.md sections 4-6, issue 9)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from identify import ConfigError, check
from identify.model.expert import Expert
from identify.symbolic.verdict import Verdict
from identify.theory import REGISTRY, predict, solvability_index
from identify.theory.affine import affine_directions


def rate(pred, block, m):
    (r,) = [x for x in pred.rates if x.block == block and x.cell_size == m]
    return r


def test_every_registry_row_cites_an_arxiv_id_and_its_provenance():
    for row in REGISTRY:
        assert "arXiv:" in row.source
        assert row.provenance in {"verified", "recalled"}


def test_solvability_indices_are_the_papers_values():
    assert [solvability_index("rtilde", m) for m in (2, 3, 4)] == [4, 6, None]


def test_strongly_identifiable_softmax_lse_rates_are_derived_half_and_quarter():
    p = predict(check("tanh(a*x+b)"), (1, 2))
    for block in ("beta1", "a", "b"):
        assert rate(p, block, 1).exponent == 1 and rate(p, block, 1).rate == "n^-1/2"
        assert rate(p, block, 2).exponent == 2 and rate(p, block, 2).rate == "n^-1/4"
        assert rate(p, block, 2).agreement == "agree"
        assert "no real solution" in rate(p, block, 2).proof
    assert p.verdict is Verdict.STRONG
    assert "derived verdict" in p.match
    assert "arXiv:2503.03213" in p.provenance


def test_no_rate_depends_on_the_catalog_name():
    by_name = predict(check(catalog="ridge-tanh"), (1, 2))
    by_formula = predict(check("tanh(a*x + b)"), (1, 2))
    assert [(r.block, r.cell_size, r.exponent) for r in by_name.rates] == \
        [(r.block, r.cell_size, r.exponent) for r in by_formula.rates]
    assert "name" not in by_name.match
    import identify.theory.rates as rates_module
    assert not hasattr(rates_module, "_BY_NAME")


def test_linear_experts_have_no_polynomial_rate_and_affine_directions_do_not_decay():
    p = predict(check("a*x+b"), (1, 2))
    assert rate(p, "beta1", 2).exponent is None
    assert "no polynomial rate proved" in rate(p, "beta1", 2).rate
    assert rate(p, "a", 2).rate.startswith("no decay")
    assert rate(p, "a", 2).agreement == "disagree"  # the registry says slow, the split says none
    assert {a.parameter for a in p.affine} == {"a", "b"}
    assert rate(p, "a", 1).rate == "n^-1/2"
    assert p.verdict is Verdict.WEAK
    assert p.derivation.cell(2).status == "no finite r"


def test_the_split_is_not_applied_under_the_sigmoid_gate():
    p = predict(check("a*x+b", "sigmoid"), (1, 2))
    assert p.affine == ()
    assert not any(r.rate.startswith("no decay") for r in p.rates)
    assert p.derivation is None and "no mixing weight" in p.verdict_reason


def test_input_independent_expert_is_recognised_from_the_formula_not_the_name():
    p = predict(check("k0"))
    assert p.row.key == "softmax-lse-input-independent"
    assert "formula" in p.match


def test_affine_split_is_proved_for_the_output_scale_only():
    splits = affine_directions(Expert.from_formula("c*tanh(a*x)"))
    assert [s.parameter for s in splits] == ["c"]
    assert splits[0].proof.startswith("exact")


def test_temperature_gate_is_first_order_degenerate_from_the_derivation():
    p = predict(check("tanh(a*x+b)", "temperature"), (1, 2))
    assert p.verdict is Verdict.FIRST_ORDER
    assert rate(p, "tau", 1).exponent is None
    assert p.row.key == "temperature-any"


def test_top_k_reports_coverage():
    p = predict(check("tanh(a*x+b)", "top-k:k=1,experts=4"), (1, 2))
    assert any("coverage" in w and "fails" in w for w in p.warnings)
    p = predict(check("tanh(a*x+b)", "top-k:k=2,experts=4"), (1, 2))
    assert any("coverage" in w and "can hold" in w for w in p.warnings)


@pytest.mark.parametrize("cells", ["0,2", "a", "", [1, -1]])
def test_bad_cell_sizes_are_refused(cells):
    with pytest.raises(ConfigError, match="cell"):
        predict(check("tanh(a*x)", order=1, atoms=1), cells)


def test_exponents_are_exact_fractions_and_serialise():
    p = predict(check("tanh(a*x+b)"), (2,))
    assert all(isinstance(r.exponent, Fraction) for r in p.rates)
    d = p.to_dict()
    assert d["verdict"] == "strongly identifiable"
    assert d["derivation"]["cells"][0]["steps"]


def test_nothing_derived_is_not_called_a_disagreement():
    p = predict(check("tanh(a*x+b)", "sigmoid"), (1, 2))
    assert p.row is not None
    assert {r.agreement for r in p.rates} == {"not derived"}


def test_the_default_table_is_one_line_per_rate_and_the_proofs_are_behind_a_flag():
    from identify.textout import format_prediction
    p = predict(check("tanh(a*x+b)"), (1, 2))
    short, full = format_prediction(p), format_prediction(p, proof=True)
    assert len(short.splitlines()) == len(p.rates) + 5  # title, header, rule, verdict, hint
    assert "  proofs:" not in short and "no real solution" not in short
    assert "z3+cvc5 unsat, level 2" in short and "exact rank, level 1" in short
    assert "  proofs:" in full and "no real solution" in full and "note: normaliser" in full
    assert all(r.certificate for r in p.rates)
    assert p.to_dict()["rates"][0]["certificate"] == "exact rank, level 1"


def test_a_gate_without_mixing_weight_says_why_nothing_is_derived():
    p = predict(check("tanh(a*x+b)", "sigmoid"), (1, 2))
    assert "m F(theta*)" in p.verdict_reason and "arXiv:2405.13997" in p.verdict_reason
    assert p.row is not None and {r.agreement for r in p.rates} == {"not derived"}


def test_a_moving_kink_in_the_gate_derives_the_exact_cell_and_says_why_not_more():
    p = predict(check("tanh(a*x+b)", "laplace", estimator="gaussian"), (1, 2))
    assert all(r.exponent == 1 for r in p.rates if r.cell_size == 1)
    assert all(r.rate == "not derived" and "kink" in r.certificate
               for r in p.rates if r.cell_size == 2)
    assert p.verdict is Verdict.INCONCLUSIVE
    assert "check's verdict" in p.match and "did not decide" in p.match  # the row is cited


def test_relu_experts_under_least_squares_are_not_consistent_along_their_ray():
    p = predict(check("relu(a*x+b)"), (1, 2))
    assert all(rate(p, b, 1).exponent == 1 for b in ("beta1", "a", "b"))
    assert rate(p, "a", 2).rate.startswith("no decay") and rate(p, "b", 2).rate.startswith("no decay")
    assert rate(p, "beta1", 2).rate == "no polynomial rate proved"
    assert p.derivation.cell(2).status == "no finite r"
    assert p.verdict is Verdict.WEAK
    (split,) = p.affine
    assert split.moved == ("a", "b") and split.degree == 1


def test_a_row_with_an_unknown_index_is_compared_with_its_bound():
    """arXiv:2305.03288 gives r~(m) >= 7 for m >= 4 (value unknown): the cross-check uses the
    bound 7 / k of an entry r~(m) / k, and only where the index is unknown."""
    from types import SimpleNamespace

    from identify.theory.rates import _row_bound

    (row,) = [r for r in REGISTRY if r.key == "softmax-mle-linear"]
    b, a = SimpleNamespace(name="b", role="expert"), SimpleNamespace(name="a", role="expert")
    assert _row_bound(row, b, 4) == Fraction(7) and _row_bound(row, a, 4) == Fraction(7, 2)
    assert _row_bound(row, b, 3) is None and _row_bound(row, b, 1) is None

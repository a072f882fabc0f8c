"""The rate registry and predictions (theory.md sections 4-6)."""

from __future__ import annotations

from fractions import Fraction

import pytest

from identify import ConfigError, check
from identify.model.expert import Expert
from identify.theory import REGISTRY, predict, solvability_index
from identify.theory.affine import affine_directions


def rate(pred, block, m):
    (r,) = [x for x in pred.rates if x.block == block and x.cell_size == m]
    return r


def test_every_registry_row_cites_an_arxiv_id_and_its_provenance():
    for row in REGISTRY:
        assert "arXiv:" in row.source
        assert row.provenance in {"verified", "recalled"}


def test_solvability_indices_are_the_known_values():
    assert [solvability_index("rtilde", m) for m in (2, 3, 4)] == [4, 6, None]


def test_strongly_identifiable_softmax_lse_rates_are_half_and_quarter():
    p = predict(check("tanh(a*x+b)"), (1, 2))
    for block in ("beta1", "a", "b"):
        assert rate(p, block, 1).exponent == 1 and rate(p, block, 1).rate == "n^-1/2"
        assert rate(p, block, 2).exponent == 2 and rate(p, block, 2).rate == "n^-1/4"
    assert p.match.startswith("by verdict")
    assert "arXiv:2503.03213" in p.provenance


def test_catalog_expert_is_matched_by_name():
    p = predict(check(catalog="ridge-tanh"))
    assert p.match.startswith("by name")


def test_linear_experts_are_slower_than_polynomial_and_affine_directions_do_not_decay():
    p = predict(check("a*x+b"), (1, 2))
    assert rate(p, "beta1", 2).exponent is None
    assert "slower than any polynomial" in rate(p, "beta1", 2).rate
    assert "exponential" in rate(p, "beta1", 2).samples
    assert rate(p, "a", 2).rate.startswith("no decay")
    assert {a.parameter for a in p.affine} == {"a", "b"}
    assert rate(p, "a", 1).rate == "n^-1/2"


def test_gaussian_linear_experts_follow_r_tilde():
    p = predict(check("a*x+b", estimator="gaussian"), (1, 2, 3, 4))
    assert rate(p, "beta1", 2).exponent == 4  # n^-1/(2 rt(2)) = n^-1/8
    assert rate(p, "beta1", 2).rate.startswith("n^-1/8")
    assert rate(p, "a", 2).exponent == 2  # n^-1/rt(2) = n^-1/4
    assert rate(p, "b", 3).exponent == 6
    assert rate(p, "nu", 3).exponent == 3
    assert rate(p, "b", 4).exponent is None and ">= 7, unknown" in rate(p, "b", 4).rate


def test_input_independent_expert_is_recognised_from_the_formula_not_the_name():
    p = predict(check("k0"))
    assert p.row.key == "softmax-lse-input-independent"
    assert "formula" in p.match


def test_affine_split_is_proved_for_the_output_scale_only():
    splits = affine_directions(Expert.from_formula("c*tanh(a*x)"))
    assert [s.parameter for s in splits] == ["c"]
    assert splits[0].proof.startswith("exact")


def test_temperature_gate_prediction_is_slower_than_polynomial():
    p = predict(check("tanh(a*x+b)", "temperature"), (1, 2))
    assert p.row.key == "temperature-any"
    assert rate(p, "tau", 1).exponent is None


def test_top_k_reports_coverage():
    p = predict(check("tanh(a*x+b)", "top-k:k=1,experts=4"), (1, 2))
    assert any("coverage" in w and "fails" in w for w in p.warnings)
    p = predict(check("tanh(a*x+b)", "top-k:k=2,experts=4"), (1, 2))
    assert any("coverage" in w and "can hold" in w for w in p.warnings)


@pytest.mark.parametrize("cells", ["0,2", "a", "", [1, -1]])
def test_bad_cell_sizes_are_refused(cells):
    with pytest.raises(ConfigError, match="cell"):
        predict(check("tanh(a*x)", order=1, atoms=1), cells)


def test_exponents_are_exact_fractions():
    p = predict(check("tanh(a*x+b)"), (2,))
    assert all(isinstance(r.exponent, Fraction) for r in p.rates)

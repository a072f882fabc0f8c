"""Known answers for the gates of the theory and the Gaussian MoE (issue 3)."""

from __future__ import annotations

import networkx as nx
import pytest
import sympy

from identify import ConfigError, Verdict, check
from identify.model.gate import GATES, get_gate
from identify.model.hierarchy import Hierarchical


def has_relation(result, expected: dict) -> bool:
    """Is there a relation whose terms are `expected` up to a common constant factor?"""
    for rel in result.relations + result.zero_functions:
        got = {m.derivative: c for m, c in rel.terms}
        if set(got) != set(expected):
            continue
        ratios = {sympy.simplify(got[k] / sympy.sympify(v)) for k, v in expected.items()}
        if len(ratios) == 1 and next(iter(ratios)).is_number:
            return True
    return False


beta1, tau = sympy.symbols("beta1 tau", real=True)


@pytest.mark.parametrize("formula", ["tanh(a*x+b)", "a*x+b", "sigmoid(a*x)", "c"])
def test_temperature_gate_is_first_order_degenerate_with_the_homogeneity_pde(formula):
    r = check(formula, "temperature")
    assert r.verdict is Verdict.FIRST_ORDER
    assert has_relation(r, {("tau",): tau, ("beta1",): beta1})


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_activation_temperature_has_no_first_order_relation(activation):
    r = check("tanh(a*x+b)", f"activation-temperature:activation={activation}")
    first = [rel for rel in r.relations + r.zero_functions
             if all(m.order == 1 for m in rel.members)]
    assert first == []
    assert r.verdict is not Verdict.FIRST_ORDER


def test_laplace_with_linear_expert_has_no_relation_dF_da_eq_d2F_dW_db():
    r = check("a*x+b", "laplace")
    assert not has_relation(r, {("a",): 1, ("W", "b"): -1})
    assert all("each of the 2 sign patterns" in rel.proof for rel in r.relations)


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_laplace_in_one_dimension_is_analysed_across_the_centre(seed):
    # both sides of W jointly: dF/dW = +F on one side and -F on the other, so no first-order
    # relation (arXiv:2402.03226: parametric exact-fit rates); F = d2F/dW2 a.e. remains
    r = check("tanh(a*x+b)", "laplace", seed=seed)
    assert not has_relation(r, {("W",): 1, (): -1})
    assert [(rel.text, rel.kind) for rel in r.relations] == [("F = d2F/(dW dW)", "relation")]
    assert r.family.rank == 9 and r.family.complete
    assert r.verdict is Verdict.WEAK
    assert any("W inside the input domain" in n for n in r.notes)


def test_laplace_in_two_dimensions_is_smooth_and_analysed_without_pieces():
    r = check("a1*x1 + a2*x2 + b", "laplace", dim=2)
    assert not has_relation(r, {("a1",): 1, ("W_1", "b"): -1})
    assert all("piece" not in rel.proof for rel in r.relations)


def test_gaussian_moe_has_the_heat_equation_and_the_linear_expert_pde():
    r = check("a*x+b", estimator="gaussian")
    assert has_relation(r, {("b", "b"): 1, ("nu",): -2})
    assert has_relation(r, {("a",): 1, ("beta1", "b"): -1})
    assert r.model.inputs[-1].name == "y"


def test_gaussian_tanh_expert_is_strongly_identifiable_by_the_mle_condition():
    r = check("tanh(a*x+b)", estimator="gaussian")
    assert r.verdict is Verdict.STRONG
    assert "Gaussian MLE" in r.reason


def test_hierarchical_path_product_has_dF_dbeta_outer_eq_dF_dbeta_inner():
    r = check("tanh(a*x+b)", "hierarchical:form=path")
    assert has_relation(r, {("beta1",): 1, ("gamma",): -1})
    assert r.verdict is Verdict.FIRST_ORDER


def test_hierarchical_model_loses_the_naive_relation_and_keeps_duplicates():
    r = check("tanh(a*x+b)", "hierarchical")
    assert not has_relation(r, {("beta1",): 1, ("gamma_e1",): -1})
    assert has_relation(r, {("gamma_e1",): 1, ("beta1", "alpha_e1"): -1})
    assert r.family.complete
    assert r.verdict is Verdict.STRONG
    for rel in r.relations:
        assert rel.proof


def test_hierarchical_tree_of_depth_three():
    t = nx.DiGraph([("r", "g1"), ("r", "g2"), ("g1", "s1"), ("g1", "e3"), ("s1", "e1"),
                    ("s1", "e2")])
    gate = Hierarchical(tree=t)
    r = check("tanh(a*x)", gate, order=1)
    names = {s.name for s in r.model.parameters}
    assert {"gamma_s1", "alpha_s1", "gamma_e1", "alpha_e1", "a_e1", "a_e2", "a_e3"} <= names
    assert "gamma_e3" not in names  # pinned child


def test_sigmoid_gate_couples_slope_and_bias():
    r = check("tanh(a*x+b)", "sigmoid")
    assert has_relation(r, {("beta1", "b"): 1, ("beta0", "a"): -1})


def test_every_gate_is_in_the_registry_and_analysable():
    for name in GATES:
        r = check("tanh(a*x+b)", name, order=1, atoms=1)
        assert r.family.rank > 0


@pytest.mark.parametrize("spec, fragment", [
    ("nope", "unknown gate"),
    ("top-k:k=5,experts=4", "K <= experts"),
    ("top-k:k=0", "K <= experts"),
    ("activation-temperature:activation=relu", "activation must be"),
    ("softmax:k=2", "no option 'k'"),
    ("top-k:k", "key=value"),
])
def test_bad_gate_specifications_are_refused(spec, fragment):
    with pytest.raises(ConfigError, match=fragment):
        get_gate(spec)


def test_a_hierarchy_that_is_not_a_tree_is_refused():
    with pytest.raises(ConfigError, match="must be a tree"):
        Hierarchical(tree=nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")]))
    with pytest.raises(ConfigError, match="must be a tree"):
        Hierarchical(tree=nx.DiGraph([("r", "a"), ("r", "b"), ("a", "c"), ("b", "c")]))


@pytest.mark.parametrize("formula, gate, estimator", [
    ("tanh(tau*x)", "temperature", "lse"),
    ("tanh(W*x)", "laplace", "lse"),
    ("tanh(beta0 + a*x)", "sigmoid", "lse"),
    ("tanh(nu*x)", "softmax", "gaussian"),
])
def test_expert_parameters_clashing_with_the_gate_or_estimator_are_refused(formula, gate,
                                                                          estimator):
    with pytest.raises(Exception, match="reserved|clash") as info:
        check(formula, gate, estimator=estimator)
    assert isinstance(info.value, ConfigError | ValueError)


def test_three_experts_per_group_stay_strongly_identifiable_with_a_complete_certificate():
    # seed 0's first atoms are not generic enough for the joint minor: check redraws them
    r = check("tanh(a*x+b)", "hierarchical:inner=3")
    assert r.family.complete and r.family.joint_rank == 2 * r.family.rank
    assert r.verdict is Verdict.STRONG
    assert any("draw" in n for n in r.notes)

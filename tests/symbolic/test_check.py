"""Known answers of the symbolic analyzer (d = 1 unless stated, order 2, softmax, LSE)."""

from __future__ import annotations

import json

import pytest
import sympy

from identify import Verdict, check


def terms(rel) -> dict[tuple[str, ...], sympy.Expr]:
    return {m.derivative: c for m, c in rel.terms}


def same_up_to_sign(rel, expected: dict) -> bool:
    got = terms(rel)
    if set(got) != set(expected):
        return False
    ratio = None
    for k, c in expected.items():
        r = sympy.simplify(got[k] / sympy.sympify(c))
        if ratio is None:
            ratio = r
        elif sympy.simplify(r - ratio) != 0:
            return False
    return ratio is not None and ratio.is_number


P1 = {("a",): 1, ("beta1", "b"): -1}


@pytest.mark.parametrize("formula", ["tanh(a*x+b)", "sigmoid(a*x+b)", "gelu(a*x+b)"])
def test_ridge_experts_have_exactly_the_relation_dF_da_eq_d2F_dbeta1_db(formula):
    r = check(formula)
    assert len(r.relations) == 1
    assert same_up_to_sign(r.relations[0], P1)
    assert r.relations[0].kind == "duplicate"
    assert r.zero_functions == ()
    assert r.family.rank == 9 and r.family.size == 10
    assert r.verdict is Verdict.STRONG
    assert r.conditions["strong_lse"].holds is True


def test_bias_free_tanh_has_no_relation_and_is_strongly_identifiable():
    r = check("tanh(a*x)")
    assert r.relations == () and r.zero_functions == ()
    assert r.family.rank == r.family.size == 6
    assert r.verdict is Verdict.STRONG


def test_linear_expert_has_three_zero_second_derivatives_and_is_only_weakly_identifiable():
    r = check("a*x+b")
    assert sorted(m.derivative for rel in r.zero_functions for m in rel.members) == [
        ("a", "a"), ("a", "b"), ("b", "b")]
    assert len(r.relations) == 3
    assert any(same_up_to_sign(rel, P1) for rel in r.relations)
    assert r.conditions["strong_lse"].holds is False
    assert r.conditions["weak"].holds is True
    assert r.verdict is Verdict.WEAK


def test_square_expert_has_euler_relation_and_is_not_strongly_identifiable():
    a, b = sympy.symbols("a b", real=True)
    r = check("(a*x+b)**2")
    euler = {(): 2, ("a",): -a, ("b",): -b}
    assert any(same_up_to_sign(rel, euler) for rel in r.relations)
    assert len(r.relations) == 5  # theory.md section 3: five relations
    assert r.verdict is not Verdict.STRONG


def test_two_dimensional_tanh_ridge_has_three_duplicate_relations_and_is_strong():
    r = check("tanh(a1*x1 + a2*x2 + b)", dim=2)
    assert len(r.relations) == 3 and all(rel.kind == "duplicate" for rel in r.relations)
    assert any(same_up_to_sign(rel, {("beta1_1", "a2"): 1, ("beta1_2", "a1"): -1})
               for rel in r.relations)
    assert r.verdict is Verdict.STRONG


def test_two_dimensional_bias_free_tanh_has_one_relation():
    r = check("tanh(a1*x1 + a2*x2)", dim=2)
    assert len(r.relations) == 1


def test_two_dimensional_linear_expert_is_not_strongly_identifiable():
    r = check("a1*x1 + a2*x2 + b", dim=2)
    assert r.verdict is Verdict.WEAK
    assert r.conditions["strong_lse"].holds is False


def test_vector_block_grouping_for_d2():
    r = check("tanh(a1*x1 + a2*x2 + b)", dim=2)
    blocks = {b.name: [s.name for s in b.symbols] for b in r.model.blocks}
    assert blocks == {"beta1": ["beta1_1", "beta1_2"], "a": ["a1", "a2"], "b": ["b"]}


@pytest.mark.parametrize("formula", ["tanh(a*b*x)", "exp(a*x)", "c*(a*x)"])
def test_reparametrised_experts_are_first_order_degenerate(formula):
    r = check(formula)
    assert r.verdict is Verdict.FIRST_ORDER
    first = [rel for rel in r.relations if all(m.order == 1 for m in rel.members)]
    assert first


def test_constant_expert_relation_c_dF_dc_eq_F():
    c = sympy.Symbol("c", real=True)
    r = check("c")
    assert any(same_up_to_sign(rel, {(): 1, ("c",): -c}) for rel in r.relations)
    assert r.verdict is Verdict.WEAK


def test_catalog_entry_is_analysed_like_the_typed_formula():
    a = check(catalog="ridge-tanh").to_dict()
    b = check("tanh(a*x + b)").to_dict()
    for key in ("verdict", "relations", "zero_functions", "rank", "family_size", "conditions"):
        assert a[key] == b[key]


def test_every_relation_is_reproved_by_independent_simplification():
    r = check("(a*x+b)**2")
    for rel in r.relations + r.zero_functions:
        assert sympy.simplify(rel.expression()) == 0


def test_a_false_relation_is_not_proved():
    from identify.symbolic.proofs import prove_zero
    a, b, beta1, x = sympy.symbols("a b beta1 x", real=True)
    F = sympy.exp(beta1 * x) * sympy.tanh(a * x + b)
    assert prove_zero(sympy.diff(F, a) - 2 * sympy.diff(F, beta1, b)) is None
    assert prove_zero(sympy.diff(F, a) - sympy.diff(F, beta1, b)) is not None


def test_interaction_graph_links_the_parameters_of_the_relation():
    r = check("tanh(a*x+b)")
    assert {frozenset(e) for e in r.graph.edges()} == {
        frozenset(p) for p in [("beta1", "a"), ("beta1", "b"), ("a", "b")]}
    assert r.graph.edges["a", "b"]["relations"] == [r.relations[0].text]


def test_json_has_the_documented_keys_and_serialises():
    d = check("tanh(a*x+b)").to_dict()
    for key in ("verdict", "reason", "family_size", "rank", "zero_functions", "relations",
                "conditions", "interaction_edges", "certificate"):
        assert key in d
    assert set(d["conditions"]) == {"strong_lse", "strong_mle", "weak"}
    rel = d["relations"][0]
    assert rel["order"] == 2
    assert {tuple(t["derivative"]) for t in rel["terms"]} == {("a",), ("beta1", "b")}
    json.dumps(d)


def test_verdict_does_not_depend_on_the_seed():
    for seed in (1, 7):
        r = check("sigmoid(a*x+b)", seed=seed)
        assert r.verdict is Verdict.STRONG and len(r.relations) == 1


def test_more_atoms_multiply_the_certified_rank():
    r = check("tanh(a*x+b)", atoms=3)
    assert r.family.joint_rank == 3 * r.family.rank
    assert r.family.certificate.size == 27


def test_non_smooth_expert_is_analysed_almost_everywhere():
    r = check("relu(a*x+b)")
    assert r.verdict is Verdict.WEAK
    assert any("almost everywhere" in n for n in r.notes)
    assert len(r.zero_functions) == 3

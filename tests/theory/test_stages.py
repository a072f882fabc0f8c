"""Staged expansion orders, Gauss-Hermite witnesses, hierarchical gates (issue 9, wave 3)."""

from __future__ import annotations

import pytest
import sympy

from identify.model.model import build_model
from identify.theory.derive import certificate_kind, derive
from identify.theory.expansion import expand_model, logistic_form
from identify.theory.system import cell_system
from identify.theory.witness import find_witness, gauss_hermite_rule


def exponents(d, m):
    return {e.block: e.exponent for e in d.cell(m).exponents}


def test_the_level_r_system_is_the_same_at_every_order_at_least_r():
    model = build_model("tanh(a*x+b)")
    e2, e4 = expand_model(model, 2), expand_model(model, 4)
    assert len(e4.monomials) > len(e2.monomials)
    for grading in ({"beta1": 1, "a": 1, "b": 1}, {"beta1": 2, "a": 1, "b": 1}):
        for level in (1, 2):
            assert cell_system(e2, 2, level, grading).key() == cell_system(e4, 2, level,
                                                                            grading).key()


def test_gelu_under_the_gaussian_moe_is_derived_from_the_order_2_expansion():
    d = derive(build_model("gelu(a*x+b)", "softmax", estimator="gaussian"), (1, 2), timeout=10)
    assert d.expansion.order == 2 and d.expansion.independent is True
    assert exponents(d, 2) == {"beta1": 2, "a": 2, "b": 2, "nu": 2}
    assert all(e.kind.startswith("z3") and "level 2" in e.kind for e in d.cell(2).exponents)


def test_the_gauss_hermite_rule_is_exact():
    for m in (2, 3, 4):
        rule = gauss_hermite_rule(m)
        assert len(rule) == m
        for k in range(2 * m):  # integrates x^k exactly against N(0, 1) for k <= 2m - 1
            moment = 0 if k % 2 else sympy.factorial2(k - 1) if k else 1
            total = sum(float(w) * float(n) ** k for n, w, _, _ in rule)
            assert abs(total - moment) < 1e-9, (m, k)
    assert [w for _, w, _, _ in gauss_hermite_rule(3)] == [sympy.Rational(2, 3),
                                                           sympy.Rational(1, 6),
                                                           sympy.Rational(1, 6)]


def test_gauss_hermite_witness_solves_the_three_atom_gaussian_linear_system_to_level_5():
    exp = expand_model(build_model("a*x+b", "softmax", estimator="gaussian"), 6)
    grading = {"beta1": 1, "a": 2, "b": 1, "nu": 2}
    for level, found in ((4, True), (5, True), (6, False)):
        w = find_witness(cell_system(exp, 3, level, grading))
        assert (w is not None) is found
        if w is not None:
            assert w[1].startswith("Gauss-Hermite witness") and "exact" in w[1]


def test_hierarchical_inner_softmax_is_rewritten_with_a_proof_and_derived():
    a, u = sympy.symbols("a u")
    F = (sympy.exp(u) * sympy.tanh(a) + 1) / (sympy.exp(u) + 1)
    G, how = logistic_form(F)
    assert "proved" in how and not G.has(sympy.exp(u))
    d = derive(build_model("tanh(a*x+b)", "hierarchical"), (1, 2), timeout=10)
    assert d.expansion.independent is True and "sigmoid(u)" in d.expansion.certificate
    assert set(exponents(d, 2).values()) == {2}
    assert any("uniform grading" in n for n in d.notes)


def test_certificate_kinds_are_short_and_name_the_solvers():
    assert certificate_kind("unsat from cvc5 and z3 (cross-checked); z3: unsat") == \
        "z3+cvc5 unsat"
    assert certificate_kind("unsat from z3 (not cross-checked in every case); ...") == \
        "z3 unsat (not cross-checked)"


@pytest.mark.slow
def test_gelu_gaussian_three_atom_cell_is_derived_too():
    d = derive(build_model("gelu(a*x+b)", "softmax", estimator="gaussian"), (1, 2, 3))
    assert exponents(d, 3) == {"beta1": 2, "a": 2, "b": 2, "nu": 2}

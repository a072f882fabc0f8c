"""The r-bar reduction of undecided cell systems (theory/reduction.py, issue 9 section 5)."""

from __future__ import annotations

import pytest
import sympy as sp

from identify.model.model import build_model
from identify.theory.decide import check_witness
from identify.theory.expansion import expand_model
from identify.theory.reduction import CONDITIONAL, find_rbar_subsystems, reduce_level
from identify.theory.solvability import rbar_system, rtilde_system
from identify.theory.system import cell_system


def _atoms(system):
    return [a[1:] for a in system.atoms]  # (w, t1, t2, t3, t4) -> the deltas


def _assert_combinations(match, equations, weights, atoms):
    """Re-check every r-bar level as the stated combination, independently of the module."""
    rb = rbar_system(match.m, match.level)
    c1, c2 = match.scales
    ren = {}
    for i in range(match.m):
        ren[rb.weights[i]] = weights[i]
        ren[rb.deltas[i]] = c1 * atoms[i][match.p]
        ren[rb.free[i]] = c2 * atoms[i][match.q]
    exprs = [e.as_expr() if isinstance(e, sp.Poly) else e for e in equations]
    for level, comb in enumerate(match.combinations, start=1):
        lhs = rb.decide_equations[level - 1].xreplace(ren)
        assert sp.expand(lhs - sum(c * exprs[k] for k, c in comb)) == 0


def test_rtilde_3_6_contains_rbar_3_6_in_t3_t4_exactly():
    s = rtilde_system(3, 6)
    (match,) = find_rbar_subsystems(s.decide_equations, s.weights, _atoms(s))
    assert (match.s1, match.s2, match.level) == ("t3", "t4", 6)
    assert match.scales == (1, 1)
    # each r-bar level is one equation of the system: the one with l1 = 0
    assert all(len(comb) == 1 and comb[0][1] == 1 for comb in match.combinations)
    assert match.dimension == 6
    _assert_combinations(match, s.decide_equations, s.weights, _atoms(s))


def test_rtilde_3_6_reduces_with_the_cited_upper_bound_and_an_exact_complement():
    s = rtilde_system(3, 6)
    red = reduce_level(s.decide_equations, s.weights, _atoms(s), timeout=30)
    assert red.status == CONDITIONAL
    assert "r-bar(3) <= 6" in red.assumes and "Kalai-Moitra-Valiant" in red.assumes
    # the complement (t3 = t4 = 0): sum w t1^2 = 0, then sum w t2^2 = 0, exact, no solver
    assert red.complement.status == "no solution"
    assert "t1 = 0" in red.complement.certificate and "t2 = 0" in red.complement.certificate
    assert red.complement.solvers == ()
    assert red.s2_only.status == "no solution"
    cert = red.certificate()
    assert "lower bound checked exactly" in cert and "conditional on r-bar(3) <= 6" in cert
    assert red.to_dict()["assumes"] == red.assumes


def test_rtilde_2_4_reduction_is_fully_machine_checked():
    s = rtilde_system(2, 4)
    red = reduce_level(s.decide_equations, s.weights, _atoms(s), timeout=30)
    assert red.status == "no solution" and red.assumes == ""
    assert "decided by machine" in red.certificate()


def test_rtilde_3_5_gets_the_lifted_gauss_hermite_witness():
    s = rtilde_system(3, 5)
    red = reduce_level(s.decide_equations, s.weights, _atoms(s), timeout=30)
    assert red.status == "solution"
    deltas = [x for a in _atoms(s) for x in a]
    assert check_witness(list(s.decide_equations), red.witness, s.weights, deltas).ok


@pytest.fixture(scope="module")
def gaussian_linear_6():
    return expand_model(build_model("a*x+b", "softmax", estimator="gaussian"), 6)


def test_engine_system_of_the_gaussian_moe_at_m_3_contains_rbar_under_the_heat_scaling(
        gaussian_linear_6):
    s = cell_system(gaussian_linear_6, 3, 6, {"beta1": 1, "a": 2, "b": 1, "nu": 2})
    matches = find_rbar_subsystems(s.polys, s.weights, s.deltas)
    assert [(x.s1, x.s2, x.level) for x in matches] == [("db", "dnu", 6)]
    # the engine's level-2 form is db^2 + dnu: s1 = db, s2 = dnu / 2 (heat equation)
    assert matches[0].scales == (1, sp.Rational(1, 2))
    _assert_combinations(matches[0], s.polys, s.weights, s.deltas)
    red = reduce_level(s.polys, s.weights, s.deltas, timeout=30)
    assert red.status == CONDITIONAL
    assert "da = 0" in red.complement.certificate and "dbeta1 = 0" in red.complement.certificate


def test_a_rescaled_parametrisation_is_matched_with_its_own_scaling():
    exp = expand_model(build_model("3*a*x - b/2", "softmax", estimator="gaussian"), 6)
    s = cell_system(exp, 3, 6, {"beta1": 2, "a": 1, "b": 1, "nu": 2})
    (match,) = find_rbar_subsystems(s.polys, s.weights, s.deltas)
    # d/db = -(1/2) d/dmean: the level-2 form is db^2/4 + dnu, so s2 = 2 dnu
    assert (match.s1, match.s2, match.scales) == ("db", "dnu", (1, 2))
    assert reduce_level(s.polys, s.weights, s.deltas, timeout=30).status == CONDITIONAL
    low = cell_system(exp, 3, 4, {"beta1": 2, "a": 1, "b": 1, "nu": 2})
    red = reduce_level(low.polys, low.weights, low.deltas, timeout=30)
    assert red.status == "solution"  # the Gauss-Hermite witness at dnu = -1/4, exact
    assert red.witness[low.deltas[0][3]] == sp.Rational(-1, 4)


def test_a_perturbed_copy_is_not_reduced(gaussian_linear_6):
    s = cell_system(gaussian_linear_6, 3, 6, {"beta1": 1, "a": 2, "b": 1, "nu": 2})
    db = [u[2] for u in s.deltas]
    polys = [p.as_expr() for p in s.polys]
    # level 4 of the (b, nu) part: db^4/3 + 2 db^2 dnu + dnu^2 -> change the db^4 coefficient
    k = next(j for j, f in enumerate(s.forms) if f.degree == 4 and
             {a for a, _ in f.terms} == {(0, 0, 4, 0), (0, 0, 2, 1), (0, 0, 0, 2)})
    polys[k] += sum(w * b ** 4 for w, b in zip(s.weights, db, strict=True)) / 7
    matches = find_rbar_subsystems(polys, s.weights, s.deltas)
    assert matches and max(x.level for x in matches) == 3
    red = reduce_level(polys, s.weights, s.deltas, timeout=30)
    assert red.status == "not reduced" and "level 3 < r-bar(3) = 6" in red.reason


def test_a_system_without_the_subsystem_is_not_reduced():
    exp = expand_model(build_model("tanh(a*x+b)"), 3)
    s = cell_system(exp, 3, 3)
    assert find_rbar_subsystems(s.polys, s.weights, s.deltas) == ()
    red = reduce_level(s.polys, s.weights, s.deltas, timeout=30)
    assert red.status == "not reduced" and red.match is None


def test_equations_not_of_the_cell_form_are_not_reduced():
    s = rtilde_system(3, 6)
    eqs = list(s.decide_equations)
    eqs[0] = eqs[0] + s.atoms[0][1] * s.atoms[1][1]  # couples atoms 1 and 2
    red = reduce_level(eqs, s.weights, _atoms(s))
    assert red.status == "not reduced" and "cell form" in red.reason


def test_four_atoms_at_the_reduction_level_lower_bound_lifted_and_level_8_conditional():
    exp = expand_model(build_model("a*x+b", "softmax", estimator="gaussian"), 8)
    grading = {"beta1": 1, "a": 2, "b": 1, "nu": 2}
    seven = cell_system(exp, 4, 7, grading)
    red = reduce_level(seven.polys, seven.weights, seven.deltas, timeout=30)
    # level 7 = 2m - 1: the Gauss-Hermite witness lifted, exact by the span argument (no
    # algebraic-number arithmetic: the 8 algebraic values are out of check_witness's reach)
    assert red.status == "solution" and "exact trace computation" in red.reason
    eight = cell_system(exp, 4, 8, grading)
    red = reduce_level(eight.polys, eight.weights, eight.deltas, timeout=30)
    assert red.status == CONDITIONAL and "r-bar(4) <= 8" in red.assumes

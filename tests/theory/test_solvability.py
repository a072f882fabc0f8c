"""r-bar facts (theory.md section 6, issue 9 sections 4 and 5), decided by machine."""

import pytest
import sympy as sp

from identify.theory.solvability import (
    decide_level,
    gauss_hermite_certificate,
    rbar,
    rbar_system,
)


def _holds(system, witness):
    return all(sp.simplify(e.subs(witness)) == 0 for e in system.equations)


def test_rbar_2_solution_at_level_3():
    s = rbar_system(2, 3)
    d = decide_level(s, timeout=20)
    assert d.status == "solution"
    assert _holds(s, d.witness)
    assert any(d.witness[x] != 0 for x in s.deltas)
    assert all(d.witness[s.squares[w]] != 0 for w in s.weights)


def test_rbar_2_no_solution_at_level_4_both_solvers():
    d = decide_level(rbar_system(2, 4), timeout=20)
    assert d.status == "no solution"
    assert "cross-checked" in d.certificate
    assert set(d.solvers) == {"z3", "cvc5"}


def test_rbar_3_solution_at_level_5():
    s = rbar_system(3, 5)
    d = decide_level(s, timeout=20)
    assert d.status == "solution"
    assert "checked exactly" in d.certificate


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6])
def test_gauss_hermite_lower_bound_exact(m):
    import math

    c = gauss_hermite_certificate(m)
    assert c.holds
    assert all(v == 0 for v in c.levels[: 2 * m - 1])
    assert c.levels[-1] == sp.Rational(-math.factorial(m), math.factorial(2 * m))
    assert c.real_roots == m and c.weight_sum == 1


def test_rbar_value_and_provenance():
    v = rbar(4)
    assert v.value == 8
    assert "Kalai-Moitra-Valiant" in v.provenance and "checked exactly" in v.provenance
    assert rbar(2).machine_checked and not rbar(4).machine_checked

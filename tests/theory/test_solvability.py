"""r-bar / r-tilde facts (theory.md section 6, issue 9 sections 4 and 5), decided by machine."""

import math

import pytest
import sympy as sp

from identify.errors import IdentifyError
from identify.theory.decide import check_witness
from identify.theory.solvability import (
    decide_level,
    gauss_hermite_certificate,
    rbar,
    rbar_system,
    rtilde_system,
    smallest_level,
)


def _holds(system, witness):
    """Exact check in the paper's unknowns (s3 = sqrt(w) may be irrational)."""
    return all(sp.simplify(e.xreplace(witness)) == 0 for e in system.equations)


def test_rbar_system_as_stated():
    s = rbar_system(2, 2)
    # l = 2: s3^2 (s1^2 / 2 + s2) per atom
    assert sp.expand(s.equations[1] - sum(
        sp.Symbol(f"s3_{i}", real=True) ** 2 * (sp.Symbol(f"s1_{i}", real=True) ** 2 / 2
                                                 + sp.Symbol(f"s2_{i}", real=True)) for i in (1, 2))) == 0
    assert len(s.equations) == 2 and s.deltas == sp.symbols("s1_1:3", real=True)


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
    assert "z3: unsat" in d.certificate and "cvc5: unsat" in d.certificate
    assert "(cross-checked)" in d.certificate


def test_rbar_2_no_solution_without_the_reductions():
    # the same answer without sorting the atoms and without the grading (one z3 call)
    s = rbar_system(2, 4)
    from identify.theory.decide import decide

    d = decide(s.decide_equations, s.weights, s.deltas, free=s.free, timeout=20, solvers=("z3",))
    assert d.status == "no solution" and "z3: unsat" in d.certificate


def test_rbar_3_solution_at_level_5():
    s = rbar_system(3, 5)
    d = decide_level(s, timeout=20)
    assert d.status == "solution"
    assert "checked exactly" in d.certificate
    assert _holds(s, d.witness)


def test_smallest_rbar_2_is_4():
    res = smallest_level("rbar", 2, timeout=20, start=1)
    assert (res.value, res.lower, res.upper) == (4, 4, 4)
    assert [st for _, st, _ in res.steps] == ["solution"] * 3 + ["no solution"]
    # by default the search starts at 2m, after the exactly checked Gauss-Hermite witness
    res = smallest_level("rbar", 2, timeout=20)
    assert res.value == 4 and [r for r, _, _ in res.steps] == [3, 4]
    assert "Gauss-Hermite" in res.steps[0][2]


def test_smallest_level_reports_bounds_when_the_budget_is_spent():
    res = smallest_level("rbar", 4, timeout=60, r_max=8, rlimit={"z3": 50000, "cvc5": 10000})
    assert res.value is None and res.lower == 8 and res.upper is None
    assert res.steps[-1][1] == "unknown" and "resource limit" in res.steps[-1][2]


def test_rtilde_2_is_4():
    s3 = rtilde_system(2, 3)
    d3 = decide_level(s3, timeout=20)
    assert d3.status == "solution" and _holds(s3, d3.witness)
    d4 = decide_level(rtilde_system(2, 4), timeout=30)
    assert d4.status == "no solution"
    assert "z3: unsat in 12/12 cases" in d4.certificate


def test_rtilde_contains_rbar():
    # t1 = t2 = 0: the r-tilde system is the r-bar system (theory.md section 6)
    m, r = 2, 5
    rt, rb = rtilde_system(m, r), rbar_system(m, r)
    sub = {}
    for i in range(1, m + 1):
        sub.update({sp.Symbol(f"t1_{i}", real=True): 0, sp.Symbol(f"t2_{i}", real=True): 0,
                    sp.Symbol(f"t3_{i}", real=True): sp.Symbol(f"s1_{i}", real=True),
                    sp.Symbol(f"t4_{i}", real=True): sp.Symbol(f"s2_{i}", real=True),
                    sp.Symbol(f"t5_{i}", real=True): sp.Symbol(f"s3_{i}", real=True)})
    reduced = {sp.expand(e.xreplace(sub)) for e in rt.equations} - {0}
    assert reduced == {sp.expand(e) for e in rb.equations}


@pytest.mark.parametrize("m", [2, 3, 4, 5, 6])
def test_gauss_hermite_lower_bound_exact(m):
    c = gauss_hermite_certificate(m)
    assert c.holds
    assert all(v == 0 for v in c.levels[: 2 * m - 1])
    assert c.levels[-1] == sp.Rational(-math.factorial(m), math.factorial(2 * m))
    assert c.real_roots == m and c.weight_sum == 1


@pytest.mark.parametrize("m", [2, 3])
def test_gauss_hermite_witness_checks_in_decide(m):
    # the same witness, as exact algebraic numbers, passes decide's exact check at level 2m - 1
    # and fails it at level 2m
    x = sp.Symbol("x")
    he = sp.hermite_prob_poly(m, x, polys=True)
    nodes = [sp.CRootOf(he, k) for k in range(m)]
    he1 = sp.hermite_prob_poly(m - 1, x, polys=True)
    for level, ok in ((2 * m - 1, True), (2 * m, False)):
        s = rbar_system(m, level)
        witness = {}
        for i, node in enumerate(nodes):
            weight = sp.Rational(math.factorial(m), m * m) / he1.eval(node) ** 2
            # the weight as an exact algebraic number: a root of its minimal polynomial
            mp = sp.Poly(sp.minimal_polynomial(weight, x), x)
            approx = sp.N(weight, 50)
            weight_root = min((r for r in mp.real_roots()), key=lambda r: abs(sp.N(r, 50) - approx))
            witness[s.weights[i]] = weight_root
            witness[s.deltas[i]] = node
            witness[s.free[i]] = sp.Rational(-1, 2)
        polys = [sp.Poly(e, *s.weights, *s.deltas, *s.free) for e in s.decide_equations]
        assert check_witness(polys, witness, s.weights, s.deltas).ok is ok


def test_rbar_value_and_provenance():
    v = rbar(4)
    assert v.value == 8
    assert "Kalai-Moitra-Valiant" in v.provenance and "checked exactly" in v.provenance
    assert rbar(2).machine_checked and not rbar(4).machine_checked
    late = rbar(4, decide_upper=0.5)  # a budget far too small: stays unchecked, says why
    assert not late.machine_checked and "level 8 by machine now: unknown" in late.provenance
    assert rbar(3, kind="rtilde").value == 6 and "r-tilde" in rbar(3, kind="rtilde").provenance
    with pytest.raises(IdentifyError):
        rbar(0)


def test_bad_level_is_an_error():
    with pytest.raises(IdentifyError):
        rbar_system(2, 0)
    with pytest.raises(IdentifyError):
        smallest_level("rhat", 2)


@pytest.mark.slow
def test_rbar_3_level_6_decided_or_bounded():
    """r = 6, m = 3: decided, or "unknown" with the reason (budget 60 s per solver)."""
    d = decide_level(rbar_system(3, 6), timeout=60)
    assert d.status in ("no solution", "unknown")  # a solution would contradict r-bar(3) = 6
    if d.status == "unknown":
        assert "resource limit" in d.certificate or "wall-clock safety stop" in d.certificate

"""identify.theory.decide: exact witnesses, cross-checked non-existence, budgets."""

import time

import pytest
import sympy as sp

from identify.errors import IdentifyError
from identify.theory.decide import check_witness, decide

w1, w2, d1, d2, u = sp.symbols("w1 w2 d1 d2 u")


def test_trivially_unsat_both_solvers():
    # w1 * d1^2 + 1 = 0 has no real solution
    d = decide([w1 * d1**2 + 1], [w1], [d1], timeout=10)
    assert d.status == "no solution"
    assert d.witness is None
    assert "z3: unsat" in d.certificate and "cvc5: unsat" in d.certificate
    assert "cross-checked" in d.certificate


def test_trivially_sat_rational_witness_checked():
    d = decide([w1 - 2 * w2, d1 + d2], [w1, w2], [d1, d2], timeout=10)
    assert d.status == "solution"
    wt = d.witness
    assert wt[w1] == 2 * wt[w2] and wt[w2] > 0
    assert wt[d1] == -wt[d2] != 0
    assert "checked exactly" in d.certificate


def test_algebraic_witness_checked_exactly():
    # the only solutions have d1 = +-sqrt(2): z3 answers with a root-obj
    d = decide([d1**2 - 2, w1 - 1], [w1], [d1], timeout=10)
    assert d.status == "solution"
    v = d.witness[d1]
    assert isinstance(v, sp.CRootOf)
    assert sp.expand(v.poly.as_expr().subs(v.poly.gen, sp.sqrt(2)) * v.poly.as_expr().subs(
        v.poly.gen, -sp.sqrt(2))) == 0
    assert "algebraic" in d.certificate


def test_wrong_witness_rejected():
    polys = [sp.Poly(d1**2 - 2, w1, d1)]
    assert not check_witness(polys, {w1: 1, d1: sp.Rational(141421, 100000)}, [w1], [d1]).ok
    assert not check_witness(polys, {w1: 1, d1: 1.4142135623730951}, [w1], [d1]).ok
    x = sp.Symbol("x")
    assert not check_witness(polys, {w1: 1, d1: sp.CRootOf(x**2 - 3, 1)}, [w1], [d1]).ok
    assert check_witness(polys, {w1: 1, d1: sp.CRootOf(x**2 - 2, 1)}, [w1], [d1]).ok
    # exact numbers only: text is refused, never parsed
    assert not check_witness(polys, {w1: 1, d1: "sqrt(2)"}, [w1], [d1]).ok
    # sign conditions: the weight must be > 0, some delta != 0
    assert not check_witness([sp.Poly(d1, w1, d1)], {w1: 1, d1: 0}, [w1], [d1]).ok
    assert not check_witness([sp.Poly(d1 - 1, w1, d1)], {w1: 0, d1: 1}, [w1], [d1]).ok


def test_algebraic_zero_test_sees_a_tiny_nonzero_value():
    # sqrt(2) * sqrt(3) - sqrt(6) = 0, but sqrt(2) * sqrt(3) - 2.449489742783178 != 0
    x = sp.Symbol("x")
    r2, r3, r6 = (sp.CRootOf(x**2 - k, 1) for k in (2, 3, 6))
    polys = [sp.Poly(d1 * d2 - u, w1, d1, d2, u)]
    assert check_witness(polys, {w1: 1, d1: r2, d2: r3, u: r6}, [w1], [d1, d2]).ok
    close = sp.Rational(2449489742783178, 10**15)
    assert not check_witness(polys, {w1: 1, d1: r2, d2: r3, u: close}, [w1], [d1, d2]).ok


def test_safety_net_returns_unknown_promptly_says_so_and_leaves_no_process(monkeypatch):
    # a hard instance (the r-bar system, m = 4, level 8), no deterministic budget, 1 s net
    import subprocess

    from identify.theory.solvability import rbar_system

    started = []
    real_popen = subprocess.Popen

    def recording_popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    s = rbar_system(4, 8)
    t0 = time.perf_counter()
    d = decide(s.decide_equations, s.weights, s.deltas, free=s.free, timeout=1.0, rlimit=0)
    assert d.status == "unknown"
    assert time.perf_counter() - t0 < 8
    assert "z3: wall-clock safety stop" in d.certificate and "cvc5: wall-clock safety stop" in d.certificate
    assert "depends on the machine's load" in d.certificate
    assert len(started) == 2 and all(p.poll() is not None for p in started)


def test_z3_python_api_fallback(monkeypatch):
    # without the z3 executable, z3's Python API runs in the child process instead
    import sys

    from identify.theory import smt as mod

    original = mod._command

    def without_executable(name, timeout, rlimit=0):
        return ([sys.executable, "-c", mod._Z3_CHILD, str(rlimit)] if name == "z3"
                else original(name, timeout, rlimit))

    monkeypatch.setattr(mod, "_command", without_executable)
    d = decide([d1**2 - 2, w1 - 3], [w1], [d1], solvers=("z3",), timeout=10)
    assert d.status == "solution" and d.witness[w1] == 3


def test_grading_must_make_the_system_homogeneous():
    with pytest.raises(IdentifyError, match="weighted-homogeneous"):
        decide([w1 * d1 + d1**2], [w1], [d1], grading={d1: 1})


def test_unknown_symbol_is_an_error():
    with pytest.raises(IdentifyError, match="neither weights"):
        decide([w1 * d1 + u], [w1], [d1])


def test_non_polynomial_is_an_error():
    with pytest.raises(IdentifyError, match="polynomial"):
        decide([sp.exp(d1) * w1], [w1], [d1])


def test_to_dict_is_plain():
    d = decide([w1 - 1, d1 - 3], [w1], [d1], timeout=10)
    out = d.to_dict()
    assert out["status"] == "solution" and out["witness"] == {"w1": "1", "d1": "3"}


def test_atoms_must_be_interchangeable():
    # w1 * d1 + 2 * w2 * d2 is not symmetric under swapping atom 1 and atom 2
    with pytest.raises(IdentifyError, match="not interchangeable"):
        decide([w1 * d1 + 2 * w2 * d2], [w1, w2], [d1, d2], atoms=[(w1, d1), (w2, d2)])


def test_symmetric_graded_system_solution_is_sorted():
    # w1 d1 + w2 d2 = 0: graded (d: 1), atoms interchangeable: one case, d2 = 1 the largest
    d = decide([w1 * d1 + w2 * d2], [w1, w2], [d1, d2], grading={d1: 1, d2: 1},
               atoms=[(w1, d1), (w2, d2)], timeout=10)
    assert d.status == "solution"
    assert d.witness[d2] == 1 and d.witness[d1] < 0
    assert "1 case" in d.certificate


def test_bad_arguments_are_errors():
    with pytest.raises(IdentifyError, match="unknown solver"):
        decide([w1 * d1], [w1], [d1], solvers=("mathematica",))
    with pytest.raises(IdentifyError, match="timeout"):
        decide([w1 * d1], [w1], [d1], timeout=0)
    with pytest.raises(IdentifyError, match="at least one delta"):
        decide([w1], [w1], [])


def test_cvc5_algebraic_witness_checked_exactly():
    # cvc5 alone: d = sqrt(2) comes back as a real algebraic number (polynomial + interval)
    d = decide([d1**2 - 2, w1 * u**3 - 3], [w1], [d1], free=[u], solvers=("cvc5",), timeout=20)
    assert d.status == "solution" and d.solvers == ("cvc5",)
    assert sp.simplify(d.witness[d1] ** 2 - 2) == 0 and d.witness[w1] * d.witness[u] ** 3 == 3
    assert "checked exactly" in d.certificate


def test_atoms_must_keep_roles():
    # swapping (w1, d1) with (d2, w2) would exchange a weight and a delta
    with pytest.raises(IdentifyError, match="one role"):
        decide([w1 * d1 + w2 * d2], [w1, w2], [d1, d2], atoms=[(w1, d1), (d2, w2)])


def test_decide_rejects_a_solver_model_that_fails_the_exact_check(monkeypatch):
    # a solver claiming sat with a wrong (rounded) model: not a solution, and with the other
    # solver's unsat the answer is "unknown", both answers quoted
    from identify.theory import smt as mod

    original = mod._run

    def lying_z3(name, problem, timeout, rlimit=0):
        if name == "z3":
            return mod._Result("sat", {d1: sp.Rational(14142, 10000)}, 0.01)
        return original(name, problem, timeout, rlimit)

    monkeypatch.setattr(mod, "_run", lying_z3)
    d = decide([d1**2 - 2, w1 * d1**2 + 1], [w1], [d1], timeout=10)
    assert d.status == "unknown" and d.witness is None
    assert "witness rejected" in d.certificate and "cvc5: unsat" in d.certificate


def test_the_deterministic_budget_is_reported_and_counted():
    # the same hard instance under a small resource budget: both solvers stop on their own
    # count, long before the wall-clock net, and the certificate says which budget was spent
    from identify.theory.solvability import rbar_system

    s = rbar_system(4, 8)
    d = decide(s.decide_equations, s.weights, s.deltas, free=s.free, timeout=60,
               rlimit={"z3": 50000, "cvc5": 10000})
    assert d.status == "unknown"
    assert "z3: resource limit" in d.certificate and "cvc5: resource limit" in d.certificate
    assert "resource units per call cvc5 10000, z3 50000" in d.certificate
    assert "safety" not in d.certificate
    assert dict(d.rlimit) == {"z3": 50000, "cvc5": 10000}
    assert all(r is not None and r >= 10000 for r in d.resources)
    assert d.to_dict()["answers"][0]["resources"] >= 50000


def test_a_decided_system_reports_the_resources_it_used_and_no_timing_in_the_certificate():
    d = decide([w1 * d1**2 + 1], [w1], [d1], timeout=10)
    assert d.status == "no solution"
    assert all(isinstance(r, int) and r > 0 for r in d.resources)
    assert " s)" not in d.certificate  # timings are in answers, not in the proof text


def test_rlimit_must_be_a_non_negative_integer():
    with pytest.raises(IdentifyError, match="rlimit"):
        decide([w1 * d1], [w1], [d1], rlimit=-1)
    with pytest.raises(IdentifyError, match="rlimit"):
        decide([w1 * d1], [w1], [d1], rlimit={"z3": 1.5})


def test_text_equations_are_refused_not_parsed():
    """decide() is public: a string is never handed to sympy's parser, a float never turned
    into an inexact coefficient; both get one IdentifyError naming the type."""
    w, d = sp.symbols("w d")
    for bad in ("w*d**2", "__import__('os').system('true')", 0.5):
        with pytest.raises(IdentifyError, match="must be a sympy expression"):
            decide([bad], [w], [d], timeout=5)


def test_exact_numbers_and_expansion_points_are_never_parsed():
    """Text never reaches sympify: a witness value, a previous level's witness or an
    expansion point given as a string is refused (or not taken as rational), not parsed."""
    from fractions import Fraction

    from identify.theory.exactcheck import exact_number
    from identify.theory.series import taylor_series
    from identify.theory.witness import _rational_values

    assert exact_number(3) == 3 and exact_number(Fraction(1, 3)) == sp.Rational(1, 3)
    for bad in ("1/3", "__import__('os')", 0.5, True):
        assert exact_number(bad) is None
    assert _rational_values({"d": Fraction(1, 2)}) and not _rational_values({"d": "1/2"})
    a, u = sp.Symbol("a"), sp.Symbol("u")
    with pytest.raises(IdentifyError, match="not an exact number"):
        taylor_series(sp.tanh(a), {a: ("1/2", u)}, 2)
    assert taylor_series(sp.tanh(a), {a: (sp.Rational(1, 2), u)}, 2) is not None

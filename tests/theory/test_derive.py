"""Exponents derived from the model (theory/derive.py, issue 9 sections 3, 4 and 6)."""

from __future__ import annotations

from fractions import Fraction

import pytest
import sympy

from identify.model.model import build_model
from identify.theory.derive import derive
from identify.theory.expansion import expand_model
from identify.theory.system import cell_system


def exponents(d, m):
    return {e.block: e.exponent for e in d.cell(m).exponents}


@pytest.fixture(scope="module")
def gaussian_linear():
    return derive(build_model("a*x+b", "softmax", estimator="gaussian"), (1, 2), timeout=10)


def test_r_tilde_2_is_derived_from_the_gaussian_moe_with_linear_experts(gaussian_linear):
    e = exponents(gaussian_linear, 2)
    # arXiv:2305.03288: b at n^-1/(2 r~(2)) = n^-1/8; a, nu at n^-1/r~(2) = n^-1/4
    assert e["b"] == 4 and e["a"] == 2 and e["nu"] == 2
    # the derivation proves beta1 faster than the paper's n^-1/8: exponent 2 (n^-1/4) under the
    # grading beta1:2 (documented in docs/theory.md as a disagreement with the figures)
    assert e["beta1"] == 2
    b = gaussian_linear.cell(2).exponent("b")
    assert b.level == 4 and "no real solution" in b.proof and "level 3 has one" in b.proof
    assert "second rational atom" in b.proof
    assert all(x == 1 for x in exponents(gaussian_linear, 1).values())


def test_the_faster_beta1_rate_does_not_come_from_the_normaliser_terms():
    d = derive(build_model("a*x+b", "softmax", estimator="gaussian"), (2,), normaliser=False,
               recheck=False)
    assert exponents(d, 2) == {"beta1": 2, "a": 2, "b": 4, "nu": 2}


def test_r_tilde_3_has_an_exact_witness_at_level_5_under_the_papers_grading():
    exp = expand_model(build_model("a*x+b", "softmax", estimator="gaussian"), 6)
    r3 = sympy.sqrt(3)
    grading = {"beta1": 1, "a": 2, "b": 1, "nu": 2}
    # the 3-point Gauss-Hermite rule: nodes 0, +-sqrt 3, weights 2/3, 1/6, 1/6; dnu = -1
    # (s2 = dnu / 2 = -1/2 by the heat equation d2N/db2 = 2 dN/dnu)
    for level, holds in ((5, True), (6, False)):
        s = cell_system(exp, 3, level, grading)
        values = {}
        for w, u, wv, b in zip(s.weights, s.deltas, (sympy.Rational(2, 3), sympy.Rational(1, 6),
                                                    sympy.Rational(1, 6)), (0, r3, -r3), strict=True):
            values[w] = wv
            for p, sym in zip(exp.parameters, u, strict=True):
                values[sym] = {"b": b, "nu": -1}.get(p.name, 0)
        residuals = [sympy.expand(e.subs(values)) for e in s.equations]
        assert all(r == 0 for r in residuals) is holds


@pytest.mark.slow
def test_r_tilde_3_level_6_is_bounded_with_the_reason():
    d = derive(build_model("a*x+b", "softmax", estimator="gaussian"), (2, 3), timeout=60,
               recheck=False)
    cell = d.cell(3)
    assert cell.status in ("inconclusive", "partial")
    assert "undecided at level 6" in " ".join(e.proof for e in cell.exponents)
    assert any(s.level == 6 and "resource limit" in s.certificate for s in cell.steps)


@pytest.mark.parametrize("m", [2, 3])
def test_softmax_lse_tanh_has_r_star_2_and_every_block_at_a_quarter(m):
    d = derive(build_model("tanh(a*x+b)"), (m,) if m == 2 else (2, 3), timeout=10)
    assert exponents(d, m) == {"beta1": 2, "a": 2, "b": 2}
    assert all(e.level == 2 and dict(e.grading) == {"beta1": 1, "a": 1, "b": 1}
               for e in d.cell(m).exponents)


def test_linear_lse_expert_has_solutions_at_every_level_tried():
    d = derive(build_model("a*x+b"), (1, 2))
    cell = d.cell(2)
    assert cell.status == "no finite r"
    assert all(e.exponent is None for e in cell.exponents)
    assert all(s.status == "solution" for s in cell.steps)
    assert max(s.level for s in cell.steps) >= 4


PAIRS = [
    (("tanh(a*x+b)", "lse"), ("tanh(a*(x-c))", "lse")),
    (("sigmoid(a*x+b)", "lse"), ("sigmoid(a*(x-c))", "lse")),
    (("a*x+b", "lse"), ("a*(x-c)", "lse")),
    (("a*x+b", "gaussian"), ("a*(x-c)", "gaussian")),
]


@pytest.mark.parametrize("one, other", PAIRS)
def test_reparametrisation_keeps_the_verdict_and_every_exponent(one, other):
    from identify import check
    from identify.theory.rates import predict
    p1 = predict(check(one[0], estimator=one[1]), (1, 2))
    p2 = predict(check(other[0], estimator=other[1]), (1, 2))
    assert p1.verdict is p2.verdict
    rename = {"c": "b"}
    e1 = sorted((r.block, r.cell_size, r.exponent, r.rate) for r in p1.rates)
    e2 = sorted((rename.get(r.block, r.block), r.cell_size, r.exponent, r.rate) for r in p2.rates)
    assert e1 == e2


def test_exponents_are_fractions_and_the_derivation_serialises(gaussian_linear):
    d = gaussian_linear.to_dict()
    assert d["provenance"].startswith("[D]")
    assert all(isinstance(e.exponent, Fraction) for e in gaussian_linear.cell(2).exponents)

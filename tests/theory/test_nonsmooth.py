"""Kinks in the derivation: fixed kinks rewritten exactly, moving kinks expanded to first
order only, exact splits along homogeneous rays (identify/theory/nonsmooth.py, affine.py)."""

from __future__ import annotations

import pytest
import sympy

from identify import check
from identify.errors import IdentifyError
from identify.model.expert import Expert
from identify.model.functions import relu
from identify.model.model import build_model
from identify.symbolic.verdict import Verdict
from identify.theory import predict
from identify.theory.affine import affine_directions, exact_splits
from identify.theory.derive import derive
from identify.theory.expansion import expand_model
from identify.theory.nonsmooth import JUMP_REASON, first_order_form, fix_kinks

a, b, c, x = sympy.symbols("a b c x", real=True)
Q = sympy.Rational


def _relu(z):
    return sympy.Max(z, 0)  # an independent reference: sympy's own max


@pytest.mark.parametrize("a0", [Q(3, 5), Q(-7, 4)])
def test_a_kink_that_does_not_move_is_rewritten_exactly_on_the_atoms_side(a0):
    F, notes = fix_kinks(relu(a * x), [a], [x], {a: a0})
    assert not F.has(relu(a * x)) and notes
    for av in (a0, a0 * Q(5, 4), a0 * Q(1, 3)):  # parameters on the atom's side of a = 0
        for xv in (Q(-3, 2), Q(-1, 5), Q(2, 7), Q(5, 3)):
            assert F.subs({a: av, x: xv}).replace(relu, _relu) == _relu(av * xv)


def test_a_kink_whose_location_moves_keeps_its_first_order_taylor_coefficients():
    atom = {a: Q(3, 4), b: Q(-1, 3)}
    F = sympy.exp(x / 2) * relu(a * x + b)
    G = first_order_form(F, [a, b], [x], atom)
    for xv in (Q(-3, 2), Q(1, 5), Q(5, 3)):  # off the kink x = 4/9
        # value and first derivatives at the atom: those of relu on the atom's side there
        side = 1 if atom[a] * xv + atom[b] > 0 else 0
        piece = F.replace(relu, lambda z, side=side: z * side)
        for g, ref in ((G, piece), (sympy.diff(G, a), sympy.diff(piece, a)),
                       (sympy.diff(G, b), sympy.diff(piece, b))):
            assert sympy.simplify((g - ref).subs({**atom, x: xv})) == 0
    # ... and only those: the second derivative of the first-order form is 0, not delta
    assert sympy.diff(G, b, 2) == 0


def test_a_moving_jump_is_refused_even_at_first_order():
    with pytest.raises(IdentifyError) as err:
        first_order_form(a * sympy.sign(x - b), [a, b], [x], {a: Q(1, 2), b: Q(1, 3)})
    assert str(err.value).startswith(JUMP_REASON[:40])


def test_a_kink_that_is_not_transversal_is_not_expanded():
    d = derive(build_model("relu(a*x**2 + b)"), (1, 2), recheck=False)
    assert d.expansion is None and all(c.status == "inconclusive" for c in d.cells)
    assert "not affine in the inputs" in d.notes[0]


@pytest.mark.parametrize("formula, moved, degree", [
    ("relu(a*x + b)", ("a", "b"), 1), ("abs(a*x + b)", ("a", "b"), 1),
    ("(a*x + b)**2", ("a", "b"), 2), ("relu(a*x)", ("a",), 1)])
def test_a_homogeneous_ray_gives_an_exact_split_checked_by_substitution(formula, moved, degree):
    (split,) = [s for s in affine_directions(Expert.from_formula(formula)) if s.degree]
    assert split.moved == moved and split.degree == degree
    h = Expert.from_formula(formula).expr
    syms = {s.name: s for s in h.free_symbols}
    theta = {syms["a"]: Q(4, 5), **({syms["b"]: Q(-1, 3)} if "b" in syms else {})}
    s1 = Q(5, 4)  # s1^k = 1 + delta, s2^k = 1 - delta
    s2 = (2 - s1 ** degree) ** Q(1, degree)

    def h_at(s, xv):
        return h.subs({p: s * v for p, v in theta.items()}).subs(syms["x"], xv).replace(relu, _relu)

    for xv in (Q(-7, 4), Q(-1, 6), Q(1, 9), Q(3, 2)):
        mix = (h_at(s1, xv) + h_at(s2, xv)) / 2
        assert sympy.simplify(mix - h_at(1, xv)) == 0


def test_smooth_nonhomogeneous_experts_and_other_estimators_have_no_ray():
    assert not [s for s in affine_directions(Expert.from_formula("tanh(a*x + b)")) if s.degree]
    assert not [s for s in affine_directions(Expert.from_formula("gelu(a*x + b)")) if s.degree]
    assert exact_splits(build_model("relu(a*x+b)", estimator="gaussian")) == ()
    assert exact_splits(build_model("relu(a*x+b)", "sigmoid")) == ()
    assert exact_splits(build_model("relu(a*x+b)"))[0].moved == ("a", "b")


def test_a_bias_free_relu_is_analysed_through_its_fixed_kink_to_every_order():
    e = expand_model(build_model("relu(a*x)", estimator="gaussian"), 2)
    assert e.independent is True and "positive homogeneity" in e.certificate
    p = predict(check("relu(a*x)", estimator="gaussian"), (1, 2))
    assert {(r.block, r.cell_size): r.exponent for r in p.rates} == {
        (blk, m): (1 if m == 1 else 2) for blk in ("beta1", "a", "nu") for m in (1, 2)}
    assert p.verdict is Verdict.STRONG


@pytest.mark.parametrize("estimator", ["lse", "gaussian"])
def test_a_relu_ridge_in_two_parametrisations_gets_one_answer(estimator):
    """relu(a x + b) and relu(a (x - c)) (kink at c) are the same model near a generic atom:
    one verdict, one exact cell, and the same exponents for the blocks they share. b moves
    with a along the kink-fixed ray s (a, b); c is the kink's position, which no kink-fixed
    direction moves, so it is only bounded (Gaussian: 3/2 <= e <= 2)."""
    p1 = predict(check("relu(a*x + b)", estimator=estimator), (1, 2))
    p2 = predict(check("relu(a*(x - c))", estimator=estimator), (1, 2))
    assert p1.verdict == p2.verdict
    for p in (p1, p2):
        assert all(r.exponent == 1 for r in p.rates if r.cell_size == 1)
    shared = {(r.block, r.exponent) for r in p1.rates if r.cell_size == 2 and r.block != "b"}
    assert shared == {(r.block, r.exponent) for r in p2.rates if r.cell_size == 2
                      and r.block != "c"}
    assert rate(p2, "c", 2).exponent is None
    if estimator == "gaussian":
        assert p1.verdict is Verdict.STRONG
        assert rate(p1, "b", 2).exponent == 2
        assert rate(p2, "c", 2).certificate == "bounded: 3/2 <= e <= 2"
    else:
        assert rate(p1, "b", 2).exponent is None
        assert p1.derivation.cell(2).status == p2.derivation.cell(2).status


def test_a_relu_ridge_under_the_gaussian_moe_is_derived_from_its_pieces_jointly():
    """Dead side (expert 0) and active side (the linear expert), one system: the active side
    alone leaves b at 4 (the linear experts' r~(2)), the dead side alone sees beta1 and nu
    only; jointly, level 2 has no solution, so every block <= 2; kink-fixed witnesses
    (beta1, nu and the ray s (a, b)) give every block >= 2."""
    p = predict(check("relu(a*x + b)", estimator="gaussian"), (1, 2, 3))
    for m in (2, 3):
        assert {r.block: r.exponent for r in p.rates if r.cell_size == m} == {
            "beta1": 2, "a": 2, "b": 2, "nu": 2}
        assert rate(p, "b", m).certificate == "bounds meet (pieces' joint system, witness)"
    assert "joint system" in rate(p, "b", 2).proof and "e >= 2" in rate(p, "b", 2).proof
    assert p.verdict is Verdict.STRONG


def test_the_pieces_joint_system_is_stronger_than_either_piece():
    """At the same atom: the active piece (a*x + b) has an exact witness at level 2 under the
    uniform grading; the joint system of both pieces has none (z3 and cvc5)."""
    from identify.theory.decide import decide
    from identify.theory.expansion import atom_function, crossing_atom
    from identify.theory.piecebounds import joint_expansion, piece_experts
    from identify.theory.system import cell_system
    from identify.theory.witness import find_witness

    model = build_model("relu(a*x + b)", estimator="gaussian")
    atom = crossing_atom(model, atom_function(model, True), 0)
    pieces = piece_experts(model, atom)
    assert [e.formula for e, _ in pieces] == ["a*x + b", "0"]
    joint, _ = joint_expansion(model, 2, atom)
    active = expand_model(build_model(pieces[0][0], estimator="gaussian"), 2,
                          atom={s: v for s, v in atom.items()})
    dead = expand_model(build_model(pieces[1][0], estimator="gaussian"), 2,
                        atom={s: v for s, v in atom.items() if s.name in ("beta1", "nu")})
    assert len(joint.coefficients) == len(active.coefficients) + len(dead.coefficients)
    assert find_witness(cell_system(active, 2, 2), None) is not None
    s = cell_system(joint, 2, 2)
    assert decide(s.polys, s.weights, s.all_deltas).status == "no solution"


def rate(p, block, m):
    return next(r for r in p.rates if r.block == block and r.cell_size == m)


def test_the_laplace_gate_in_one_dimension_derives_the_exact_cell_only():
    p = predict(check("a*x + b", "laplace", estimator="gaussian"), (1, 2))
    assert all(rate.exponent == 1 for rate in p.rates if rate.cell_size == 1)
    assert all(rate.rate == "not derived" and "kink" in rate.certificate
               for rate in p.rates if rate.cell_size == 2)
    assert "first-order L2 expansion" in p.derivation.expansion.certificate


def test_identify_system_shows_the_pieces_joint_system_across_a_moving_kink():
    """`identify system` for relu(a*x + b) under the Gaussian MoE prints the system `rates`
    bounds the exponents with; its level-2 equations contain sum_i w_i db_i^2 = 0."""
    from identify.theory.systemtext import build_system, format_system
    s = build_system("relu(a*x + b)", estimator="gaussian", cell=2, order=2)
    text = format_system(s)
    assert "the pieces' joint expansion" in text
    w1, w2 = s.weights
    db1, db2 = (d for d in s.all_deltas if d.name.startswith("db_"))
    assert sympy.expand(w1 * db1 ** 2 + w2 * db2 ** 2) in s.equations
    with pytest.raises(IdentifyError, match="kink"):  # the gate's kink: no pieces
        build_system("a*x + b", gate="laplace", estimator="gaussian", cell=2, order=2)


def test_two_laplace_atoms_reproduce_the_truth_exactly_off_the_band():
    """Why the pieces bound nothing under the Laplace gate (piecebounds.py): atoms at
    W* +- delta with weights w* / (2 cosh delta) give the truth's kernel exactly for
    |x - W*| > delta, on both sides (and so the same gate and f_G there)."""
    W, d, w, xx = sympy.symbols("W delta w x", positive=True)
    weight = w / (2 * sympy.cosh(d))
    for side in (1, -1):  # x - W* > delta, and x - W* < -delta
        kernel = sum(weight * sympy.exp(-side * (xx - (W + s * d))) for s in (1, -1))
        assert sympy.simplify((kernel - w * sympy.exp(-side * (xx - W))).rewrite(sympy.exp)) == 0

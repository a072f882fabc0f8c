"""Voronoi cells and losses (theory.md section 2), including property tests."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.truth import default_truth
from identify.numeric.voronoi import voronoi

MODEL = build_model("tanh(a*x+b)")
TRUTH = default_truth(MODEL)
NM2 = NumericModel(MODEL, 2)
THETA = TRUTH.vector(NM2)
EXP2 = {"beta1": 2.0, "a": 2.0, "b": 2.0}


def test_loss_is_zero_at_the_truth():
    v = voronoi(NM2, THETA, NM2, THETA)
    assert v.losses == {"D1": 0.0}  # D2 needs the predicted exponents
    assert v.cells == ((0,), (1,))
    assert voronoi(NM2, THETA, NM2, THETA, EXP2).losses == {"D1": 0.0, "D2": 0.0}


def test_exact_fitted_loss_is_the_sum_of_block_distances():
    th = THETA.copy()
    th[2] += 0.1  # a of atom 1
    th[5] -= 0.2  # b of atom 2
    v = voronoi(NM2, th, NM2, THETA)
    assert abs(v.losses["D1"] - 0.3) < 1e-12
    assert abs(v.block_errors["exact:a"] - 0.05) < 1e-12  # mean over the two cells


def test_over_fitted_cell_uses_the_exponent_and_splits_weights():
    nm3 = NumericModel(MODEL, 3)
    atoms, _ = NM2.split(NM2.full(THETA))
    # split atom 1 into two halves at a* +- 0.1
    a_col = [s.name for s in nm3.atom_syms].index("a")
    b0 = [s.name for s in nm3.atom_syms].index("beta0")
    split = np.vstack([atoms[0], atoms[0], atoms[1]])
    split[0, b0] = split[1, b0] = atoms[0, b0] - np.log(2)
    split[0, a_col] += 0.1
    split[1, a_col] -= 0.1
    v = voronoi(nm3, nm3.pack(split), NM2, THETA, EXP2)
    assert v.cell_sizes == (2, 1)
    # weights: both halves 1/2 of w*_1 = 1 -> weight term 0; D2 = 2 * 1/2 * 0.1^2
    assert abs(v.losses["D2"] - 0.01) < 1e-12
    assert abs(v.losses["D1"] - 0.1) < 1e-12
    assert abs(v.block_errors["over:a"] - 0.1) < 1e-12
    assert v.block_errors["over@1:a"] == v.block_errors["over:a"]  # stratified: cell at atom 1
    assert not any(k.startswith("over@2") for k in v.block_errors)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=10, max_size=10), st.permutations([0, 1]))
def test_losses_are_nonnegative_and_invariant_to_relabelling_free_atoms(values, perm):
    nm3 = NumericModel(MODEL, 3)
    th = np.array(values)
    v = voronoi(nm3, th, NM2, THETA)
    assert all(x >= 0 for x in v.losses.values())
    # swap the two free atoms (the last atom is the pinned reference)
    atoms, _ = nm3.split(nm3.full(th))
    swapped = atoms.copy()
    swapped[[0, 1]] = atoms[perm]
    w = voronoi(nm3, nm3.pack(swapped), NM2, THETA)
    for key in v.losses:
        assert abs(v.losses[key] - w.losses[key]) < 1e-9 * (1 + abs(v.losses[key]))


def _split_first(delta_a: float = 0.1):
    nm3 = NumericModel(MODEL, 3)
    atoms, _ = NM2.split(NM2.full(THETA))
    names = [s.name for s in nm3.atom_syms]
    split = np.vstack([atoms[0], atoms[0], atoms[1]])
    split[0, names.index("beta0")] = split[1, names.index("beta0")] = atoms[0, 0] - np.log(2)
    split[0, names.index("a")] += delta_a
    split[1, names.index("a")] -= delta_a
    return nm3, split, names


def test_d2_uses_the_predicted_exponent_of_each_block():
    nm3, split, _ = _split_first()
    v = voronoi(nm3, nm3.pack(split), NM2, THETA, {"beta1": 4.0, "a": 4.0, "b": 2.0})
    assert abs(v.losses["D2"] - 2 * 0.5 * 0.1**4) < 1e-15
    # a block without a number (slower than any polynomial): no D2 at all
    assert "D2" not in voronoi(nm3, nm3.pack(split), NM2, THETA,
                               {"beta1": None, "a": 2.0, "b": 2.0}).losses


def test_weights_are_not_rescaled_when_the_reference_atom_is_alone():
    th = THETA.copy()
    atoms, _ = NM2.split(NM2.full(th))
    atoms[0, 0] = np.log(1.5)  # w_1 = 1.5 against w*_1 = 1
    v = voronoi(NM2, NM2.pack(atoms), NM2, THETA)
    assert v.translation == 0.0
    assert abs(v.losses["D1"] - 0.5) < 1e-12  # |1.5 - 1| + 1.5 * 0 (no rescaling)


def test_an_over_specified_reference_cell_is_compared_up_to_translation():
    # split the reference atom: weights (w*_1, 1/2, 1/2) in the truth's scale are, with the
    # fitted reference pinned at beta0 = 0, (2 w*_1, 1, 1): the same mixture
    nm3 = NumericModel(MODEL, 3)
    atoms, _ = NM2.split(NM2.full(THETA))
    names = [s.name for s in nm3.atom_syms]
    b0 = names.index("beta0")
    fit = np.vstack([atoms[0], atoms[1], atoms[1]])
    fit[0, b0] = atoms[0, b0] + np.log(2)
    fit[1, b0] = 0.0
    X = np.linspace(-1, 1, 50)[:, None]
    assert np.allclose(nm3.predict(X, nm3.pack(fit)), NM2.predict(X, THETA))
    v = voronoi(nm3, nm3.pack(fit), NM2, THETA, EXP2)
    assert v.cell_sizes == (1, 2)
    assert abs(v.translation + np.log(2)) < 1e-12
    assert v.losses["D1"] < 1e-12 and v.losses["D2"] < 1e-12


# -- the softmax Gaussian MoE of arXiv:2305.03288: translation and vanishing atoms ----------

from identify.numeric.truth import load_preset  # noqa: E402

SG_MODEL, SG_TRUTH, _ = load_preset("softmax-gaussian-linear")
SG2 = NumericModel(SG_MODEL, 2)
SG3 = NumericModel(SG_MODEL, 3)
SG_THETA = SG_TRUTH.vector(SG2)
SG_ATOMS = SG2.split(SG2.full(SG_THETA))[0]
SG_NAMES = [s.name for s in SG3.atom_syms]  # beta0, beta1, a, b, nu
SG_EXP = {"beta1": 4.0, "b": 4.0, "a": 2.0, "nu": 2.0}


def _pin_last(atoms: np.ndarray) -> np.ndarray:
    """The same mixture with the last atom's gate at (0, 0): every gate shifted by it."""
    out = atoms.copy()
    out[:, :2] -= atoms[-1, :2]
    return out


def test_a_vanishing_atom_does_not_carry_the_over_specified_error():
    # atom 1 split: a heavy half with nu off by 0.001 and an atom of weight 1e-6 w*_1 whose
    # variance is far off (0.01 against 0.09): the fitted mixture hardly sees it
    eps = 1e-6
    fit = np.vstack([SG_ATOMS[0], SG_ATOMS[0], SG_ATOMS[1]])
    fit[0, 0] += np.log(1 - eps)
    fit[1, 0] += np.log(eps)
    fit[0, 4] += 0.001
    fit[1, 4] = 0.01
    v = voronoi(SG3, SG3.pack(fit), SG2, SG_THETA, SG_EXP)
    assert v.cell_sizes == (2, 1) and v.translation == 0.0 and v.shifts == {}
    want = np.sqrt((1 - eps) * 0.001**2 + eps * 0.08**2)
    assert abs(v.block_errors["over:nu"] - want) < 1e-12
    assert v.block_errors["over:nu"] < 0.0011  # the largest |Delta nu| of the cell is 0.08
    assert abs(v.losses["D2"] - ((1 - eps) * 0.001**2 + eps * 0.08**2) * np.exp(-8)) < 1e-15


def test_an_over_specified_reference_cell_is_compared_up_to_the_gate_translation():
    # the reference cell split, the gates moved by a common (t0, t1) = (0.7, -3) and pinned
    # back at the *light* atom: the same mixture, whose loss must be the truth's (0)
    free = np.vstack([SG_ATOMS[0], SG_ATOMS[1], SG_ATOMS[1]])
    free[1, 0] += np.log(0.9)
    free[2, 0] += np.log(0.1)
    free[:, :2] += [0.7, -3.0]
    fit = _pin_last(free)
    X = np.linspace(0, 1, 40)[:, None]
    y = SG2.predict(X, SG_THETA)
    assert abs(SG3.loglik(X, y, SG3.pack(fit))[0] - SG2.loglik(X, y, SG_THETA)[0]) < 1e-9
    assert fit[0, 1] == SG_ATOMS[0, 1] - SG_ATOMS[1, 1] + 0  # beta1 of atom 1 is still 25
    fit[1, 1] += 0.5  # now the heavy atom's gate slope is 0.5 off the truth's
    v = voronoi(SG3, SG3.pack(fit), SG2, SG_THETA, SG_EXP)
    assert v.cell_sizes == (1, 2)
    # the shift is the weighted mean of the beta1 differences (0 for atom 1 and the light
    # atom, -0.5 for the heavy one), weights exp(beta0): (w*_1, 0.9, 0.1) in any scale
    t = v.shifts["beta1"][0]
    assert abs(t + 0.5 * 0.9 / (0.9 + 0.1 + np.exp(-8))) < 1e-12
    want = (0.9 * (0.5 + t) ** 4 + 0.1 * t**4) ** 0.25
    assert abs(v.block_errors["over:beta1"] - want) < 1e-9
    assert abs(v.block_errors["exact:beta1"] - abs(t)) < 1e-9  # atom 1 moved by t too


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-0.3, 0.3), min_size=15, max_size=15), st.floats(0.05, 0.95))
def test_losses_do_not_depend_on_which_atom_of_the_cell_is_pinned(noise, share):
    # one mixture, two parametrisations: the reference cell's atoms in either order, each
    # time pinned at the last one. Losses, cells and block errors must agree.
    free = np.vstack([SG_ATOMS[0], SG_ATOMS[1], SG_ATOMS[1]]) + np.reshape(noise, (3, 5))
    free[:, 4] = np.abs(free[:, 4]) + 0.01
    free[1, 0] += np.log(share)
    free[2, 0] += np.log(1 - share)
    one = _pin_last(free)
    two = _pin_last(free[[0, 2, 1]])
    v1 = voronoi(SG3, SG3.pack(one), SG2, SG_THETA, SG_EXP)
    v2 = voronoi(SG3, SG3.pack(two), SG2, SG_THETA, SG_EXP)
    assert v1.cell_sizes == v2.cell_sizes == (1, 2)
    for a, b in ((v1.losses, v2.losses), (v1.block_errors, v2.block_errors)):
        assert a.keys() == b.keys()
        for key in a:
            assert abs(a[key] - b[key]) <= 1e-7 * (1 + abs(a[key])), key


def test_the_translation_does_not_zero_an_exact_cell_error():
    # tanh, k = 3: atom 1 exact and heavy (w = 3), the reference cell split with beta1 off
    # by -0.1 and +0.3. An L1 (weighted-median) shift would sit exactly on atom 1 and make
    # its error 0 (log 0 in the slope); the weighted mean is t = 0.5 * 0.2 / 4 = 0.025.
    nm3 = NumericModel(MODEL, 3)
    atoms, _ = NM2.split(NM2.full(THETA))
    free = np.vstack([atoms[0], atoms[1], atoms[1]])
    free[0, 0] = np.log(3.0)
    free[1:, 0] = np.log(0.5)
    free[1, 1] -= 0.1
    free[2, 1] += 0.3
    fit = free.copy()
    fit[:, :2] -= free[-1, :2]
    v = voronoi(nm3, nm3.pack(fit), NM2, THETA, EXP2)
    assert v.cell_sizes == (1, 2)
    assert abs(v.block_errors["exact:beta1"] - 0.025) < 1e-12


def test_with_inputs_the_shift_is_weighted_by_the_atoms_shares_of_the_mixture():
    from identify.numeric.voronoi import gate_shares

    free = np.vstack([SG_ATOMS[0], SG_ATOMS[1], SG_ATOMS[1]])
    free[1, 0] += np.log(0.9)
    free[2, 0] += np.log(0.1)
    free[1, 1] += 0.5
    fit = _pin_last(free)
    th = SG3.pack(fit)
    shares = gate_shares(SG3, th, SG_TRUTH.inputs)
    assert abs(shares.sum() - 1) < 1e-12 and np.all(shares > 0)
    v = voronoi(SG3, th, SG2, SG_THETA, SG_EXP, inputs=SG_TRUTH.inputs)
    d = np.array([SG_ATOMS[0, 1] - fit[0, 1], -fit[1, 1], -fit[2, 1]])  # beta1* - beta1
    assert abs(v.shifts["beta1"][0] - shares @ d / shares.sum()) < 1e-12
    # atom 1 holds most of the mixture over [0, 1] (its exp(beta0) = e^-8 says nothing of
    # that): it keeps the shift near its own difference 0, where exp(beta0) weights put it
    # at the heavy reference-cell atom's -0.5 * 0.9
    assert shares[0] > 0.6 and abs(v.shifts["beta1"][0]) < 0.2
    w = voronoi(SG3, th, SG2, SG_THETA, SG_EXP)
    assert abs(w.shifts["beta1"][0] + 0.45) < 1e-3

"""Expert estimation errors against a naive reference (plain loops, independent formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from identify.model.model import build_model
from identify.numeric.compile import NumericModel
from identify.numeric.experts import expert_errors, lipschitz, quadrature, regression_error
from identify.numeric.truth import InputSpec, default_truth

MODEL = build_model("tanh(a*x+b)")
TRUTH = default_truth(MODEL)
NM2 = NumericModel(MODEL, 2)
NM3 = NumericModel(MODEL, 3)
THETA = TRUTH.vector(NM2)
NAMES = [s.name for s in NM3.atom_syms]  # beta0, beta1, a, b


def _fitted(seed: int) -> np.ndarray:
    """A k = 3 fit near the truth: atom 1 split in two, everything perturbed (seeded)."""
    rng = np.random.default_rng(seed)
    atoms, _ = NM2.split(NM2.full(THETA))
    fit = np.vstack([atoms[0], atoms[0], atoms[1]]) + 0.05 * rng.normal(size=(3, 4))
    fit[0, 0] = fit[1, 0] = atoms[0, 0] - math.log(2) + 0.05 * rng.normal()
    fit[2, :2] = 0.0  # the pinned reference atom
    return fit


def _naive(fit: np.ndarray, truth: np.ndarray, e_over: float, low=-1.0, high=1.0,
           m: int = 20000) -> dict[str, float]:
    """Plain loops: nearest true atom by (beta1, a, b), L2 by the midpoint rule on m cells
    of [low, high] (uniform inputs), sup on m + 1 equally spaced points, math.tanh."""
    cells: list[list[int]] = [[] for _ in truth]
    for i, atom in enumerate(fit):
        best, arg = math.inf, -1
        for j, t in enumerate(truth):
            d = math.sqrt(sum((atom[c] - t[c]) ** 2 for c in (1, 2, 3)))
            if d < best:
                best, arg = d, j
        cells[arg].append(i)
    out = {"L2": 0.0, "sup": 0.0}
    per: dict[str, list[float]] = {}
    for j, cell in enumerate(cells):
        a0, b0 = truth[j][2], truth[j][3]
        dists = []
        for i in cell:
            a, b = fit[i][2], fit[i][3]
            sq = 0.0
            for q in range(m):
                x = low + (q + 0.5) * (high - low) / m
                sq += (math.tanh(a * x + b) - math.tanh(a0 * x + b0)) ** 2 / m
            sup = 0.0
            for q in range(m + 1):
                x = low + q * (high - low) / m
                sup = max(sup, abs(math.tanh(a * x + b) - math.tanh(a0 * x + b0)))
            dists.append((i, math.sqrt(sq), sup))
        e = e_over if len(cell) > 1 else 1.0
        for i, l2, sup in dists:
            w = math.exp(fit[i][0])
            out["L2"] += w * l2**e
            out["sup"] += w * sup**e
        if len(cell) > 1:  # weighted power mean over the cell, exponent e
            tot = sum(math.exp(fit[i][0]) for i, _, _ in dists)
            for c, key in ((1, "over:L2"), (2, "over:sup")):
                per.setdefault(key, []).append(
                    (sum(math.exp(fit[d[0]][0]) * d[c] ** e for d in dists) / tot) ** (1 / e))
        elif dists:
            per.setdefault("exact:L2", []).append(dists[0][1])
            per.setdefault("exact:sup", []).append(dists[0][2])
    out.update({k: sum(v) / len(v) for k, v in per.items()})
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_expert_errors_match_a_naive_reference(seed):
    fit = _fitted(seed)
    truth_atoms, _ = NM2.split(NM2.full(THETA))
    got = expert_errors(NM3, NM3.pack(fit), NM2, THETA, TRUTH.inputs, over_exponent=2.0)
    want = _naive(fit, truth_atoms, 2.0)
    assert set(got.losses) == {"L2", "sup"}
    assert set(got.cells) == {"over:L2", "over:sup", "exact:L2", "exact:sup"}
    for key in ("L2", "over:L2", "exact:L2"):
        value = got.losses.get(key, got.cells.get(key))
        assert value == pytest.approx(want[key], rel=1e-6)
    for key in ("sup", "over:sup", "exact:sup"):  # 2001-point grid against 20001 points
        value = got.losses.get(key, got.cells.get(key))
        assert value == pytest.approx(want[key], rel=1e-3)
        assert value <= want[key] * (1 + 1e-12)  # a coarser grid never sees a larger max


def test_expert_errors_vanish_at_the_truth_and_need_an_exponent_when_over_fitted():
    e = expert_errors(NM2, THETA, NM2, THETA, TRUTH.inputs)
    assert e.losses == {"L2": 0.0, "sup": 0.0}
    fit = _fitted(0)
    without = expert_errors(NM3, NM3.pack(fit), NM2, THETA, TRUTH.inputs, over_exponent=None)
    assert without.losses == {} and "over:L2" in without.cells


def _naive_regression(fit: np.ndarray, truth: np.ndarray, m: int = 20000) -> float:
    """Plain loops: softmax over exp(beta0 + beta1 x), midpoint rule on [-1, 1]."""
    def f(atoms, x):
        s = [math.exp(t[0] + t[1] * x) for t in atoms]
        return sum(si * math.tanh(t[2] * x + t[3]) for si, t in zip(s, atoms, strict=True)) / sum(s)
    sq = 0.0
    for q in range(m):
        x = -1.0 + (q + 0.5) * 2.0 / m
        sq += (f(fit, x) - f(truth, x)) ** 2 / m
    return math.sqrt(sq)


@pytest.mark.parametrize("seed", [0, 1])
def test_regression_error_matches_a_naive_reference(seed):
    fit = _fitted(seed)
    truth_atoms, _ = NM2.split(NM2.full(THETA))
    got = regression_error(NM3, NM3.pack(fit), NM2, THETA, TRUTH.inputs)
    assert got > 1e-4
    assert got == pytest.approx(_naive_regression(fit, truth_atoms), rel=1e-6)
    # the same function written with the weight of the first true atom split over two
    # identical atoms is at distance 0 although its atoms differ from the truth's
    split = np.vstack([truth_atoms[0], truth_atoms[0], truth_atoms[1]])
    split[:2, 0] = truth_atoms[0, 0] - math.log(2)
    assert regression_error(NM3, NM3.pack(split), NM2, THETA, TRUTH.inputs) < 1e-14


def test_quadrature_integrates_the_input_distribution():
    X, W = quadrature(InputSpec(), 1)
    assert W.sum() == pytest.approx(1.0) and float(W @ X[:, 0] ** 2) == pytest.approx(1 / 3)
    gm = InputSpec(kind="gaussian-mixture", means=(-0.5, 0.5), sds=(0.3, 0.3))
    X, W = quadrature(gm, 1)
    assert float(W @ X[:, 0]) == pytest.approx(0.0, abs=1e-12)
    assert float(W @ X[:, 0] ** 2) == pytest.approx(0.25 + 0.09)
    X2, W2 = quadrature(InputSpec(low=0.0, high=2.0), 2)
    assert float(W2 @ (X2[:, 0] * X2[:, 1])) == pytest.approx(1.0)


@pytest.mark.parametrize("formula, lipschitz_shown", [
    ("tanh(a*x+b)", True), ("relu(a*x+b)", True), ("a*x+b", True),
    ("sqrt(a)*x", False), ("log(a)*x", False)])
def test_lipschitz_in_the_parameters(formula, lipschitz_shown):
    note = lipschitz(NumericModel(build_model(formula), 2))
    assert (note == "") == lipschitz_shown
    if not lipschitz_shown:
        assert "not shown to be Lipschitz" in note

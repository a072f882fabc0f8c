"""The rate confirmations of issue 4 (slow: `make test-slow`).

These assert what the sweeps measure against the theory. If a slope disagrees, the test
fails and the figures are reported; the verdicts are those of `fit_slope` (confirmed only
when the whole interval lies inside predicted +- 0.1), not loosened.
"""

from __future__ import annotations

import pytest

from identify.numeric.simulate import simulate
from identify.numeric.slopes import slope_table

pytestmark = pytest.mark.slow


def _fit(result, quantity, k):
    (f,) = [s for s in result.slopes if s.quantity == quantity and s.fitted_k == k]
    return f


@pytest.fixture(scope="module")
def tanh_sweep(tmp_path_factory):
    return simulate("tanh(a*x+b)", store=str(tmp_path_factory.mktemp("tanh") / "tanh.sqlite"),
                    fitted_ks=(2, 3), ns="1e2:2e4:10", replicates=10, workers=2,
                    progress=False)


def test_tanh_default_sweep_confirms_n_to_the_minus_half(tanh_sweep):
    r = tanh_sweep
    print(slope_table(r.slopes))
    # confirmed: the whole interval inside -0.5 +- 0.1, not merely containing -0.5
    d1 = _fit(r, "D1", 2)
    assert d1.verdict == "confirmed", d1.reason
    for block in ("a", "b", "beta1"):
        assert _fit(r, f"block exact:{block}", 2).predicted == -0.5
        assert _fit(r, f"block over:{block}", 3).predicted == -0.25


_TANH_D2_FINDING = (
    "finding (2026-12-01): over-fitted tanh (k = 3), n = 1e2..2e4, 10 replicates: D2 "
    "0.098 [-1.693, 1.889], robust -0.587, 'runaway' (a few converged fits with large losses "
    "carry the means; 95 converged, 4 budget, 1 failed); the analysis asks ~104 replicates. "
    "Until then the over-fitted slope is measured, not confirmed")


@pytest.mark.xfail(strict=True, reason=_TANH_D2_FINDING)
def test_tanh_over_fitted_D2_is_confirmed(tanh_sweep):
    d2 = _fit(tanh_sweep, "D2", 3)
    assert d2.verdict == "confirmed", d2.reason


def test_linear_experts_over_fitted_parameters_do_not_decay_like_n_to_the_minus_quarter(
        tmp_path):
    r = simulate("a*x+b", store=str(tmp_path / "lin.sqlite"), fitted_ks=(2, 3),
                 ns="1e2:2e4:10", replicates=10, workers=2, progress=False)
    print(slope_table(r.slopes))
    for block in ("a", "b"):
        f = _fit(r, f"block over:{block}", 3)
        assert f.predicted is None  # affine direction: not consistent
        # never a polynomial decay shown: the interval does not lie wholly below -tolerance
        assert f.verdict != "contradicted", f.reason
        # ... and the analysis says which decay model fits the largest sizes best
        assert f.decay is not None and f.decay.best in ("no decay", "c / log(n)^lambda",
                                                        "power law")


@pytest.mark.parametrize("preset, replicates", [
    ("laplace-gaussian-linear", 80), ("softmax-gaussian-linear", 40)])
def test_laplace_vs_softmax_gaussian_reproduction_has_loss_slope_minus_half(tmp_path, preset,
                                                                            replicates):
    """arXiv:2402.03226's Laplace setup (atoms ours) and arXiv:2305.03288's softmax setup:
    the exact fit's D1 against the papers' n^-1/2, the whole interval inside -0.5 +- 0.1.

    The claim is the papers' (the registry rows), checked on the interval itself; under the
    Laplace gate identify derives the same n^-1/2 for the exact cell (the first-order L2
    expansion across the kink), so the sweep's own column predicts it too. Replicates: at 5
    the softmax interval was too wide (-0.576 [-0.875,
    -0.302]); at 40 it is confirmed (-0.502 [-0.552, -0.451], 400 converged fits, 81 s on 2
    workers). Laplace: at 20 replicates -0.549 [-0.611, -0.482] (robust -0.488) was
    inconclusive, the lower end 0.011 past the band (a strict xfail until 2026-12-01); at 80
    it is confirmed, -0.557 [-0.587, -0.526] (800 of 800 converged, 3 min 4 s on 2
    workers)."""
    r = simulate(preset=preset, store=str(tmp_path / "g.sqlite"), fitted_ks=(2,),
                 ns="1e3:1e5:10", replicates=replicates, workers=2, progress=False)
    print(slope_table(r.slopes))
    assert r.statuses["converged"] == len(r.rows), r.statuses  # every fit certified
    d1 = _fit(r, "D1", 2)
    assert -0.6 <= d1.ci[0] and d1.ci[1] <= -0.4, (d1.slope, d1.ci, d1.reason)


def test_softmax_gaussian_paper_setting_block_by_block(tmp_path):
    """arXiv:2305.03288 at the paper's setting (12 sizes in [1e2, 1e5], 40 replicates), as
    measured (docs/reproductions.md, 2026-12-01): the exact fit's D1, a, b, nu and the
    over-specified cell's nu confirmed; the over-specified beta1, b, a no slower than the
    paper's rates (the theorem's bounds): each interval's upper end below predicted + tol.
    Cell by cell (100 replicates with the extra atom at true atom J): a, b and nu confirmed
    at both atoms, b at the paper's slowest rate n^-1/8; beta1 no slower than n^-1/8, and
    at atom 1 wholly faster (the measured disagreement, docs/reproductions.md). About
    9 minutes on 2 workers."""
    from identify.numeric.reproduce import format_reproduction, reproduce

    res = reproduce("softmax-gaussian", full=True, store=str(tmp_path / "sg.sqlite"),
                    workers=2)
    print(format_reproduction(res))
    rows = {c.label: (c, f) for c, f in res.rows}
    for label in ("D1 (k = 2)", "exact:a (k = 2)", "exact:b (k = 2)", "exact:nu (k = 2)",
                  "over:nu (k = 3)"):
        assert rows[label][1].verdict == "confirmed", (label, rows[label][1].reason)
    for label in ("over:beta1 (k = 3)", "over:b (k = 3)", "over:a (k = 3)"):
        claim, f = rows[label]
        assert f.ci[1] < claim.slope + f.tolerance, (label, f.reason)
    for atom in (1, 2):
        for block in ("a", "b", "nu"):
            label = f"over@{atom}:{block} (k = 3, split:{atom})"
            assert rows[label][1].verdict == "confirmed", (label, rows[label][1].reason)
        claim, f = rows[f"over@{atom}:beta1 (k = 3, split:{atom})"]
        assert f.ci[1] < claim.slope + f.tolerance, f.reason
    f = rows["over@1:beta1 (k = 3, split:1)"][1]
    assert f.verdict == "contradicted" and f.ci[1] < -0.125 - 0.1, f.reason

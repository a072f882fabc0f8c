"""Slopes of simulated rates: fits, bootstrap intervals, verdicts, decay models, plots."""

from __future__ import annotations

import json
import math
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from identify.errors import ConfigError
from identify.numeric.plots import plot_slopes
from identify.numeric.slopes import _needed, compare_decay, fit_slope, slope_table

NS = np.round(np.geomspace(1e2, 2e4, 10)).astype(int)


def _data(f, sigma: float = 0.2, reps: int = 20, seed: int = 0, ns=NS) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [f(n) * rng.lognormal(0.0, sigma, reps) for n in ns]


def _root(n):
    return 3.0 * n ** -0.5


@pytest.fixture(scope="module")
def root_data() -> list[np.ndarray]:
    return _data(_root)


def test_root_n_rate_confirmed(root_data):
    fit = fit_slope(NS, root_data, -0.5, quantity="D1", fitted_k=2)
    assert abs(fit.slope + 0.5) < 0.05
    assert fit.ci[0] <= -0.5 <= fit.ci[1]
    assert fit.verdict == "confirmed"
    assert "-0.500" in fit.reason
    assert fit.n_replicates == 20 and len(fit.points) == 10
    for n, mean, lo, hi in fit.points:
        assert lo <= mean <= hi and math.isclose(mean, 3.0 * n ** -0.5, rel_tol=0.15)
    assert math.isclose(math.exp(fit.intercept), 3.0, rel_tol=0.2)


def test_wrong_prediction_contradicted(root_data):
    fit = fit_slope(NS, root_data, -0.25)
    assert fit.verdict == "contradicted"
    assert "outside" in fit.reason


def test_same_seed_same_interval(root_data):
    a, b = fit_slope(NS, root_data, -0.5, seed=7), fit_slope(NS, root_data, -0.5, seed=7)
    assert a.ci == b.ci and a.points == b.points
    assert fit_slope(NS, root_data, -0.5, seed=8).ci != a.ci


def test_compare_decay_log():
    d = compare_decay(NS, _data(lambda n: 2.0 / np.log(n), sigma=0.05))
    assert d.best == "c / log(n)^lambda"
    assert d.params["c / log(n)^lambda"]["lambda"] == pytest.approx(1.0, abs=0.3)
    assert set(d.errors) == {"power law", "c / log(n)^lambda", "no decay"}


def test_compare_decay_power_law(root_data):
    d = compare_decay(NS, root_data)
    assert d.best == "power law"
    assert d.params["power law"]["s"] == pytest.approx(0.5, abs=0.05)


def test_compare_decay_flat():
    assert compare_decay(NS, _data(lambda n: 1.5 + 0 * n)).best == "no decay"
    # on pure noise a fitted slope sometimes extrapolates better by chance: the flat model
    # must still be the most frequent winner
    wins = Counter(compare_decay(NS, _data(lambda n: 1.5 + 0 * n, seed=s)).best
                   for s in range(30))
    assert wins.most_common(1)[0][0] == "no decay"


def test_slow_prediction():
    flat = fit_slope(NS, _data(lambda n: 1.5 + 0 * n), None, n_boot=500)
    assert flat.verdict == "confirmed" and flat.decay is not None
    # 2 / log n has local slope -1/log n (about -0.15 here): below the band -0.1, so the
    # slope cannot tell it from a slow power law; the decay models see the logarithm
    slow = fit_slope(NS, _data(lambda n: 2.0 / np.log(n), sigma=0.05), None, n_boot=500)
    assert slow.verdict == "inconclusive" and slow.decay.best == "c / log(n)^lambda"
    assert fit_slope(NS, _data(lambda n: 2.0 / np.log(n), sigma=0.05), None, n_boot=500,
                     tolerance=0.25).verdict == "confirmed"
    fast = fit_slope(NS, _data(_root), None, n_boot=500)
    assert fast.verdict == "contradicted" and fast.decay.best == "power law"
    assert fit_slope(NS, _data(_root), -0.5).decay is None


def test_failed_fits_dropped(root_data):
    values = [list(v) for v in root_data]
    values[0] += [float("nan"), None, float("inf")]
    values[3] = [None, float("nan")]  # a size with no finite value is dropped
    fit = fit_slope(NS, values, -0.5)
    assert len(fit.points) == 9 and NS[3] not in [p[0] for p in fit.points]
    assert fit.points[0][1] == pytest.approx(np.mean(root_data[0]))
    assert fit.verdict == "confirmed"
    json.dumps(fit.to_dict(), allow_nan=False)


def test_few_sizes_inconclusive(root_data):
    two = fit_slope(NS[:2], root_data[:2], -0.5)
    assert two.verdict == "inconclusive" and math.isfinite(two.slope)
    one = fit_slope(NS[:3], [root_data[0], [None], [float("nan")]], -0.5)
    assert one.verdict == "inconclusive" and math.isnan(one.slope)
    json.dumps(one.to_dict(), allow_nan=False)
    assert fit_slope(NS[:3], root_data[:3], None).verdict == "inconclusive"


def test_noisy_data_inconclusive():
    ns = [100, 120, 140, 160]
    fit = fit_slope(ns, _data(_root, sigma=1.5, reps=3, ns=ns), -0.5)
    assert fit.ci[1] - fit.ci[0] > 1.0 and fit.verdict == "inconclusive"


def test_bad_input():
    with pytest.raises(ConfigError):
        fit_slope([100, 200], [[1.0]], -0.5)
    with pytest.raises(ConfigError):
        fit_slope([100, 200.5], [[1.0], [1.0]])
    with pytest.raises(ConfigError):
        fit_slope([100, 200], [[1.0], [-1.0]])
    with pytest.raises(ConfigError):
        compare_decay(NS[:3], [[1.0]] * 3)
    with pytest.raises(ConfigError):
        fit_slope(NS, [[1.0]] * 10, level=1.5)


def test_slope_table(root_data):
    text = slope_table([fit_slope(NS, root_data, -0.5, quantity="D1", fitted_k=3),
                        fit_slope(NS, root_data, None, quantity="block a", n_boot=200)])
    header, _, first, second = text.splitlines()
    assert header.split() == ["quantity", "k", "slope", "CI", "robust", "predicted", "verdict",
                              "fits", "note"]
    assert first.split()[:2] == ["D1", "3"] and "confirmed" in first
    assert "slow" in second and "contradicted" in second and second.endswith("power law")


def test_plot_slopes(tmp_path, root_data):
    fits = [fit_slope(NS, root_data, -0.5, quantity="D1", fitted_k=2, n_boot=200),
            fit_slope(NS, _data(lambda n: 2.0 / np.log(n)), None, quantity="b", n_boot=200),
            fit_slope(NS[:1], root_data[:1], -0.25, quantity="lone", n_boot=200)]
    svg, png = plot_slopes(fits, tmp_path / "a" / "rates", title="rates")
    assert svg.endswith("rates.svg") and png.endswith("rates.png")
    text = open(svg, encoding="utf-8").read()
    assert text.startswith("<?xml") or "<svg" in text
    assert open(png, "rb").read(8).startswith(b"\x89PNG")
    svg2, _ = plot_slopes(fits, tmp_path / "b", title="rates")
    assert open(svg, "rb").read() == open(svg2, "rb").read()
    with pytest.raises(ConfigError):
        plot_slopes([], tmp_path / "c")


# -- verdicts that need evidence (issue 8 section 2) ----------------------------------------

NS6 = [100, 250, 630, 1600, 4000, 10000]


def test_confirmed_needs_the_interval_inside_the_tolerance_band():
    # a wide interval that covers -0.5 is not evidence for -0.5
    noisy = fit_slope(NS6, _data(_root, sigma=1.2, reps=4, ns=NS6), -0.5)
    assert noisy.ci[0] <= -0.5 <= noisy.ci[1]
    assert noisy.ci[0] < -0.6 or noisy.ci[1] > -0.4
    assert noisy.verdict == "inconclusive"
    assert "not inside" in noisy.reason and noisy.replicates_needed > 4
    assert "replicates per size" in noisy.reason
    tight = fit_slope(NS6, _data(_root, sigma=0.1, reps=20, ns=NS6), -0.5)
    assert -0.6 <= tight.ci[0] and tight.ci[1] <= -0.4 and tight.verdict == "confirmed"
    # the same data judged with a band too narrow for its interval: inconclusive
    narrow = fit_slope(NS6, _data(_root, sigma=0.1, reps=20, ns=NS6), -0.5, tolerance=0.005)
    assert narrow.verdict == "inconclusive"
    # contradicted only when the interval lies wholly outside the band
    assert fit_slope(NS6, _data(_root, sigma=0.1, reps=20, ns=NS6), -0.25).verdict == \
        "contradicted"
    assert fit_slope(NS6, _data(_root, sigma=0.1, reps=20, ns=NS6), -0.397).verdict == \
        "inconclusive"


def test_one_replicate_gives_inconclusive():
    data = _data(_root, sigma=0.2, reps=1, ns=NS6)
    for predicted in (-0.5, -0.505, -0.25):
        fit = fit_slope(NS6, data, predicted)
        assert fit.verdict == "inconclusive", fit.reason
        assert "fewer than 3 usable replicates" in fit.reason
    two = fit_slope(NS6, _data(_root, reps=2, ns=NS6), -0.5)
    assert two.verdict == "inconclusive"


def test_fewer_than_four_sizes_gives_inconclusive():
    ns = NS6[:3]
    fit = fit_slope(ns, _data(_root, sigma=0.01, reps=50, ns=ns), -0.5)
    assert math.isfinite(fit.slope) and abs(fit.slope + 0.5) < 0.01
    assert fit.verdict == "inconclusive" and "at least 4 needed" in fit.reason


def test_a_runaway_replicate_cannot_make_a_flat_slope_confirmed():
    rng = np.random.default_rng(3)
    flat = [rng.lognormal(0.0, 0.2, 10) for _ in NS6]
    flat[0][4] = 1e4  # one runaway fit at the smallest n drags the mean-based slope down
    for predicted in (-0.5, -0.75, -1.0):
        fit = fit_slope(NS6, flat, predicted)
        assert fit.verdict != "confirmed", fit.reason
    fit = fit_slope(NS6, flat, -0.5)
    assert fit.runaway and "n = 100" in fit.runaway
    assert abs(fit.robust_slope) < 0.1  # the median sees no decay
    # an old-style verdict (prediction inside a wide interval) would have said confirmed
    assert fit.ci[0] <= -0.5 <= fit.ci[1] or fit.ci[1] < -0.5


def test_runaway_downgrades_unless_the_robust_slope_agrees():
    rng = np.random.default_rng(4)
    data = [3.0 * n ** -0.5 * rng.lognormal(0.0, 0.1, 30) for n in NS6]
    data[2][0] *= 200.0  # a runaway in the middle
    fit = fit_slope(NS6, data, -0.5)
    assert fit.runaway
    assert fit.robust_ci[0] >= -0.6 and fit.robust_ci[1] <= -0.4
    assert fit.verdict != "contradicted"


def test_a_contradiction_from_both_sides_of_the_band_says_so():
    """The typical replicate decays like n^-1 while 10 % of the replicates stay at 1 (a
    runaway fraction that never goes away): the mean is nearly flat, the median too fast. Both lie
    wholly outside -0.5 +- 0.1, so the prediction is contradicted, and the reason says that
    the two summaries fail it from opposite sides."""
    rng = np.random.default_rng(6)
    data = []
    for n in NS6:
        v = 5.0 / n * rng.lognormal(0.0, 0.1, 40)
        v[:4] = 1.0
        data.append(v)
    fit = fit_slope(NS6, data, -0.5)
    assert fit.runaway and fit.ci[0] > -0.4 and fit.robust_ci[1] < -0.6
    assert fit.verdict == "contradicted"
    assert "other side" in fit.reason and "decays faster than predicted" in fit.reason


def test_bootstrap_resamples_replicates_jointly():
    # replicate r is high at every size (a replicate effect): resampling replicates
    # jointly keeps the slope exact in every resample, independent resampling would not
    base = np.array([0.5, 1.0, 2.0, 4.0])
    data = [2.0 * n ** -0.5 * base for n in NS6]
    fit = fit_slope(NS6, data, -0.5)
    assert fit.ci[1] - fit.ci[0] < 1e-9 and fit.verdict == "confirmed"


def test_statuses_mostly_not_converged_is_inconclusive():
    data = _data(_root, sigma=0.05, reps=20, ns=NS6)
    fit = fit_slope(NS6, data, -0.5, statuses={"converged": 20, "budget": 40, "local": 10})
    assert fit.verdict == "inconclusive" and "mostly not converged" in fit.reason
    ok = fit_slope(NS6, data, -0.5, statuses={"converged": 110, "budget": 10})
    assert ok.verdict == "confirmed" and ok.statuses == {"converged": 110, "budget": 10}
    assert "110 (+10b)" in slope_table([ok])


def test_no_prediction_is_inconclusive():
    fit = fit_slope(NS6, _data(_root, ns=NS6), None, no_prediction="h is not Lipschitz")
    assert fit.verdict == "inconclusive" and "not Lipschitz" in fit.reason
    assert "none" in slope_table([fit])


def test_few_replicates_widen_the_interval():
    from identify.numeric.slopes import expanded_alpha

    assert expanded_alpha(0.95, 3) < expanded_alpha(0.95, 10) < expanded_alpha(0.95, 40) < 0.025
    rng = np.random.default_rng(0)
    data = [_root(n) * rng.lognormal(0.0, 0.3, 3) for n in NS6]
    few = fit_slope(NS6, data, -0.5)
    plain_range = few.ci[1] - few.ci[0]
    assert plain_range > 0.2  # 3 replicates with 30 % noise: no narrow interval


# -- replicates needed -----------------------------------------------------------------------



def test_replicates_needed_fit_the_interval_inside_the_band():
    # slope -0.45 in [-0.55, -0.35] against -0.5 +- 0.1: the upper room is 0.05 for a
    # half-width of 0.1, so the half-widths must halve: 4x the replicates
    need, text = _needed(-0.45, -0.55, -0.35, -0.5, 0.1, 10)
    assert need == 40
    assert "width 0.100, inside the band" in text
    # an asymmetric interval: the short side does not matter, the long one does
    need, _ = _needed(-0.45, -0.47, -0.35, -0.5, 0.1, 10)
    assert need == 40


def test_replicates_needed_outside_the_band_say_it_cannot_be_confirmed():
    need, text = _needed(-0.30, -0.45, -0.15, -0.5, 0.1, 10)
    # the interval must clear -0.4: the lower half-width 0.15 must shrink to 0.1
    assert need == math.ceil(10 / (0.1 / 0.15) ** 2)
    assert "cannot be confirmed at this tolerance" in text and "wholly outside" in text


def test_a_slope_on_the_band_edge_has_no_replicate_count():
    need, text = _needed(-0.40, -0.5, -0.3, -0.5, 0.1, 10)
    assert need is None and "edge of the tolerance band" in text


@settings(max_examples=200, deadline=None)
@given(st.floats(-1, 0.2), st.floats(0.01, 0.5), st.floats(0.01, 0.5), st.integers(3, 50),
       st.sampled_from([-0.5, -0.25, None]))
def test_the_replicates_needed_make_the_scaled_interval_decisive(slope, down, up, reps, centre):
    lo, hi = slope - down, slope + up
    need, text = _needed(slope, lo, hi, centre, 0.1, reps)
    if need is None:
        return
    assert need > reps
    s = math.sqrt(reps / need)
    lo2, hi2 = slope - s * down, slope + s * up
    if centre is None:
        decisive = lo2 >= -0.1 - 1e-12 or hi2 < -0.1 + 1e-12
    else:
        decisive = (centre - 0.1 - 1e-12 <= lo2 and hi2 <= centre + 0.1 + 1e-12) or \
            hi2 < centre - 0.1 + 1e-12 or lo2 > centre + 0.1 - 1e-12
    assert decisive, (lo2, hi2, text)

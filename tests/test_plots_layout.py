"""Plots people can read (issue 11): one panel per kind of quantity, at most 6 series per
panel, distinct colours and markers, legends outside the data area, labelled axes, the
predicted slope as a labelled reference line, identical series drawn once."""

from __future__ import annotations

import numpy as np
import pytest

from identify.numeric.plots import quantity_kind, slopes_figure, write_figure
from identify.numeric.slopes import fit_slope

NS = [100, 300, 1000, 3000]


def _fit(quantity, k, slope, predicted, scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    values = [scale * n ** slope * np.exp(rng.normal(0, 0.05, 5)) for n in NS]
    return fit_slope(NS, values, predicted, quantity=quantity, fitted_k=k, n_boot=200, seed=1)


@pytest.fixture(scope="module")
def default_sweep_fits():
    """The quantities of the default sweep (tanh ridge, truth k* = 2, fitted k = 2, 3)."""
    fits = [_fit("D1", 2, -0.5, -0.5)]
    d2 = _fit("D2", 3, -0.5, -0.5, scale=3.0, seed=1)
    dpred = _fit("Dpred", 3, -0.5, -0.5, scale=3.0, seed=1)  # identical to D2
    fits += [d2, dpred]
    for k in (2, 3):
        for i, b in enumerate(("a", "b", "beta1")):
            fits.append(_fit(f"block exact:{b}", k, -0.5, -0.5, scale=0.1 * (i + 1), seed=k + i))
    for i, b in enumerate(("a", "b", "beta1")):
        fits.append(_fit(f"block over:{b}", 3, -0.25, -0.25, scale=1.0 + i, seed=10 + i))
    return fits


def _data_series(ax):
    """Legend entries of measured series (the reference lines are labelled 'predicted ...')."""
    _, labels = ax.get_legend_handles_labels()
    return [lab for lab in labels if not lab.startswith("predicted slope")]


def test_one_panel_per_kind(default_sweep_fits):
    fig = slopes_figure(default_sweep_fits, "tanh")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["Voronoi losses", "exact-fitted cell blocks", "over-fitted cell blocks"]
    assert {quantity_kind(f) for f in default_sweep_fits} == {"loss", "exact block",
                                                              "over-fitted block"}


def test_at_most_six_series_per_panel_and_identical_series_drawn_once(default_sweep_fits):
    fig = slopes_figure(default_sweep_fits)
    counts = [len(_data_series(ax)) for ax in fig.axes]
    assert len(counts) == 3 and all(1 <= c <= 6 for c in counts), counts  # every panel
    losses = _data_series(fig.axes[0])
    assert len(losses) == 2 and any(lab.startswith("D2 = Dpred (k=3)") for lab in losses)


def test_colours_and_markers_are_distinct_within_a_panel(default_sweep_fits):
    fig = slopes_figure(default_sweep_fits)
    for ax in fig.axes:
        handles, labels = ax.get_legend_handles_labels()
        styles = [(h.get_color(), h.get_marker()) for h, lab in zip(handles, labels, strict=True)
                  if not lab.startswith("predicted")]
        assert len({c for c, _ in styles}) == len(styles)
        assert len({m for _, m in styles}) == len(styles)


def test_legend_lies_outside_the_data_area(default_sweep_fits, tmp_path):
    fig = slopes_figure(default_sweep_fits)
    write_figure(fig, tmp_path / "f.png")  # lay out and draw, as when written
    renderer = fig.canvas.get_renderer()
    for ax in fig.axes:
        legend = ax.get_legend().get_window_extent(renderer)
        area = ax.get_window_extent(renderer)
        assert not legend.overlaps(area), (ax.get_title(), legend, area)
        # and the legend is inside the figure
        assert legend.x1 <= fig.bbox.x1 + 1 and legend.y0 >= fig.bbox.y0 - 1


def test_axis_labels_say_what_is_plotted_and_the_prediction_is_a_labelled_line(
        default_sweep_fits):
    fig = slopes_figure(default_sweep_fits)
    losses, exact, over = fig.axes
    assert " ".join(losses.get_ylabel().split()) == "mean Voronoi loss (D1, D2, Dpred) over 5 " \
                                                    "replicates"
    assert "exact-" in exact.get_ylabel() and "over 5 replicates" in exact.get_ylabel()
    assert all(ax.get_xlabel() == "sample size n" for ax in fig.axes)
    _, labels = over.get_legend_handles_labels()
    assert "predicted slope -0.25 (n^-1/4)" in labels
    _, labels = losses.get_legend_handles_labels()
    assert "predicted slope -0.50 (n^-1/2)" in labels


def test_expert_errors_get_their_own_panel():
    fits = [_fit("D1", 2, -0.5, -0.5), _fit("expert error L2", 2, -0.5, -0.5)]
    fig = slopes_figure(fits)
    assert [ax.get_title() for ax in fig.axes] == ["Voronoi losses", "expert error"]


def test_write_figure_writes_exactly_the_path(default_sweep_fits, tmp_path):
    default_sweep_fits = default_sweep_fits[:3]  # the losses panel: enough to write, quicker
    fig = slopes_figure(default_sweep_fits)
    for name in ("a.svg", "b.png", "c.pdf"):
        write_figure(fig, tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.svg", "b.png", "c.pdf"]
    write_figure(slopes_figure(default_sweep_fits), tmp_path / "again.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "again.svg").read_bytes()


def test_plot_into_a_given_axes_returns_its_figure(default_sweep_fits):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure()
    ax = fig.add_subplot()
    assert slopes_figure(default_sweep_fits[:3], ax=ax) is fig
    assert ax.lines

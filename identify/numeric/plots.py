"""Log-log figures of fitted rates (`plot_slopes`), written as SVG and PNG."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from identify.errors import ConfigError
from identify.numeric.slopes import SlopeFit

__all__ = ["plot_slopes", "slope_label"]

_SALT = "identify-slopes"


def slope_label(fit: SlopeFit) -> str:
    """Legend text, e.g. ``"D1 k=3: slope -0.49 [-0.55, -0.43], predicted -0.50"``."""
    name = f"{fit.quantity or 'value'} k={fit.fitted_k}"
    if not math.isfinite(fit.slope):
        return f"{name}: no slope ({len(fit.points)} size(s))"
    text = f"{name}: slope {fit.slope:.2f} [{fit.ci[0]:.2f}, {fit.ci[1]:.2f}]"
    pred = "slower than any power" if fit.predicted is None else f"{fit.predicted:.2f}"
    return f"{text}, predicted {pred}"


def plot_slopes(fits: Sequence[SlopeFit], path_stem: str | os.PathLike,
                title: str = "") -> tuple[str, str]:
    """Draw every fit on one log-log figure and write ``<stem>.svg`` and ``<stem>.png``.

    Parameters
    ----------
    fits:
        Results of `fit_slope`; one colour per fit: the per-size means with their
        intervals as error bars, the fitted line with a band spanning the bootstrap slope
        interval (anchored at the geometric-mean n), and the predicted slope as a dashed
        line anchored at the fitted value at the first n (when it is a number).
    path_stem:
        Output path without extension; missing parent folders are created.
    title:
        Figure title (optional).

    Returns
    -------
    tuple of str
        Paths of the SVG and PNG files. The same input gives byte-identical SVG output.
    """
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend of a live session
        matplotlib.use("Agg")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not fits:
        raise ConfigError("no fits to plot", where="fits")
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    svg, png = f"{stem}.svg", f"{stem}.png"
    with matplotlib.rc_context({"svg.hashsalt": _SALT, "path.simplify": True}):
        fig = Figure(figsize=(7.0, 5.0))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        colours = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        for i, fit in enumerate(fits):
            _draw(ax, fit, colours[i % len(colours)])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sample size n")
        ax.set_ylabel("mean over replicates")
        if title:
            ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3, linewidth=0.5)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize="small", loc="best")
        fig.tight_layout()
        fig.savefig(svg, format="svg", metadata={"Date": None})
        fig.savefig(png, format="png", dpi=120)
    return svg, png


def _draw(ax, fit: SlopeFit, colour: str) -> None:
    """One series: points with error bars, fitted line and band, predicted line."""
    if not fit.points:
        return
    n, mean, lo, hi = (np.array(col, dtype=float) for col in zip(*fit.points, strict=True))
    yerr = np.vstack([np.clip(mean - lo, 0.0, None), np.clip(hi - mean, 0.0, None)])
    label = slope_label(fit)
    if not math.isfinite(fit.slope):
        ax.errorbar(n, mean, yerr=yerr, fmt="o", color=colour, capsize=3, label=label)
        return
    ax.errorbar(n, mean, yerr=yerr, fmt="o", color=colour, capsize=3, markersize=4)
    grid = np.geomspace(n.min(), n.max(), 60)
    ax.plot(grid, np.exp(fit.intercept) * grid ** fit.slope, color=colour, label=label)
    if all(math.isfinite(c) for c in fit.ci):
        n_g = float(np.exp(np.mean(np.log(n))))
        y_g = math.exp(fit.intercept) * n_g ** fit.slope
        edges = np.vstack([y_g * (grid / n_g) ** c for c in fit.ci])
        ax.fill_between(grid, edges.min(axis=0), edges.max(axis=0), color=colour,
                        alpha=0.2, linewidth=0)
    if fit.predicted is not None:
        y_1 = math.exp(fit.intercept) * n[0] ** fit.slope
        ax.plot(grid, y_1 * (grid / n[0]) ** fit.predicted, color=colour, linestyle="--",
                linewidth=1.2)

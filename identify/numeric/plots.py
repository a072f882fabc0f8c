"""Log-log figures of fitted rates: one panel per kind of quantity.

`slopes_figure` draws a sweep's slope fits as a matplotlib figure with one panel per group
(losses; exact-fitted cell blocks; over-fitted cell blocks; expert errors when present),
distinct colours and markers within a panel, the legend beside the data (never over it),
axis labels that say what is plotted, and each predicted slope as a labelled reference line.
Series with identical points (e.g. D2 and Dpred when every exponent is 2) are drawn once
under both names. `write_figure` writes a figure to exactly the path given (format from the
extension); `plot_slopes` writes ``<stem>.svg`` and ``<stem>.png`` (the report's figures).
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from identify.errors import ConfigError
from identify.numeric.slopes import SlopeFit

__all__ = ["plot_slopes", "slopes_figure", "write_figure", "slope_label", "quantity_kind",
           "PANELS", "FIGURE_FORMATS"]

_SALT = "identify-slopes"
FIGURE_FORMATS = (".svg", ".png", ".pdf")
#: Panel order and the y-axis text of each kind of quantity.
PANELS = {
    "loss": "mean Voronoi loss {names}\nover {reps} replicates",
    "exact block": "mean parameter error, exact-\nfitted cells, over {reps} replicates",
    "over-fitted block": "mean parameter error, over-\nfitted cells, over {reps} replicates",
    "expert error": "mean expert error {names}\nover {reps} replicates",
    "other": "mean {names}\nover {reps} replicates",
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
            "#17becf")


def quantity_kind(fit: SlopeFit) -> str:
    """The panel a fit belongs to: ``loss``, ``exact block``, ``over-fitted block``,
    ``expert error`` or ``other``.

    A ``kind`` attribute on the fit wins when present; otherwise the quantity's name decides:
    ``D1``/``D2``/``Dpred`` are losses, ``block exact:...`` exact-cell blocks, ``block
    over:...`` and ``block shared:...`` over-fitted-cell blocks, a name mentioning ``expert``
    an expert error.
    """
    kind = getattr(fit, "kind", None)
    if kind in PANELS:
        return kind
    q = (fit.quantity or "").strip()
    if "expert" in q.lower():
        return "expert error"
    if q.startswith("block exact:"):
        return "exact block"
    if q.startswith(("block over:", "block shared:")):
        return "over-fitted block"
    if q in ("D1", "D2", "Dpred") or (q.startswith("D") and not q.startswith("block")):
        return "loss"
    return "other"


def _short(q: str) -> str:
    return q.removeprefix("block ")


def slope_label(fit: SlopeFit, names: str | None = None) -> str:
    """Legend text, e.g. ``"D1 (k=3): slope -0.49 [-0.55, -0.43], predicted -0.50"``."""
    name = f"{names or _short(fit.quantity or 'value')} (k={fit.fitted_k})"
    if not math.isfinite(fit.slope):
        return f"{name}: no slope ({len(fit.points)} size(s))"
    text = f"{name}: slope {fit.slope:.2f} [{fit.ci[0]:.2f}, {fit.ci[1]:.2f}]"
    pred = "slower than any power" if fit.predicted is None else f"{fit.predicted:.2f}"
    return f"{text}, predicted {pred}"


def _same_points(a: SlopeFit, b: SlopeFit) -> bool:
    if a.fitted_k != b.fitted_k or len(a.points) != len(b.points) or not a.points:
        return False
    return all(pa[0] == pb[0] and math.isclose(pa[1], pb[1], rel_tol=1e-12, abs_tol=0.0)
               for pa, pb in zip(a.points, b.points, strict=True))


def _merge(fits: Sequence[SlopeFit]) -> list[tuple[SlopeFit, str]]:
    """Identical series once, named by all their quantities (``D2 = Dpred``)."""
    out: list[tuple[SlopeFit, list[str]]] = []
    for f in fits:
        for first, names in out:
            if _same_points(first, f):
                names.append(_short(f.quantity))
                break
        else:
            out.append((f, [_short(f.quantity or "value")]))
    return [(f, " = ".join(names)) for f, names in out]


def _pyplot_free():
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:  # never switch the backend of a live session
        matplotlib.use("Agg")
    return matplotlib


def slopes_figure(fits: Sequence[SlopeFit], title: str = "", ax=None):
    """The matplotlib figure of a sweep's slope fits (one panel per kind of quantity).

    Parameters
    ----------
    fits:
        Results of `fit_slope` (e.g. ``SimulationResult.slopes``).
    title:
        Figure title (optional).
    ax:
        Draw every fit into this one matplotlib axes instead of a new panel figure.

    Returns
    -------
    matplotlib.figure.Figure
        The figure (``ax.figure`` when ``ax`` is given). Per series: the per-size means
        with their bootstrap intervals, the fitted line; per panel: one dashed reference line
        for each predicted slope, labelled.
    """
    _pyplot_free()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not fits:
        raise ConfigError("no fits to plot", where="fits")
    groups: dict[str, list[SlopeFit]] = {}
    for f in fits:
        groups.setdefault(quantity_kind(f), []).append(f)
    kinds = [k for k in PANELS if k in groups]
    if ax is not None:
        _panel(ax, list(fits), "other")
        if title:
            ax.set_title(title)
        return ax.figure
    fig = Figure(figsize=(10.0, 3.3 * len(kinds) + 0.6), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(kinds), 1, squeeze=False)[:, 0]
    for a, kind in zip(axes, kinds, strict=True):
        _panel(a, groups[kind], kind)
    if title:
        fig.suptitle(title)
    return fig


def _panel(ax, fits: list[SlopeFit], kind: str) -> None:
    merged = _merge(fits)
    reps = max((f.n_replicates for f in fits), default=0)
    names = sorted({_short(f.quantity) for f in fits})
    name_text = names[0] if len(names) == 1 and kind in ("loss", "expert error", "other") else \
        ("(" + ", ".join(names) + ")" if kind in ("loss", "expert error", "other") else "")
    ylabel = PANELS[kind].format(names=name_text, reps=reps).replace(" \n", "\n")
    predictions: dict[float, list[SlopeFit]] = {}
    for i, (fit, label) in enumerate(merged):
        _draw(ax, fit, _COLOURS[i % len(_COLOURS)], _MARKERS[i % len(_MARKERS)],
              slope_label(fit, label))
        if fit.predicted is not None and fit.points:
            predictions.setdefault(round(fit.predicted, 6), []).append(fit)
    for j, (slope, group) in enumerate(sorted(predictions.items())):
        _reference(ax, slope, group, ("--", ":", "-.")[j % 3])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("sample size n")
    ax.set_ylabel(ylabel, fontsize="small")
    ax.set_title(kind.replace("block", "cell blocks").replace("loss", "Voronoi losses")
                 .replace("exact cell", "exact-fitted cell"), fontsize="medium")
    ax.grid(True, which="both", alpha=0.3, linewidth=0.5)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  borderaxespad=0.0, frameon=False)


def _draw(ax, fit: SlopeFit, colour: str, marker: str, label: str) -> None:
    """One series: points with error bars (the bootstrap interval of the mean), fitted line."""
    if not fit.points:
        return
    n, mean, lo, hi = (np.array(col, dtype=float) for col in zip(*fit.points, strict=True))
    yerr = np.vstack([np.clip(mean - lo, 0.0, None), np.clip(hi - mean, 0.0, None)])
    if not math.isfinite(fit.slope):
        ax.errorbar(n, mean, yerr=yerr, fmt=marker, color=colour, capsize=3, label=label)
        return
    ax.errorbar(n, mean, yerr=yerr, fmt=marker, color=colour, capsize=3, markersize=5,
                linestyle="none")
    grid = np.geomspace(n.min(), n.max(), 60)
    ax.plot(grid, np.exp(fit.intercept) * grid ** fit.slope, color=colour, marker=marker,
            markevery=[0], markersize=5, label=label)


def _reference(ax, slope: float, fits: list[SlopeFit], style: str) -> None:
    """The predicted slope as a black line through the mean point of the series it predicts."""
    pts = [(n, m) for f in fits for n, m, _, _ in f.points if m > 0]
    if not pts:
        return
    log_n = np.log([p[0] for p in pts])
    log_y = np.log([p[1] for p in pts])
    n0, y0 = math.exp(log_n.mean()), math.exp(log_y.mean())
    grid = np.geomspace(min(p[0] for p in pts), max(p[0] for p in pts), 60)
    q = -1.0 / slope if slope else math.inf
    rate = f"n^-1/{q:g}" if math.isfinite(q) and abs(q - round(q)) < 1e-9 else f"slope {slope:g}"
    ax.plot(grid, y0 * (grid / n0) ** slope, color="black", linestyle=style, linewidth=1.1,
            label=f"predicted slope {slope:.2f} ({rate})")


def write_figure(fig, path: str | os.PathLike) -> str:
    """Write ``fig`` to exactly ``path``; the format comes from the extension (.svg, .png,
    .pdf). Missing parent folders are created. The same figure gives byte-identical SVG."""
    matplotlib = _pyplot_free()
    path = Path(path)
    if path.suffix.lower() not in FIGURE_FORMATS:
        raise ConfigError(f"cannot tell the figure format of {str(path)!r}: give a file ending "
                          f"in {', '.join(FIGURE_FORMATS)}", where="plot")
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = path.suffix.lower().lstrip(".")
    with matplotlib.rc_context({"svg.hashsalt": _SALT, "path.simplify": True}):
        meta = {"Date": None} if fmt in ("svg", "pdf") else None
        fig.savefig(path, format=fmt, dpi=120, metadata=meta)
    return str(path)


def plot_slopes(fits: Sequence[SlopeFit], path_stem: str | os.PathLike,
                title: str = "") -> tuple[str, str]:
    """Draw the fits (`slopes_figure`) and write ``<stem>.svg`` and ``<stem>.png``.

    Returns
    -------
    tuple of str
        Paths of the SVG and PNG files. The same input gives byte-identical SVG output.
    """
    matplotlib = _pyplot_free()
    with matplotlib.rc_context({"svg.hashsalt": _SALT, "path.simplify": True}):
        fig = slopes_figure(fits, title)
        stem = str(path_stem)
        return write_figure(fig, f"{stem}.svg"), write_figure(fig, f"{stem}.png")

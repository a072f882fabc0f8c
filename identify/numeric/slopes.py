"""Estimation rates from simulated data: log-log slopes, bootstrap intervals, verdicts.

`fit_slope` regresses log(mean error) on log n and compares the slope with a predicted one
(``-0.5`` for n^-1/2, ``-0.25`` for n^-1/4, ...) within a tolerance band:

- ``confirmed`` only when the whole bootstrap interval lies inside predicted +- tolerance;
- ``contradicted`` only when it lies wholly outside that band;
- ``inconclusive`` otherwise, with the reason (too few replicates or sizes, the interval too
  wide, the fits mostly not converged, the mean dominated by a few replicates) and, when more
  replicates would settle it, about how many (an interval's width scales like 1/sqrt(reps)).

The bootstrap resamples *replicates* jointly: replicate r (one fit at every size) is the
unit, so a resample keeps or drops replicate r at every size together. Beside the mean-based
slope the robust slope (log of the median over replicates per size) is fitted and
bootstrapped the same way; a quantity whose mean at some size is carried by a few
replicates (runaways) is flagged and cannot be confirmed or contradicted unless the robust
slope says the same. A rate slower than any power of n (``predicted=None``) is judged
against the band around 0 and `compare_decay`, which asks whether a power law,
c / log(n)^lambda or a constant best predicts the largest sample sizes.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from identify.errors import ConfigError
from identify.numeric.decay import (
    POWER,
    DecayComparison,
    _clean,
    _num,
    _ols,
    compare_decay,
)

__all__ = ["SlopeFit", "DecayComparison", "fit_slope", "compare_decay", "slope_table",
           "DEFAULT_TOLERANCE", "MIN_REPLICATES", "MIN_SIZES", "expanded_alpha"]

DEFAULT_TOLERANCE = 0.1
MIN_REPLICATES = 3  # per sample size, for any verdict
MIN_SIZES = 4
_RUNAWAY_SHARE = 0.5  # the top tenth of the replicates (at least one) carries this of the sum


@dataclass(frozen=True)
class SlopeFit:
    """A fitted log-log slope with its bootstrap interval and verdict against a prediction.

    ``points`` holds (n, mean, lower, upper) per size; ``statuses`` how many fits of each
    status the quantity saw (only ``used`` statuses entered); ``replicates_needed`` the
    estimated number of replicates per size that would make the interval decisive (None when
    it is decisive, or when no replicate count can settle it).
    """

    quantity: str
    fitted_k: int
    slope: float
    intercept: float
    ci: tuple[float, float]
    predicted: float | None
    verdict: str
    reason: str
    points: tuple[tuple[int, float, float, float], ...]
    n_replicates: int
    decay: DecayComparison | None
    tolerance: float = DEFAULT_TOLERANCE
    robust_slope: float = math.nan
    robust_ci: tuple[float, float] = (math.nan, math.nan)
    runaway: str = ""
    statuses: dict[str, int] = field(default_factory=dict)
    used: tuple[str, ...] = ("converged",)
    replicates_needed: int | None = None
    predicted_note: str = ""

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity, "fitted_k": self.fitted_k, "slope": _num(self.slope),
            "intercept": _num(self.intercept), "ci": [_num(c) for c in self.ci],
            "predicted": _num(self.predicted), "tolerance": self.tolerance,
            "verdict": self.verdict, "reason": self.reason,
            "robust_slope": _num(self.robust_slope),
            "robust_ci": [_num(c) for c in self.robust_ci], "runaway": self.runaway,
            "points": [{"n": n, "mean": _num(m), "lower": _num(lo), "upper": _num(hi)}
                       for n, m, lo, hi in self.points],
            "n_replicates": self.n_replicates, "statuses": dict(self.statuses),
            "used": list(self.used), "replicates_needed": self.replicates_needed,
            "predicted_note": self.predicted_note,
            "decay": None if self.decay is None else self.decay.to_dict(),
        }


def _matrix(groups: list[tuple[int, np.ndarray]]) -> np.ndarray:
    """sizes x replicates, NaN where a replicate is missing at a size."""
    width = max(v.size for _, v in groups)
    out = np.full((len(groups), width), np.nan)
    for j, (_, v) in enumerate(groups):
        out[j, :v.size] = v
    return out


def _runaway(groups: list[tuple[int, np.ndarray]]) -> str:
    """Sizes whose mean is carried by a few replicates: a value above 10 x the size's median,
    a mean above 3 x the median, or (5 values or more) the top tenth of the values holding
    more than half of their sum."""
    hits = []
    for n, v in groups:
        f = np.sort(v[np.isfinite(v)])[::-1]
        if f.size < MIN_REPLICATES:
            continue
        med = float(np.median(f))
        top = max(1, f.size // 10)
        share = f[:top].sum() / f.sum()
        if f[0] > 10 * med:
            hits.append(f"n = {n}: a replicate at {f[0]:.3g} > 10 x median {med:.3g}")
        elif f.mean() > 3 * med:
            hits.append(f"n = {n}: mean {f.mean():.3g} > 3 x median {med:.3g}")
        elif f.size >= 5 and share > _RUNAWAY_SHARE:
            hits.append(f"n = {n}: {top} of {f.size} replicate(s) carry {share:.0%} of the sum")
    return "; ".join(hits)


def expanded_alpha(level: float, reps: int) -> float:
    """Tail probability of the expanded percentile interval (Hesterberg 2015): the plain
    percentile bootstrap is too narrow for few replicates, so the tails are taken at
    Phi(-sqrt(R / (R - 1)) t_{R-1}) instead of (1 - level) / 2."""
    from scipy.stats import norm, t

    alpha = (1.0 - level) / 2.0
    if reps < 2:
        return alpha
    return float(norm.cdf(-math.sqrt(reps / (reps - 1)) * t.ppf(1.0 - alpha, reps - 1)))


def _interval(estimate: float, boot: np.ndarray, alpha: float, level: float, reps: int
              ) -> tuple[float, float]:
    """The hull of the expanded percentile interval and estimate +- sqrt(R/(R-1)) t_{R-1}
    bootstrap standard errors: with few replicates the bootstrap distribution is too narrow
    and bounded by the data, and the t form lets the interval reach past it."""
    from scipy.stats import t

    lo, hi = (float(q) for q in np.quantile(boot, [alpha, 1.0 - alpha]))
    if reps >= 2 and boot.size > 1:
        half = math.sqrt(reps / (reps - 1)) * float(t.ppf(0.5 + level / 2, reps - 1)) * \
            float(np.std(boot, ddof=1))
        lo, hi = min(lo, estimate - half), max(hi, estimate + half)
    return lo, hi


def _band_verdict(lo: float, hi: float, centre: float, tol: float) -> str:
    if centre - tol <= lo and hi <= centre + tol:
        return "confirmed"
    if hi < centre - tol or lo > centre + tol:
        return "contradicted"
    return "inconclusive"


def _needed(slope: float, lo: float, hi: float, centre: float | None, tol: float, reps: int
            ) -> tuple[int | None, str]:
    """Replicates per size that would make this interval decisive if the slope stayed where
    it is, assuming the interval's two half-widths (slope - lo, hi - slope) shrink like
    1/sqrt(reps). ``centre`` None: the one-sided band slope >= -tol.

    With the slope inside the band the interval must fit inside it: the scale s of the
    half-widths is at most the room to each edge over that half-width, and need = reps / s^2
    (width 2 tol - 2 |slope - centre| for a symmetric interval). With the slope outside,
    the band cannot be confirmed as things stand; the interval must clear the nearer edge
    (a contradiction). A slope on an edge is settled by no replicate count."""
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(slope)) or reps < 1:
        return None, ""
    down, up = max(slope - lo, 1e-12), max(hi - slope, 1e-12)
    if centre is None:
        low_edge, high_edge = -tol, math.inf
    else:
        low_edge, high_edge = centre - tol, centre + tol
    inside = low_edge <= slope <= high_edge
    if inside:
        margin = min(slope - low_edge, high_edge - slope)
        scale = min((slope - low_edge) / down, (high_edge - slope) / up)
    elif slope > high_edge:
        margin = slope - high_edge
        scale = margin / down
    else:
        margin = low_edge - slope
        scale = margin / up
    if margin <= 5e-4 or scale < 0.05:
        return None, (f"the slope {slope:.3f} sits at the edge of the tolerance band: no "
                      "replicate count settles it (more or wider sizes might)")
    need = max(reps + 1, int(math.ceil(reps / scale**2 - 1e-9)))
    width = (down + up) * math.sqrt(reps / need)
    if inside:
        return need, (f"about {need} replicates per size would narrow it to width "
                      f"{width:.3f}, inside the band, if the slope stays at {slope:.3f}")
    return need, (f"the slope {slope:.3f} lies outside the band, so it cannot be confirmed at "
                  f"this tolerance; about {need} replicates per size would narrow it to "
                  f"width {width:.3f}, wholly outside the band, if the slope stays there")


def fit_slope(ns: Sequence[int], values: Sequence[Any], predicted: float | None = None, *,
              quantity: str = "", fitted_k: int = 0, n_boot: int = 2000, level: float = 0.95,
              seed: int = 0, tolerance: float = DEFAULT_TOLERANCE,
              statuses: Mapping[str, int] | None = None, used: Sequence[str] = ("converged",),
              no_prediction: str | None = None) -> SlopeFit:
    """Fit the log-log slope of a simulated error and judge it against a predicted rate.

    Parameters
    ----------
    ns:
        Sample sizes.
    values:
        ``values[i][r]`` is replicate r's value (positive) at ``ns[i]``; NaN, inf and None
        mark failed or excluded fits, and a size with no finite value is dropped.
    predicted:
        Predicted slope (e.g. ``-0.5`` for n^-1/2), or None for a rate slower than any
        power of n (then `compare_decay` is run too).
    quantity, fitted_k:
        Labels carried into the result (e.g. ``"D1"``, number of fitted experts).
    n_boot:
        Bootstrap resamples of the replicates (jointly across sizes).
    level:
        Nominal coverage of the slope interval and of the per-size intervals of the mean;
        the percentile interval is expanded for few replicates (`expanded_alpha`).
    seed:
        Seed of the numpy Generator; the result is deterministic given it.
    tolerance:
        Half-width of the band around the prediction that an interval must lie inside to
        be confirmed (wholly outside: contradicted).
    statuses:
        Fit statuses behind the values (e.g. ``{"converged": 28, "budget": 2}``); when fewer
        than half are in ``used`` the verdict is inconclusive.
    used:
        The statuses whose fits entered ``values``.
    no_prediction:
        The reason there is no prediction at all (then the verdict is inconclusive).

    Returns
    -------
    SlopeFit
        OLS slope of log(mean) on log n, its percentile interval, the robust slope, the
        verdict and its reason. No verdict with fewer than 3 replicates at some size or
        fewer than 4 sizes.
    """
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must lie in (0, 1), got {level}", where="level")
    if n_boot < 10:
        raise ConfigError(f"n_boot must be at least 10, got {n_boot}", where="n_boot")
    if not (isinstance(tolerance, int | float) and 0.0 < tolerance < 10.0):
        raise ConfigError(f"the tolerance must be a number in (0, 10), got {tolerance!r}",
                          where="tolerance")
    groups = _clean(ns, values)
    k = len(groups)
    rng = np.random.default_rng(seed)
    nan = float("nan")
    points, slope, intercept, ci, rslope, rci = [], nan, nan, (nan, nan), nan, (nan, nan)
    counts = [int(np.isfinite(v).sum()) for _, v in groups]
    alpha = expanded_alpha(level, min(counts, default=0))
    if k:
        M = _matrix(groups)
        idx = rng.integers(0, M.shape[1], size=(n_boot, M.shape[1]))
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns of a resample
            boot = np.nanmean(M[:, idx], axis=2).T            # n_boot x sizes
            boot_med = np.nanmedian(M[:, idx], axis=2).T
        for j, (n, v) in enumerate(groups):
            col = boot[:, j][np.isfinite(boot[:, j])]
            lo, hi = np.quantile(col, [alpha, 1.0 - alpha])
            points.append((n, float(np.nanmean(v)), float(lo), float(hi)))
        if k >= 2:
            log_n = np.log([float(n) for n, _ in groups])
            s, c = _ols(log_n, np.log([m for _, m, _, _ in points]))
            slope, intercept = float(s), float(c)
            rslope = float(_ols(log_n, np.log([np.nanmedian(v) for _, v in groups]))[0])
            ok = np.all(np.isfinite(boot), axis=1)
            reps = min(counts)
            ci = _interval(slope, _ols(log_n, np.log(boot[ok]))[0], alpha, level, reps)
            rci = _interval(rslope, _ols(log_n, np.log(boot_med[ok]))[0], alpha, level, reps)
    n_reps = min(counts, default=0)
    statuses = {str(s): int(c) for s, c in (statuses or {}).items()}
    runaway = _runaway(groups)
    verdict, reason, decay, need = _judge(groups, counts, slope, ci, rslope, rci, predicted,
                                          tolerance, statuses, tuple(used), runaway,
                                          no_prediction, level)
    return SlopeFit(quantity=quantity, fitted_k=fitted_k, slope=slope, intercept=intercept,
                    ci=ci, predicted=None if predicted is None else float(predicted),
                    verdict=verdict, reason=reason, points=tuple(points),
                    n_replicates=n_reps, decay=decay, tolerance=float(tolerance),
                    robust_slope=rslope, robust_ci=rci, runaway=runaway, statuses=statuses,
                    used=tuple(used), replicates_needed=need,
                    predicted_note=no_prediction or "")


def _judge(groups, counts, slope, ci, rslope, rci, predicted, tol, statuses, used, runaway,
           no_prediction, level) -> tuple[str, str, DecayComparison | None, int | None]:
    """The verdict, its reason, the decay comparison (slow rates) and replicates needed."""
    lo, hi = ci
    k = len(groups)
    ci_text = f"slope {slope:.3f}, {level:.0%} interval [{lo:.3f}, {hi:.3f}]"
    if no_prediction:
        return "inconclusive", f"no prediction: {no_prediction}.", None, None
    total = sum(statuses.values())
    good = sum(v for s, v in statuses.items() if s in used)
    if total and good * 2 < total:
        return ("inconclusive", f"fits mostly not {'/'.join(used)} ({good} of {total}: "
                f"{_status_text(statuses)}): no verdict.", None, None)
    if k < MIN_SIZES:
        return ("inconclusive", f"only {k} usable sample size(s), at least {MIN_SIZES} needed.",
                None, None)
    thin = [f"n = {n} ({c})" for (n, _), c in zip(groups, counts, strict=True)
            if c < MIN_REPLICATES]
    if thin:
        return ("inconclusive", f"fewer than {MIN_REPLICATES} usable replicates at "
                f"{', '.join(thin)}: no verdict.", None, None)
    centre = 0.0 if predicted is None else float(predicted)
    verdict = _band_verdict(lo, hi, centre, tol)
    decay = None
    band = f"{centre:.3f} +- {tol:g}"
    if predicted is None:  # slower than any power: no slope below -tol in the long run
        try:
            decay = compare_decay([n for n, _ in groups], [v for _, v in groups])
        except ConfigError:
            decay = None
        verdict = ("confirmed" if lo >= -tol else
                   "contradicted" if hi < -tol and (decay is None or decay.best == POWER)
                   else "inconclusive")
        band = f"slopes >= -{tol:g} (slower than any power of n)"
    reps = min(counts)
    need, need_text = _needed(slope, lo, hi, predicted, tol, reps)
    if verdict == "confirmed":
        reason = f"{ci_text} lies inside {band}."
    elif verdict == "contradicted":
        reason = f"{ci_text} lies wholly outside {band}."
    else:
        reason = (f"{ci_text} (width {hi - lo:.3f}) is not inside {band}, nor wholly outside"
                  f"{'; ' + need_text if need_text else ''}.")
    if decay is not None:
        reason += f" Best decay model on held-out sizes: {decay.best}."
    if runaway and verdict != "inconclusive":
        robust = _band_verdict(rci[0], rci[1], centre, tol)
        robust_text = f"the robust (median) slope {rslope:.3f} [{rci[0]:.3f}, {rci[1]:.3f}]"
        if robust != verdict:
            verdict = "inconclusive"
            reason = (f"{ci_text}, but the mean is dominated by a few replicates ({runaway}); "
                      f"{robust_text} does not agree with {band}.")
        elif verdict == "contradicted" and (lo > centre) != (rci[0] > centre):
            reason += (f" The mean is dominated by a few replicates ({runaway}) and "
                       f"{robust_text} lies outside the band on the other side: the typical "
                       f"replicate decays {'faster' if rci[0] <= centre else 'slower'} than "
                       f"predicted, the mean {'slower' if rci[0] <= centre else 'faster'}.")
        else:
            reason += (f" The mean is dominated by a few replicates ({runaway}); {robust_text} "
                       f"says the same.")
    if verdict != "inconclusive":
        need = None
    return verdict, reason, decay, need


def _status_text(statuses: Mapping[str, int]) -> str:
    return ", ".join(f"{v} {s}" for s, v in sorted(statuses.items()) if v) or "none"


def _fits_text(f: SlopeFit) -> str:
    if not f.statuses:
        return "-"
    short = {"converged": "c", "budget": "b", "local": "l", "failed": "f"}
    used = sum(v for s, v in f.statuses.items() if s in f.used)
    rest = " ".join(f"{v}{short.get(s, s)}" for s, v in sorted(f.statuses.items())
                    if s not in f.used and v)
    return f"{used}" + (f" (+{rest})" if rest else "")


def slope_table(fits: Sequence[SlopeFit]) -> str:
    """Plain-text table of fitted slopes.

    Columns: quantity, k, the mean-based slope and its interval, the robust (median) slope,
    the predicted slope +- tolerance, the verdict, the fits used (and left out: b = budget,
    l = local optimum, f = failed) and notes (a runaway-dominated mean, the best decay model
    for slow rates, the replicates that would settle an inconclusive verdict)."""
    header = ("quantity", "k", "slope", "CI", "robust", "predicted", "verdict", "fits", "note")
    rows = []
    for f in fits:
        pred = ("none" if f.predicted_note else f"slow (>= -{f.tolerance:g})"
                if f.predicted is None else f"{f.predicted:.3f} +- {f.tolerance:g}")
        notes = []
        if f.runaway:
            notes.append("runaway")
        if f.decay:
            notes.append(f.decay.best)
        if f.replicates_needed:
            notes.append(f"~{f.replicates_needed} reps")
        rows.append((f.quantity or "-", str(f.fitted_k), f"{f.slope:.3f}",
                     f"[{f.ci[0]:.3f}, {f.ci[1]:.3f}]", f"{f.robust_slope:.3f}",
                     pred,
                     f.verdict, _fits_text(f), ", ".join(notes)))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*r).rstrip() for r in rows]
    return "\n".join(lines)

"""Estimation rates from simulated data: log-log slopes, bootstrap intervals, verdicts.

`fit_slope` regresses log(mean error) on log n, bootstraps the slope by resampling the
replicates within each sample size, and compares it with a predicted slope (``-0.5`` for
n^-1/2, ``-0.25`` for n^-1/4, ...). A predicted rate slower than any power of n
(``predicted=None``) is checked with `compare_decay`, which asks whether a power law,
c / log(n)^lambda or a constant best predicts the largest sample sizes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from identify.errors import ConfigError

__all__ = ["SlopeFit", "DecayComparison", "fit_slope", "compare_decay", "slope_table"]

POWER, LOG, FLAT = "power law", "c / log(n)^lambda", "no decay"
_MAX_CI_WIDTH = 1.0  # wider bootstrap intervals are "inconclusive"
_FLAT_SLOPE = -0.05  # a slope interval reaching above this shows no polynomial decay


def _num(x: float | None) -> float | None:
    """``x`` as a JSON-safe float (NaN and inf become None)."""
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass(frozen=True)
class DecayComparison:
    """Which decay model best predicts the largest sample sizes (held-out, log space)."""

    best: str
    errors: dict[str, float]
    params: dict[str, dict]

    def to_dict(self) -> dict:
        return {"best": self.best, "errors": {k: _num(v) for k, v in self.errors.items()},
                "params": {k: {p: _num(v) for p, v in d.items()} for k, d in self.params.items()}}


@dataclass(frozen=True)
class SlopeFit:
    """A fitted log-log slope with its bootstrap interval and verdict against a prediction."""

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

    def to_dict(self) -> dict:
        return {
            "quantity": self.quantity, "fitted_k": self.fitted_k, "slope": _num(self.slope),
            "intercept": _num(self.intercept), "ci": [_num(c) for c in self.ci],
            "predicted": _num(self.predicted), "verdict": self.verdict, "reason": self.reason,
            "points": [{"n": n, "mean": _num(m), "lower": _num(lo), "upper": _num(hi)}
                       for n, m, lo, hi in self.points],
            "n_replicates": self.n_replicates,
            "decay": None if self.decay is None else self.decay.to_dict(),
        }


def _clean(ns: Sequence[Any], values: Sequence[Any]) -> list[tuple[int, np.ndarray]]:
    """Finite replicates per sample size, sorted by n; duplicate sizes are pooled."""
    if len(ns) != len(values):
        raise ConfigError(f"got {len(ns)} sample sizes but {len(values)} groups of values",
                          where="values")
    pooled: dict[int, list[float]] = {}
    for n, vals in zip(ns, values, strict=True):
        try:
            n_int = int(n)
        except (TypeError, ValueError):
            raise ConfigError(f"sample size {n!r} is not an integer", where="ns") from None
        if n_int != n or n_int < 1:
            raise ConfigError(f"sample size {n!r} is not a positive integer", where="ns")
        reps = [vals] if vals is None or np.ndim(vals) == 0 else list(np.ravel(vals))
        try:
            arr = np.array([np.nan if v is None else float(v) for v in reps], dtype=float)
        except (TypeError, ValueError):
            raise ConfigError(f"non-numeric value among the replicates at n = {n_int}",
                              where="values") from None
        arr = arr[np.isfinite(arr)]
        if np.any(arr <= 0):
            raise ConfigError(f"non-positive value {arr[arr <= 0][0]:g} at n = {n_int}",
                              hint="rates are fitted in log space; pass errors or distances > 0",
                              where="values")
        pooled.setdefault(n_int, []).extend(arr.tolist())
    return [(n, np.asarray(v)) for n, v in sorted(pooled.items()) if v]


def _ols(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Slopes and intercepts of y (shape (..., k)) on x (shape (k,))."""
    xc = x - x.mean()
    slope = (y - y.mean(axis=-1, keepdims=True)) @ xc / float(xc @ xc)
    return slope, y.mean(axis=-1) - slope * x.mean()


def compare_decay(ns: Sequence[int], values: Sequence[Any], *,
                  holdout: float = 0.3) -> DecayComparison:
    """Compare three decay models by how well they predict the largest sample sizes.

    Parameters
    ----------
    ns:
        Sample sizes (integers > 1).
    values:
        ``values[i]`` holds the replicate values at ``ns[i]`` (non-finite = failed, dropped).
    holdout:
        Fraction of the sizes (the largest ones) kept out of the fit and used for scoring.

    Returns
    -------
    DecayComparison
        The model with the lowest held-out mean squared error of log(mean value), among
        ``"power law"`` (log y = c - s log n), ``"c / log(n)^lambda"``
        (log y = c - lambda log log n) and ``"no decay"`` (log y = c).
    """
    if not 0.0 < holdout < 1.0:
        raise ConfigError(f"holdout must lie in (0, 1), got {holdout}", where="holdout")
    groups = _clean(ns, values)
    if any(n < 2 for n, _ in groups):
        raise ConfigError("compare_decay needs sample sizes n >= 2 (log log n)", where="ns")
    k = len(groups)
    if k < 4:
        raise ConfigError(f"compare_decay needs at least 4 usable sample sizes, got {k}",
                          hint="3 to fit and 1 to score", where="ns")
    n_fit = min(max(3, int(round((1.0 - holdout) * k))), k - 1)
    log_n = np.log([float(n) for n, _ in groups])
    log_y = np.log([float(v.mean()) for _, v in groups])
    designs = {POWER: -log_n, LOG: -np.log(log_n), FLAT: None}
    names = {POWER: "s", LOG: "lambda"}
    errors: dict[str, float] = {}
    params: dict[str, dict] = {}
    for model, x in designs.items():
        if x is None:
            c, pred = float(log_y[:n_fit].mean()), np.full(k - n_fit, log_y[:n_fit].mean())
            params[model] = {"c": c}
        else:
            # slope of log y on x is the decay parameter itself, since x = -log n or -log log n
            s, c = _ols(x[:n_fit], log_y[:n_fit])
            pred = c + s * x[n_fit:]
            params[model] = {"c": float(c), names[model]: float(s)}
        errors[model] = float(np.mean((log_y[n_fit:] - pred) ** 2))
    best = min(errors, key=lambda m: errors[m])
    return DecayComparison(best=best, errors=errors, params=params)


def fit_slope(ns: Sequence[int], values: Sequence[Any], predicted: float | None = None, *,
              quantity: str = "", fitted_k: int = 0, n_boot: int = 2000, level: float = 0.95,
              seed: int = 0) -> SlopeFit:
    """Fit the log-log slope of a simulated error and judge it against a predicted rate.

    Parameters
    ----------
    ns:
        Sample sizes.
    values:
        ``values[i]`` holds the replicate values (positive) at ``ns[i]``; NaN, inf and None
        mark failed fits and are dropped, and a size with no finite value is dropped.
    predicted:
        Predicted slope (e.g. ``-0.5`` for n^-1/2), or None for a rate slower than any
        power of n (then `compare_decay` is run too).
    quantity, fitted_k:
        Labels carried into the result (e.g. ``"D1"``, number of fitted experts).
    n_boot:
        Bootstrap resamples; replicates are resampled independently within each size.
    level:
        Coverage of the slope interval and of the per-size intervals of the mean.
    seed:
        Seed of the numpy Generator; the result is deterministic given it.

    Returns
    -------
    SlopeFit
        OLS slope of log(mean) on log n, its percentile interval and a verdict:
        ``"inconclusive"`` with fewer than 3 sizes or an interval wider than 1.0,
        otherwise ``"confirmed"`` or ``"contradicted"``.
    """
    if not 0.0 < level < 1.0:
        raise ConfigError(f"level must lie in (0, 1), got {level}", where="level")
    if n_boot < 10:
        raise ConfigError(f"n_boot must be at least 10, got {n_boot}", where="n_boot")
    groups = _clean(ns, values)
    k = len(groups)
    rng = np.random.default_rng(seed)
    alpha = (1.0 - level) / 2.0
    boot = np.empty((n_boot, k))
    points = []
    for j, (n, v) in enumerate(groups):
        boot[:, j] = v[rng.integers(0, v.size, size=(n_boot, v.size))].mean(axis=1)
        lo, hi = np.quantile(boot[:, j], [alpha, 1.0 - alpha])
        points.append((n, float(v.mean()), float(lo), float(hi)))
    n_reps = min((v.size for _, v in groups), default=0)
    nan = float("nan")
    slope, intercept, ci = nan, nan, (nan, nan)
    if k >= 2:
        log_n = np.log([float(n) for n, _ in groups])
        s, c = _ols(log_n, np.log([m for _, m, _, _ in points]))
        slope, intercept = float(s), float(c)
        b_lo, b_hi = np.quantile(_ols(log_n, np.log(boot))[0], [alpha, 1.0 - alpha])
        ci = (float(b_lo), float(b_hi))
    lo, hi = ci
    ci_text = f"{level:.0%} interval [{lo:.3f}, {hi:.3f}]"
    decay = None
    if k < 3:
        verdict, reason = "inconclusive", f"only {k} usable sample size(s), at least 3 needed."
    elif hi - lo > _MAX_CI_WIDTH:
        verdict = "inconclusive"
        reason = f"slope {slope:.3f} with {ci_text}, wider than {_MAX_CI_WIDTH:.1f}: too noisy."
    elif predicted is not None:
        inside = lo <= predicted <= hi
        verdict = "confirmed" if inside else "contradicted"
        reason = (f"predicted slope {predicted:.3f} lies {'inside' if inside else 'outside'} "
                  f"the {ci_text} of the fitted slope {slope:.3f}.")
    else:
        verdict, reason, decay = _judge_slow(groups, slope, ci, ci_text)
    return SlopeFit(quantity=quantity, fitted_k=fitted_k, slope=slope, intercept=intercept,
                    ci=ci, predicted=None if predicted is None else float(predicted),
                    verdict=verdict, reason=reason, points=tuple(points),
                    n_replicates=n_reps, decay=decay)


def _judge_slow(groups: list[tuple[int, np.ndarray]], slope: float, ci: tuple[float, float],
                ci_text: str) -> tuple[str, str, DecayComparison | None]:
    """Verdict for a rate predicted slower than any power of n."""
    flat = ci[1] > _FLAT_SLOPE
    flat_text = (f"slope {slope:.3f} with {ci_text} reaching above {_FLAT_SLOPE}" if flat else
                 f"slope {slope:.3f} with {ci_text} below {_FLAT_SLOPE}")
    try:
        decay = compare_decay([n for n, _ in groups], [v for _, v in groups])
    except ConfigError as exc:
        if flat:
            return "confirmed", f"no polynomial decay visible: {flat_text}.", None
        return "inconclusive", f"{flat_text}, and decay models not compared: {exc.message}.", None
    err = decay.errors
    models = f"held-out MSE power law {err[POWER]:.3g}, log {err[LOG]:.3g}, flat {err[FLAT]:.3g}"
    if decay.best != POWER:
        return "confirmed", f"'{decay.best}' predicts the largest n best ({models}).", decay
    if flat:
        return "confirmed", f"no polynomial decay visible: {flat_text} ({models}).", decay
    return ("contradicted",
            f"a power law predicts the largest n best ({models}) and {flat_text}.", decay)


def slope_table(fits: Sequence[SlopeFit]) -> str:
    """Plain-text table of fitted slopes: quantity, k, slope, CI, predicted, verdict."""
    header = ("quantity", "k", "slope", "CI", "predicted", "verdict", "best decay model")
    rows = [(f.quantity or "-", str(f.fitted_k), f"{f.slope:.3f}",
             f"[{f.ci[0]:.3f}, {f.ci[1]:.3f}]",
             "slow" if f.predicted is None else f"{f.predicted:.3f}", f.verdict,
             f.decay.best if f.decay else "") for f in fits]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header).rstrip(), "  ".join("-" * w for w in widths)]
    lines += [fmt.format(*r).rstrip() for r in rows]
    return "\n".join(lines)

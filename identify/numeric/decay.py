"""Decay models for rates slower than any power of n: which one predicts the largest sizes.

`compare_decay` fits a power law, c / log(n)^lambda and a constant to the smaller sample
sizes and scores them on the largest (held-out, in log space). The helpers here (cleaning
replicate values, OLS in log-log space) are shared with `identify.numeric.slopes`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from identify.errors import ConfigError

__all__ = ["DecayComparison", "compare_decay", "POWER", "LOG", "FLAT"]

POWER, LOG, FLAT = "power law", "c / log(n)^lambda", "no decay"


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


def _clean(ns: Sequence[Any], values: Sequence[Any]) -> list[tuple[int, np.ndarray]]:
    """Replicates per sample size (NaN = missing), sorted by n; duplicate sizes are pooled.

    Position r in ``values[i]`` is replicate r; sizes with no finite value are dropped."""
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
        arr[~np.isfinite(arr)] = np.nan
        if np.any(arr <= 0):
            raise ConfigError(f"non-positive value {arr[arr <= 0][0]:g} at n = {n_int}",
                              hint="rates are fitted in log space; pass errors or distances > 0",
                              where="values")
        pooled.setdefault(n_int, []).extend(arr.tolist())
    return [(n, np.asarray(v)) for n, v in sorted(pooled.items())
            if np.any(np.isfinite(v))]


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
    log_y = np.log([float(np.nanmean(v)) for _, v in groups])
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

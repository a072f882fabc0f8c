"""Limits of a sweep, checked before any work (documented in docs/guide/config.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from identify.errors import ConfigError

__all__ = ["MAX_N", "MAX_SIZES", "MAX_FITTED_K", "MAX_REPLICATES", "MAX_TASKS", "check_limits",
           "positive_int"]

#: Largest sample size (one task holds a few n x (parameters) float arrays: ~1 GB at MAX_N).
MAX_N = 200_000
#: Most distinct sample sizes in one sweep (and the largest COUNT of LOW:HIGH:COUNT).
MAX_SIZES = 100
#: Largest fitted atom count.
MAX_FITTED_K = 12
#: Most replicates per (fitted k, n).
MAX_REPLICATES = 1000
#: Most tasks in one sweep (fitted k values x sizes x replicates).
MAX_TASKS = 100_000


def positive_int(value: Any, what: str, limit: int | None = None) -> int:
    """``value`` as an int if it is an integer (not a bool) from 1 to ``limit``; else one
    ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{what} must be positive integers, got {value!r:.40}", where=what)
    if limit is not None and value > limit:
        raise ConfigError(f"{what} must be at most {limit}, got {value!r:.40}", where=what)
    return int(value)


def check_limits(fitted_ks: Sequence[Any], ns: Sequence[Any], replicates: Any) -> None:
    """Refuse a sweep out of range before any work: fitted k in 1..MAX_FITTED_K, sizes in
    1..MAX_N (at most MAX_SIZES of them), replicates in 1..MAX_REPLICATES, at most MAX_TASKS
    tasks. Values must be integers (not bool, not float)."""
    ks = {positive_int(v, "fitted_ks", MAX_FITTED_K) for v in fitted_ks}
    sizes = {positive_int(v, "ns", MAX_N) for v in ns}
    reps = positive_int(replicates, "replicates", MAX_REPLICATES)
    if len(sizes) > MAX_SIZES:
        raise ConfigError(f"at most {MAX_SIZES} sample sizes, got {len(sizes)}", where="ns")
    if len(ks) * len(sizes) * reps > MAX_TASKS:
        raise ConfigError(f"the sweep has {len(ks) * len(sizes) * reps} tasks; the limit is "
                          f"{MAX_TASKS}", hint="fewer sizes, fitted k or replicates",
                          where="tasks")

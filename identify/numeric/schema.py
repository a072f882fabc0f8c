"""A small declarative schema for truth files (TOML), checked at the boundary.

:data:`TRUTH_SCHEMA` declares every key a truth file may have, its type and its range;
:func:`validate` checks a whole parsed document against it before anything is built from
it, and refuses the first problem with one line naming the file, the key and what was
expected (``truth.toml: [inputs] low: expected a finite number, got '-inf'``). Nothing is
coerced: ``dim = 1.9``, ``dim = true``, ``a = true``, ``fitted_k = [2.7]`` are refused,
not rounded.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from identify.errors import ConfigError

__all__ = ["Int", "Number", "Text", "ListOf", "Table", "MapOf", "OneOf", "validate",
           "TRUTH_SCHEMA"]


class _Bad(Exception):
    def __init__(self, path: str, expected: str, value: Any):
        super().__init__(path, expected, value)
        self.path, self.expected, self.value = path, expected, value


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Int:
    """An integer (not a bool, not a float) from ``low`` to ``high``."""

    low: int
    high: int

    def check(self, value: Any, path: str) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not \
                self.low <= value <= self.high:
            raise _Bad(path, f"an integer from {self.low} to {self.high}", value)


@dataclass(frozen=True)
class Number:
    """A finite number (int or float, not a bool); optionally > 0 or >= 0."""

    positive: bool = False
    nonnegative: bool = False

    def check(self, value: Any, path: str) -> None:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and \
            math.isfinite(value) and abs(value) < 1e300
        what = "a finite number"
        if self.positive:
            ok, what = ok and value > 0, "a finite number > 0"
        elif self.nonnegative:
            ok, what = ok and value >= 0, "a finite number >= 0"
        if not ok:
            raise _Bad(path, what, value)


@dataclass(frozen=True)
class Text:
    """A string, optionally one of ``choices``, at most ``limit`` characters."""

    choices: tuple[str, ...] = ()
    limit: int = 1000

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, str) or len(value) > self.limit:
            raise _Bad(path, f"a string of at most {self.limit} characters", value)
        if self.choices and value not in self.choices:
            raise _Bad(path, "one of " + ", ".join(self.choices), value)


@dataclass(frozen=True)
class ListOf:
    """An array of ``low`` to ``high`` items, each matching ``item``."""

    item: Any
    low: int = 1
    high: int = 100

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, list) or not self.low <= len(value) <= self.high:
            raise _Bad(path, f"an array of {self.low} to {self.high} items", value)
        for i, v in enumerate(value):
            self.item.check(v, f"{path}[{i}]")


@dataclass(frozen=True)
class OneOf:
    """Any of ``options`` (the message lists what each expects)."""

    options: tuple[Any, ...]
    expected: str

    def check(self, value: Any, path: str) -> None:
        for option in self.options:
            try:
                option.check(value, path)
                return
            except _Bad:
                continue
        raise _Bad(path, self.expected, value)


@dataclass(frozen=True)
class Table:
    """A table with these keys (``required`` ones must be present, no others allowed)."""

    keys: Mapping[str, Any]
    required: frozenset[str] = frozenset()
    rule: Callable[[dict, str], None] | None = field(default=None, compare=False)

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise _Bad(path, "a table", value)
        for key in value:
            if key not in self.keys:
                raise _Bad(_join(path, key), "no such key (allowed: "
                           + ", ".join(self.keys) + ")", value[key])
        for key in sorted(self.required - set(value)):
            raise _Bad(_join(path, key), "a value (the key is required)", "missing")
        for key, spec in self.keys.items():
            if key in value:
                spec.check(value[key], _join(path, key))
        if self.rule is not None:
            self.rule(value, path)


@dataclass(frozen=True)
class MapOf:
    """A table of parameter names (``[A-Za-z][A-Za-z0-9_]*``) to values matching ``value``."""

    value: Any
    low: int = 0
    high: int = 1000

    def check(self, value: Any, path: str) -> None:
        if not isinstance(value, dict) or not self.low <= len(value) <= self.high:
            raise _Bad(path, f"a table of {self.low} to {self.high} name = number entries", value)
        for key, v in value.items():
            if not (key[:1].isascii() and key[:1].isalpha() and all(
                    c.isascii() and (c.isalnum() or c == "_") for c in key)):
                raise _Bad(_join(path, key), "a parameter name [A-Za-z][A-Za-z0-9_]*", key)
            self.value.check(v, _join(path, key))


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _mixture_rule(table: dict, path: str) -> None:
    lengths = {k: len(table.get(k, (0, 0))) for k in ("means", "sds", "weights")}  # default: 2
    if len(set(lengths.values())) > 1:
        raise _Bad(path or "inputs", "as many means, sds and weights (2 each by default)",
                   lengths)
    if "weights" in table and not sum(table["weights"]) > 0:
        raise _Bad(_join(path, "weights"), "weights >= 0 with a positive sum", table["weights"])
    low, high = table.get("low", -1.0), table.get("high", 1.0)
    if not low < high:
        raise _Bad(_join(path, "high"), f"a number above low = {low}", high)


def _truth_schema() -> Table:
    from identify.model.expert import MAX_DIM
    from identify.numeric.limits import MAX_FITTED_K, MAX_N, MAX_REPLICATES, MAX_SIZES

    number, names = Number(), MapOf(Number())
    inputs = Table({"kind": Text(("uniform", "grid", "gaussian-mixture")), "low": number,
                    "high": number, "means": ListOf(number),
                    "sds": ListOf(Number(positive=True)),
                    "weights": ListOf(Number(nonnegative=True))}, rule=_mixture_rule)
    sweep = Table({"fitted_k": ListOf(Int(1, MAX_FITTED_K), 1, 20),
                   "n": OneOf((Text(limit=10_000), ListOf(Int(10, MAX_N), 1, MAX_SIZES)),
                              f"a string LOW:HIGH:COUNT or an array of integers 10 to {MAX_N}"),
                   "replicates": Int(1, MAX_REPLICATES),
                   "tolerance": Number(positive=True),  # the verdict band, checked < 10 later
                   # a paper's over-fitted loss D2 (exponents per block) where identify derives
                   # none: used for the loss only, never as a predicted rate
                   "loss": Table({"over": MapOf(Number(positive=True), 1), "source": Text()},
                                 required=frozenset({"over", "source"}))})
    model = Table({"expert": Text(), "gate": Text(limit=200), "estimator": Text(limit=50),
                   "dim": Int(1, MAX_DIM)}, required=frozenset({"expert"}))
    return Table({"name": Text(limit=200), "source": Text(), "model": model, "inputs": inputs,
                  "noise": Table({"sd": Number(nonnegative=True)}), "shared": names,
                  "atoms": ListOf(MapOf(number, 1), 1, 50), "sweep": sweep},
                 required=frozenset({"model", "atoms"}))


TRUTH_SCHEMA: Table = _truth_schema()
"""Every key of a truth file: see docs/guide/config.md."""


def validate(document: Any, where: str, schema: Table = TRUTH_SCHEMA) -> dict:
    """Check a parsed document against ``schema``; return it unchanged.

    Raises
    ------
    ConfigError
        On the first key that is missing, unknown, of the wrong type or out of range, as
        ``WHERE: KEY: expected WHAT, got VALUE`` (``where="truth"``).
    """
    try:
        schema.check(document, "")
    except _Bad as bad:
        key = bad.path or "the document"
        raise ConfigError(f"{where}: {key}: expected {bad.expected}, got {_shown(bad.value)}",
                          where="truth") from None
    return document

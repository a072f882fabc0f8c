"""Conventions of the command line: choices with defaults for ``--help``, "did you mean"
suggestions for unknown names, stage messages on stderr, and the JSON encoding.

JSON conventions (every subcommand's ``--json``):

- exponents are numbers: a rational loss exponent e is ``{"p": 1, "q": 4, "value": 0.25}``
  (exact numerator and denominator, and the float);
- a verdict comes with a machine key: ``"verdict": "strongly identifiable"`` and
  ``"verdict_key": "strong"`` (the :class:`~identify.symbolic.verdict.Verdict` member's
  name, lower case: strong, weak, first_order, not, inconclusive);
- everything that measures time is in a separate ``"timing"`` object, so the rest of the
  output is reproducible byte for byte.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Iterable
from fractions import Fraction

from identify.errors import ConfigError

__all__ = ["suggest", "check_name", "gates_help", "validate_gate", "Stage", "json_ready",
           "exponent_json", "verdict_key"]


def suggest(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean ridge-tanh?)"`` for the closest choice, or ``""``."""
    close = difflib.get_close_matches(str(name).strip().lower(), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def check_name(kind: str, name: str, choices: Iterable[str], where: str, listing: str) -> None:
    """Refuse an unknown name with the closest match and where the list is."""
    choices = list(choices)
    if name.strip().lower() not in choices:
        raise ConfigError(f"unknown {kind} {name!r}{suggest(name, choices)}; {listing}",
                          where=where)


def gates_help() -> str:
    """Every gate with its options and their defaults: ``top-k:k=2,experts=4``."""
    from identify.api import gate_options
    from identify.model.gate import GATES

    return ", ".join(f"{n}:{gate_options(g)}" if gate_options(g) else n for n, g in GATES.items())


def validate_gate(spec: str) -> None:
    """Unknown gate names and option keys, with suggestions (values are checked by the gate)."""
    from identify.model.gate import GATES

    name, _, opts = spec.partition(":")
    check_name("gate", name, GATES, "gate", f"gates: {gates_help()}")
    known = GATES[name.strip().lower()]._options
    for part in filter(None, (p.strip() for p in opts.split(","))):
        key = part.partition("=")[0].strip()
        if key and key not in known:
            listing = ", ".join(f"{k}={d}" for k, (_t, d) in known.items()) or "none"
            raise ConfigError(f"unknown option {key!r} of the gate {name}{suggest(key, known)}; "
                              f"its options (defaults): {listing}", where="gate")


class Stage:
    """What the command is doing, on stderr (never stdout; silent with --quiet or --json).

    ``with stage("checking ..."):`` prints the line only when the work is still running
    after ``delay`` seconds, so quick commands and one-line errors stay quiet."""

    delay = 1.5

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self._timer = None

    def __call__(self, text: str):
        import threading

        if not self.quiet:
            self._timer = threading.Timer(self.delay, self._say, (text,))
            self._timer.daemon = True
            self._timer.start()
        return self

    @staticmethod
    def _say(text: str) -> None:
        sys.stderr.write(f"identify: {text}\n")
        sys.stderr.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def exponent_json(value):
    """A loss exponent as ``{"p", "q", "value"}``; None and non-numbers pass through."""
    if isinstance(value, dict | list | tuple) or value is None or isinstance(value, bool):
        return value
    try:
        f = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return value
    return {"p": f.numerator, "q": f.denominator, "value": float(f)}


def verdict_key(text: str) -> str | None:
    from identify.symbolic.verdict import Verdict

    for v in Verdict:
        if v.value == text:
            return v.name.lower()
    return None


_EXPONENT_KEYS = ("exponent",)
_TABLE_KEYS = ("exact", "over")


def json_ready(obj, timing: dict | None = None):
    """Apply the JSON conventions to a ``to_dict()`` result (a new object is returned)."""
    out = _walk(obj)
    if isinstance(out, dict) and timing is not None:
        out["timing"] = {**out.get("timing", {}), **timing}
    return out


def _walk(obj, in_row: bool = False):
    if isinstance(obj, list | tuple):
        return [_walk(x, in_row) for x in obj]
    if not isinstance(obj, dict):
        return obj
    out = {}
    timing = {}
    for k, v in obj.items():
        if k == "timing" and isinstance(v, dict):
            timing.update(v)
        elif k == "seconds" and isinstance(v, int | float):
            timing["seconds"] = v
        elif k in _EXPONENT_KEYS:
            out[k] = exponent_json(v)
        elif k in _TABLE_KEYS and in_row and isinstance(v, dict):
            out[k] = {b: exponent_json(e) for b, e in v.items()}
        else:
            out[k] = _walk(v, in_row=(k == "row"))
        if k == "verdict" and isinstance(v, str) and verdict_key(v):
            out["verdict_key"] = verdict_key(v)
    if timing:
        out["timing"] = timing
    return out

"""Every error and warning `identify` raises on purpose.

One base class, :class:`IdentifyError`, carries a user-facing message, an optional
``hint`` (what to try instead) and an optional ``where`` (which input was at fault).
The command line catches it, prints ``error: <message>`` on one line and exits with
code 2. Any other exception escaping the library is a bug.

Subclasses also inherit the builtin they stand in for (as scikit-learn's
``NotFittedError(ValueError, AttributeError)`` does), so ``except ValueError`` keeps
working for callers who do not know this module.
"""

from __future__ import annotations

__all__ = [
    "IdentifyError",
    "FormulaError",
    "ConfigError",
    "InconclusiveWarning",
]


class IdentifyError(Exception):
    """Base class of every error `identify` raises for bad input or impossible requests.

    Parameters
    ----------
    message:
        What went wrong, in one sentence, naming the offending piece.
    hint:
        What to try instead (optional).
    where:
        The input the error is about, e.g. ``"formula"`` or ``"--gate"`` (optional).
    """

    def __init__(self, message: str, *, hint: str | None = None, where: str | None = None):
        self.message = message
        self.hint = hint
        self.where = where
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message, prefixed by ``where`` and followed by the hint, on one line."""
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text = f"{text} ({self.hint})"
        return " ".join(text.split())


class FormulaError(IdentifyError, ValueError):
    """A formula could not be parsed, or uses a name, function or syntax that is not allowed."""


class ConfigError(IdentifyError, ValueError):
    """An option or configuration value is impossible (unknown gate, bad order, ...)."""


class InconclusiveWarning(UserWarning):
    """A certificate could not be reached at the precision budget given."""

"""A time budget for long analyses, and progress messages on the ``identify`` logger.

Library code never prints: stage names go to ``logging.getLogger("identify.check")`` at
INFO level (the command line shows them on stderr unless ``--quiet`` or ``--json``). A
:class:`Budget` is checked between steps; when it is spent the analysis stops where it is
and reports what was proved so far (the verdict is then ``inconclusive``).
"""

from __future__ import annotations

import logging
import time

__all__ = ["Budget", "log", "DEFAULT_BUDGET"]

#: seconds `check` may take by default (the command line's ``--budget``)
DEFAULT_BUDGET = 180.0

log = logging.getLogger("identify.check")


class Budget:
    """Seconds left for an analysis; ``None`` seconds means no limit."""

    def __init__(self, seconds: float | None = None):
        self.seconds = seconds
        self.start = time.perf_counter()
        self.spent_in: str | None = None  # the stage that found the budget spent

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def expired(self, stage: str = "") -> bool:
        """True when the budget is spent (remembers the first stage that noticed)."""
        if self.seconds is None or self.elapsed < self.seconds:
            return False
        if self.spent_in is None:
            self.spent_in = stage or "analysis"
            log.info("time budget of %.0f s spent during %s", self.seconds, self.spent_in)
        return True

    @property
    def note(self) -> str | None:
        if self.spent_in is None:
            return None
        return (f"the time budget of {self.seconds:g} s was spent during {self.spent_in}; what "
                f"is shown was proved before that, the rest is not (inconclusive)")

"""Worker processes die with their parent: a daemon thread polls the parent's pid.

Used by both executors of :mod:`identify.numeric.sweep`:

- the local process pool: :func:`watch_parent` from the pool's initializer;
- a local Dask cluster (``scheduler="local"``): this module is the workers' Dask *preload*
  (``LocalCluster(preload=[__name__])``, :func:`dask_setup`), told the parent's pid by the
  environment variable :data:`PARENT_ENV`. Dask's own cleanup (a pipe from the nanny) is not
  relied upon: whichever notices first ends the worker.

A worker whose parent is gone (killed with SIGKILL, say) exits within :data:`POLL_SECONDS`
(``os._exit``: no cleanup that could block on the dead parent). Workers of a remote Dask
scheduler are not ours and get no watchdog.
"""

from __future__ import annotations

import os
import threading
import time

__all__ = ["PARENT_ENV", "POLL_SECONDS", "THREAD_NAME", "dask_setup", "watch_parent"]

#: the environment variable that tells a Dask worker its parent's pid
PARENT_ENV = "IDENTIFY_PARENT_PID"
#: the name of the watchdog thread (tests look for it)
THREAD_NAME = "identify-parent-watchdog"
POLL_SECONDS = 0.5


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else (cannot be ours: treat as gone)
        return False
    return True


def watch_parent(parent: int) -> None:
    """Exit this process (status 1) as soon as process ``parent`` is gone, checked every
    :data:`POLL_SECONDS` by a daemon thread. When ``parent`` is this process's parent (the
    usual case) the test is ``os.getppid() == parent``, immune to pid reuse; otherwise
    (a deeper process tree) whether ``parent`` still exists."""
    if any(t.name == THREAD_NAME for t in threading.enumerate()):
        return
    direct = os.getppid() == parent

    def gone() -> bool:
        return os.getppid() != parent if direct else not _alive(parent)

    if gone():
        os._exit(1)

    def watch() -> None:
        while not gone():
            time.sleep(POLL_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name=THREAD_NAME, daemon=True).start()


def dask_setup(worker) -> None:  # noqa: ARG001 - Dask's preload signature
    """Dask worker preload: watch the pid named by :data:`PARENT_ENV` (nothing without it)."""
    text = os.environ.get(PARENT_ENV, "")
    if text.isdigit():
        watch_parent(int(text))

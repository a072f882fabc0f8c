"""Resumable, parallel sweeps of simulation tasks.

A :class:`Task` is one fit (``fitted_k`` atoms, sample size ``n``, one replicate) seeded
by the task alone (:func:`task_seed`), so rows do not depend on the worker count or order.
``task_fn(config, task) -> dict`` returns one JSON-serialisable row; :func:`run_sweep`
commits each row to a :class:`~identify.numeric.store.ResultStore` as soon as it
finishes, in the calling process, and skips the tasks already stored.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits
from tqdm import tqdm

from identify.errors import ConfigError
from identify.numeric import watchdog
from identify.numeric.limits import (
    MAX_FITTED_K,
    MAX_N,
    MAX_REPLICATES,
    MAX_SIZES,
    MAX_TASKS,
    check_limits,
)
from identify.numeric.limits import positive_int as _positive_int
from identify.numeric.scheduler import _CONNECT_SECONDS, _probe_scheduler, check_scheduler
from identify.numeric.store import STATUSES, ResultStore, to_json
from identify.numeric.watchdog import watch_parent

__all__ = ["Task", "task_seed", "make_tasks", "parse_sizes", "run_sweep", "demo_task",
           "check_limits", "check_scheduler", "STATUSES", "TIMING_FIELDS", "MAX_N", "MAX_SIZES",
           "MAX_FITTED_K", "MAX_REPLICATES", "MAX_TASKS"]

#: Row fields that measure time and so differ between two runs of the same task.
TIMING_FIELDS = ("seconds",)
_BLAS_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
TaskFn = Callable[[dict, "Task"], dict]


@dataclass(frozen=True)
class Task:
    """One fit: ``fitted_k`` atoms, ``n`` samples, replicate ``replicate``, seeded by ``seed``."""

    sweep: str
    fitted_k: int
    n: int
    replicate: int
    seed: int

    @property
    def key(self) -> str:
        """The task's key within its sweep, e.g. ``"k=2|n=100|rep=0"``."""
        return f"k={self.fitted_k}|n={self.n}|rep={self.replicate}"

    def fields(self) -> dict[str, Any]:
        """The fields every row of this task carries."""
        return {"key": self.key, "sweep": self.sweep, "fitted_k": self.fitted_k, "n": self.n,
                "replicate": self.replicate, "seed": self.seed}


def task_seed(base: str, fitted_k: int, n: int, replicate: int) -> int:
    """A 63-bit seed from SHA-256 of ``(base, fitted_k, n, replicate)``, and nothing else."""
    text = json.dumps([str(base), int(fitted_k), int(n), int(replicate)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1


def make_tasks(sweep: str, base: str, fitted_ks: Sequence[int], ns: Sequence[int],
               replicates: int) -> list[Task]:
    """Every (fitted_k, n, replicate) task of a sweep, ordered by fitted_k, n, replicate.

    Parameters
    ----------
    sweep:
        The sweep id the rows are stored under.
    base:
        The seed base; with the task's coordinates it fixes the task's seed.
    fitted_ks, ns:
        Positive integers (duplicates are dropped).
    replicates:
        Number of replicates per (fitted_k, n), at least 1.
    """
    if not isinstance(sweep, str) or not sweep:
        raise ConfigError(f"the sweep id must be a non-empty string, got {sweep!r}", where="sweep")
    fitted_ks, ns = list(fitted_ks), list(ns)
    if not fitted_ks or not ns:
        raise ConfigError("fitted_ks and ns must not be empty", where="tasks")
    check_limits(fitted_ks, ns, replicates)
    ks, sizes = sorted({int(v) for v in fitted_ks}), sorted({int(v) for v in ns})
    return [Task(sweep, k, n, r, task_seed(base, k, n, r)) for k in ks for n in sizes
            for r in range(_positive_int(replicates, "replicates"))]


def _size_error(problem: str) -> ConfigError:
    hint = "write sizes as 100,200,500 or start:stop:count, e.g. 1e2:2e4:10"
    return ConfigError(problem, hint=hint, where="sizes")


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise _size_error(f"{text.strip()!r:.40} is not a positive number")
    return value


def _size(value: float, text: str) -> float:
    if value > MAX_N:
        raise _size_error(f"sample size {text.strip()!r:.40} is larger than the limit {MAX_N}")
    return value


def parse_sizes(text: str) -> list[int]:
    """Parse sample sizes: ``"100,200,500"`` or log-spaced ``"1e2:2e4:10"`` (or a mix).

    ``start:stop:count`` gives ``count`` log-spaced integers from ``start`` to ``stop``
    inclusive, rounded; the result is sorted with duplicates dropped. Sizes are at most
    :data:`MAX_N`, and there are at most :data:`MAX_SIZES` of them.

    Raises
    ------
    ConfigError
        If the text is empty, a size is not a positive integer or is too large, or a range
        is malformed.
    """
    if not isinstance(text, str) or not text.strip():
        raise _size_error("no sample sizes given")
    if len(text) > 10_000:
        raise _size_error(f"the sample sizes are {len(text)} characters long; the limit is 10000")
    sizes: set[int] = set()
    for item in text.split(","):
        parts = item.split(":")
        if len(parts) == 1:
            value = _size(_number(item), item)
            if value != round(value):
                raise _size_error(f"sample size {item.strip()!r} is not an integer")
            sizes.add(int(value))
        elif len(parts) == 3:
            start, stop = (_size(_number(p), p) for p in parts[:2])
            count = _number(parts[2])
            if count != round(count) or count < 2 or stop <= start or round(start) < 1:
                raise _size_error(f"range {item.strip()!r} needs 1 <= start < stop and an "
                                  "integer count of at least 2")
            if count > MAX_SIZES:
                raise _size_error(f"range {item.strip()!r} asks for {count:g} sizes; the "
                                  f"limit is {MAX_SIZES}")
            sizes.update(int(v) for v in np.rint(np.geomspace(start, stop, int(count))))
        else:
            raise _size_error(f"{item.strip()!r:.40} is neither a size nor start:stop:count")
        if len(sizes) > MAX_SIZES:
            raise _size_error(f"more than {MAX_SIZES} sample sizes")
    return sorted(sizes)


def demo_task(config: dict, task: Task) -> dict:
    """A tiny deterministic task: ``loss = c * n**-0.5 * lognormal(0, noise)``.

    Config keys (all optional): ``c`` (1.0), ``noise`` (0.1), ``sleep`` (seconds, 0),
    ``fail_n`` (return a failed row at this n), ``raise_n`` (raise ValueError at this n).
    """
    if config.get("raise_n") == task.n:
        raise ValueError(f"demo task asked to raise at n={task.n}")
    time.sleep(float(config.get("sleep", 0)))
    rng = np.random.default_rng(task.seed)
    noise = rng.lognormal(0.0, float(config.get("noise", 0.1)))
    loss = float(config.get("c", 1.0)) * task.n ** -0.5 * noise
    if config.get("fail_n") == task.n:
        return {"status": "failed", "reason": f"demo task asked to fail at n={task.n}"}
    return {"status": "converged", "loss": float(loss)}


def _run_one(task_fn: TaskFn, config: dict, task: Task) -> dict:
    """Run one task and return its finished, JSON-clean row (a failure is a row too)."""
    start = time.perf_counter()
    try:
        # one BLAS/OpenMP thread wherever the task runs (this process, a pool worker, a Dask
        # worker of any origin): threaded reductions are not bitwise reproducible, and a
        # fit's path (its iteration count) follows the last bits
        with threadpool_limits(limits=1):
            row = task_fn(config, task)
        if not isinstance(row, dict):
            raise TypeError(f"the task function returned {type(row).__name__}, not a dict")
        row = dict(row)
        for name, value in task.fields().items():
            if row.setdefault(name, value) != value:
                raise ValueError(f"the task function returned {name}={row[name]!r} for task "
                                 f"{task.key} ({name}={value!r})")
        if row.get("status") not in STATUSES:
            raise ValueError(f"row status {row.get('status')!r} is not one of "
                             f"{', '.join(sorted(STATUSES))}")
        row.setdefault("seconds", time.perf_counter() - start)
        return json.loads(to_json(row))
    except Exception as exc:  # a failed fit is a row, never a crash
        return {"status": "failed", "reason": f"{type(exc).__name__}: {exc}", **task.fields(),
                "seconds": time.perf_counter() - start}


@contextlib.contextmanager
def _single_thread_blas() -> Iterator[None]:
    """One BLAS/OpenMP thread in the workers started inside the block."""
    saved = {name: os.environ.get(name) for name in _BLAS_VARS}
    os.environ.update({name: "1" for name in _BLAS_VARS})
    try:
        yield
    finally:
        os.environ.update({k: v for k, v in saved.items() if v is not None})
        for name in (k for k, v in saved.items() if v is None):
            os.environ.pop(name, None)


def _ignore_sigint() -> None:
    """Pool worker initializer: Ctrl-C reaches the parent only, which ends the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_init(parent: int) -> None:
    """Pool worker initializer: ignore Ctrl-C, and exit when the parent process ``parent``
    is gone (killed with SIGKILL, say), checked twice a second by a daemon thread."""
    _ignore_sigint()
    watch_parent(parent)


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore Ctrl-C inside the block (main thread only): processes started there inherit it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)


@contextlib.contextmanager
def _executor(workers: int, scheduler: str | None) -> Iterator[cf.Executor]:
    """A process pool (``scheduler=None``) or a Dask executor, closed on exit."""
    if scheduler is None:
        with _single_thread_blas():
            pool = cf.ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                          initargs=(os.getpid(),),
                                          mp_context=multiprocessing.get_context("spawn"))
            try:
                yield pool
            except BaseException:  # Ctrl-C or a broken worker: do not wait for running tasks
                # Cancelling is left to the pool's own thread (cancel_futures): a future
                # cancelled from here could make Python 3.11's broken-pool cleanup raise.
                processes = list((getattr(pool, "_processes", None) or {}).values())
                pool.shutdown(wait=False, cancel_futures=True)
                for process in processes:
                    with contextlib.suppress(Exception):
                        process.terminate()
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("the Dask scheduler needs the optional extra: pip install "
                          "'identify[dask]'", where="scheduler") from None
    with contextlib.ExitStack() as stack, _single_thread_blas():
        if scheduler == "local":
            with _sigint_ignored():  # the cluster's processes inherit it: Ctrl-C stays here
                # each worker exits when this process is gone (identify.numeric.watchdog)
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, preload=[watchdog.__name__],
                                       env={watchdog.PARENT_ENV: str(os.getpid())})
            stack.callback(cluster.close)
            client = Client(cluster)
        else:
            _probe_scheduler(scheduler)
            try:
                client = Client(scheduler, timeout=_CONNECT_SECONDS)
            except Exception as exc:  # noqa: BLE001 - any failure to connect is the address's
                raise ConfigError(f"cannot connect to the Dask scheduler {scheduler!r} "
                                  f"({type(exc).__name__}: {str(exc)[:200]})",
                                  where="scheduler") from None
        stack.callback(client.close)
        yield client.get_executor(pure=False)


def _check_args(tasks: Sequence[Task], workers: int, scheduler: str | None) -> None:
    _positive_int(workers, "workers")
    check_scheduler(scheduler)
    if any(not isinstance(t, Task) for t in tasks):
        raise ConfigError("tasks must be Task objects (see make_tasks)", where="tasks")
    if len({t.sweep for t in tasks}) > 1:
        raise ConfigError("all tasks of one run_sweep call must belong to one sweep", where="tasks")
    if len({t.key for t in tasks}) != len(tasks):
        raise ConfigError("two tasks have the same key", where="tasks")


def run_sweep(task_fn: TaskFn, config: dict, tasks: Sequence[Task], store: ResultStore, *,
              workers: int = 1, scheduler: str | None = None, progress: bool = True) -> list[dict]:
    """Run the tasks not yet in ``store`` and return all the sweep's stored rows.

    Parameters
    ----------
    task_fn:
        ``task_fn(config, task) -> dict`` with ``"status"`` in converged/local/budget/failed. With
        a pool it must be a module-level (picklable) function. If it raises, the task's row
        is ``{"status": "failed", "reason": "<ExcType>: <msg>", ...}``.
    config:
        JSON-serialisable configuration, passed to every task and stored with the sweep
        (rerunning a sweep id with another config raises StoreError).
    tasks:
        Tasks of one sweep (see :func:`make_tasks`).
    store:
        Where each row is committed, in this process, as soon as its task finishes.
    workers:
        1 runs in this process; more use a spawn process pool, one BLAS thread per worker.
    scheduler:
        ``"local"`` for a local Dask cluster of ``workers`` processes, or the address of a
        Dask scheduler; None for no Dask.
    progress:
        Show a tqdm bar on stderr (done/total, failures, time left).

    Returns
    -------
    list of dict
        The stored rows of exactly these tasks, ordered by (fitted_k, n, replicate); other
        rows the store holds for the sweep (another run's sizes or replicates) are left out.
    """
    _check_args(tasks, workers, scheduler)
    if not tasks:
        return []
    sweep = tasks[0].sweep
    store.register_sweep(sweep, config)
    done = store.done_keys(sweep)
    todo = [t for t in tasks if t.key not in done]
    keys = {t.key for t in tasks}
    failed = sum(r.get("status") == "failed" for r in store.rows(sweep, keys))
    label = progress if isinstance(progress, str) else None  # names the work: "tanh(a*x+b) k=2,3"
    bar = tqdm(total=len(tasks), initial=len(tasks) - len(todo), disable=not progress,
               file=sys.stderr, unit="fit" if label else "task", desc=label or sweep,
               dynamic_ncols=True)
    bar.set_postfix(failed=failed)

    def finish(row: dict) -> None:
        nonlocal failed
        store.add(sweep, row)
        failed += row["status"] == "failed"
        bar.set_postfix(failed=failed, refresh=False)
        bar.update(1)

    try:
        if workers == 1 and scheduler is None:
            # one BLAS thread here too: these fits are many small products, and threaded BLAS
            # on a busy machine made in-process sweeps up to 18x slower (measured)
            with threadpool_limits(limits=1):
                for task in todo:
                    finish(_run_one(task_fn, config, task))
        elif todo:
            if scheduler in (None, "local"):  # no more processes than tasks, nor than cores
                workers = max(1, min(workers, len(todo), os.cpu_count() or 1))
            with _executor(workers, scheduler) as executor:
                _run_pool(executor, task_fn, config, todo, finish)
    finally:
        bar.close()
    return store.rows(sweep, keys)


def _run_pool(executor: cf.Executor, task_fn: TaskFn, config: dict, todo: list[Task],
              finish: Callable[[dict], None]) -> None:
    """Submit every task, store rows as they complete; on errors :func:`_executor` stops."""
    if isinstance(executor, cf.ProcessPoolExecutor):
        try:  # refused here, not in the pool's feeder thread (which reports it a second time)
            pickle.dumps((task_fn, config))
        except Exception as exc:
            raise ConfigError(
                f"task {todo[0].key} could not run in a worker ({type(exc).__name__}: {exc})",
                hint="the task function must be a module-level function and the config "
                     "picklable") from exc
    futures = {executor.submit(_run_one, task_fn, config, t): t for t in todo}
    pending = set(futures)
    try:
        for future in cf.as_completed(futures):
            pending.discard(future)
            try:
                row = future.result()
            except Exception as exc:  # the worker, not the task, failed
                raise ConfigError(
                    f"task {futures[future].key} could not run in a worker "
                    f"({type(exc).__name__}: {exc})",
                    hint="a worker died, or the task function is not a module-level function "
                         "or the config not picklable; finished rows are stored, rerun to "
                         "resume") from exc
            finish(row)
    except BaseException:
        if not isinstance(executor, cf.ProcessPoolExecutor):  # the pool cancels its own
            for future in pending:
                future.cancel()
        for future in pending:  # keep rows that finished while we were stopping
            if future.done() and not future.cancelled() and future.exception() is None:
                finish(future.result())
        raise

"""Sweeps and stores under hostile or careless use: limits before work, exactly the requested
tasks, a capped pool, workers that die with their parent, stores that are never written to
unless they are identify stores (or new)."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

import identify
from identify.errors import ConfigError
from identify.numeric.store import ResultStore, StoreError, check_row
from identify.numeric.sweep import (
    MAX_N,
    Task,
    check_limits,
    check_scheduler,
    demo_task,
    make_tasks,
    parse_sizes,
    run_sweep,
)

ROOT = Path(identify.__file__).resolve().parents[1]


def pid_task(config: dict, task: Task) -> dict:
    """Reports the worker's pid and its BLAS thread counts (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return {"status": "converged", "pid": os.getpid(),
            "threads": sorted({p["num_threads"] for p in threadpool_info()})}


def _row(k: int, n: int, rep: int, **extra: object) -> dict:
    return {"key": f"k={k}|n={n}|rep={rep}", "fitted_k": k, "n": n, "replicate": rep,
            "status": "converged", **extra}


# -- limits ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("args", "words"), [
    (([2], [100], 10**11), "replicates must be at most"),
    (([10**20], [100], 1), "fitted_ks must be at most"),
    (([2], [10**30], 1), "ns must be at most"),
    (([2], list(range(10, 1000)), 1), "at most 100 sample sizes"),
    (([1, 2, 3, 4, 5, 6], list(range(10, 110)), 1000), "the limit is 100000"),
    (([2.7], [100], 1), "positive integers"),
    (([True], [100], 1), "positive integers"),
    (([2], [100.7], 1), "positive integers"),
])
def test_limits_refuse_before_any_allocation(args, words):
    start = time.perf_counter()
    for call in (check_limits, lambda *a: make_tasks("s", "b", *a)):
        with pytest.raises(ConfigError, match=words):
            call(*args)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("text", ["1e9", "1e30", "1e308:1.7e308:2", "10:1e5:1e9", "1e400",
                                  ",".join(str(n) for n in range(10, 200))])
def test_sizes_out_of_range_are_refused_at_once(text):
    start = time.perf_counter()
    with pytest.raises(ConfigError):
        parse_sizes(text)
    assert time.perf_counter() - start < 1.0
    assert parse_sizes(f"{MAX_N}") == [MAX_N]


# -- exactly the requested tasks ---------------------------------------------------------------

def test_a_sweep_returns_only_its_tasks_and_the_store_counts_the_rest(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        five = run_sweep(demo_task, {}, make_tasks("s", "b", [1], [10, 20], 5), store,
                         progress=False)
        three = run_sweep(demo_task, {}, make_tasks("s", "b", [1], [10, 20], 3), store,
                          progress=False)
        assert len(five) == 10 and len(three) == 6
        assert {r["replicate"] for r in three} == {0, 1, 2}
        assert three == [r for r in five if r["replicate"] < 3]
        assert store.counts() == {"s": 10}
        assert len(store.rows("s", keys=[r["key"] for r in three])) == 6


# -- workers ---------------------------------------------------------------------------------

def test_the_pool_is_capped_at_tasks_and_cores_and_blas_has_one_thread(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        rows = run_sweep(pid_task, {}, make_tasks("s", "b", [1], [10, 20], 1), store,
                         workers=1000, progress=False)
    assert len({r["pid"] for r in rows}) <= min(2, os.cpu_count() or 1)
    assert all(r["threads"] == [1] for r in rows), rows
    with ResultStore(tmp_path / "one.db") as store:
        rows = run_sweep(pid_task, {}, make_tasks("s", "b", [1], [10], 1), store, progress=False)
    assert rows[0]["threads"] == [1] and rows[0]["pid"] == os.getpid()


_CHILD = """
import sys
from identify.numeric.store import ResultStore
from identify.numeric.sweep import demo_task, make_tasks, run_sweep
with ResultStore(sys.argv[1]) as store:
    run_sweep(demo_task, {"sleep": 1.0}, make_tasks("s", "b", [1], list(range(10, 40)), 1),
              store, workers=2, progress=False)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_workers_die_with_their_parent(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, str(tmp_path / "r.db")], env=env)
    try:
        parent = psutil.Process(child.pid)
        deadline = time.monotonic() + 60
        workers: list[psutil.Process] = []
        while len([p for p in workers if "multiprocessing" in " ".join(p.cmdline())]) < 2:
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
            workers = parent.children(recursive=True)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        _, alive = psutil.wait_procs(workers, timeout=10)
    finally:
        child.kill()
        child.wait()
    for p in alive:
        p.kill()
    assert not alive, [p.cmdline() for p in alive]


def watchdog_task(config: dict, task: Task) -> dict:
    """Reports the worker's pid and whether its parent watchdog thread runs."""
    import threading

    from identify.numeric.watchdog import THREAD_NAME

    return {"status": "converged", "pid": os.getpid(), "ppid": os.getppid(),
            "watchdog": any(t.name == THREAD_NAME for t in threading.enumerate())}


def test_local_dask_workers_run_the_parent_watchdog(tmp_path):
    pytest.importorskip("dask.distributed")
    with ResultStore(tmp_path / "r.db") as store:
        rows = run_sweep(watchdog_task, {}, make_tasks("s", "b", [1], [10, 20, 30, 40], 1), store,
                         workers=2, scheduler="local", progress=False)
    assert all(r["pid"] != os.getpid() and r["ppid"] == os.getpid() for r in rows), rows
    assert all(r["watchdog"] for r in rows), rows


_ORPHAN = """
import subprocess, sys, time
grandchild = subprocess.Popen([sys.executable, "-c",
    "import os, sys, time; from identify.numeric.watchdog import watch_parent; "
    "watch_parent(int(sys.argv[1])); print(os.getpid(), flush=True); time.sleep(120)",
    str(__import__("os").getpid())], stdout=subprocess.PIPE, text=True)
print(grandchild.stdout.readline().strip(), flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_the_watchdog_alone_ends_a_process_whose_parent_was_killed():
    # no pipe, no pool, no Dask: only identify.numeric.watchdog can end the grandchild
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen([sys.executable, "-c", _ORPHAN], env=env, text=True,
                             stdout=subprocess.PIPE)
    try:
        grandchild = psutil.Process(int(child.stdout.readline()))
        assert grandchild.is_running() and grandchild.ppid() == child.pid
        time.sleep(1.0)  # the watchdog does not fire while the parent lives
        assert grandchild.is_running() and grandchild.status() != psutil.STATUS_ZOMBIE
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        start = time.monotonic()
        gone, alive = psutil.wait_procs([grandchild], timeout=15)
        elapsed = time.monotonic() - start
    finally:
        child.kill()
        child.wait()
    for p in alive:
        p.kill()
    # it ends on its own (a few polls; 2.4 s seen at load 3 on 2 cores, so no tight bound:
    # speed belongs to benchmarks, the fact here is that the orphan does not live on)
    assert not alive, f"the orphan still ran {elapsed:.1f} s after its parent was killed"
    assert gone[0].returncode in (1, None)  # None: reaped by init before psutil saw it


_DASK_CHILD = """
import sys
from identify.numeric.store import ResultStore
from identify.numeric.sweep import demo_task, make_tasks, run_sweep
with ResultStore(sys.argv[1]) as store:
    run_sweep(demo_task, {"sleep": 1.0}, make_tasks("s", "b", [1], list(range(10, 60)), 1),
              store, workers=2, scheduler="local", progress=False)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_local_dask_workers_die_with_their_parent(tmp_path):
    pytest.importorskip("dask.distributed")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen([sys.executable, "-c", _DASK_CHILD, str(tmp_path / "r.db")],
                             env=env)
    try:
        parent = psutil.Process(child.pid)
        deadline = time.monotonic() + 90
        workers: list[psutil.Process] = []
        while len(workers) < 2:  # both workers started
            assert child.poll() is None and time.monotonic() < deadline
            time.sleep(0.2)
            workers = [p for p in parent.children(recursive=True)
                       if "spawn_main" in " ".join(p.cmdline())]
        time.sleep(3.0)  # ... and running tasks (1 s each)
        assert child.poll() is None
        processes = parent.children(recursive=True)  # the resource tracker too
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        start = time.monotonic()
        _, alive = psutil.wait_procs(processes, timeout=10)
        elapsed = time.monotonic() - start
    finally:
        child.kill()
        child.wait()
    for p in alive:
        p.kill()
    assert not alive, (f"{elapsed:.1f} s after the parent's SIGKILL",
                       [p.cmdline() for p in alive])


# -- stores ----------------------------------------------------------------------------------

def _unchanged(path: Path, **kw) -> str:
    folder = path.parent
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    with pytest.raises(StoreError) as info:
        ResultStore(path, **kw)
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before
    assert "\n" not in str(info.value)
    return str(info.value)


@pytest.mark.parametrize("sql", [
    "CREATE VIEW v AS SELECT 1 AS one",
    "CREATE TABLE t (x); CREATE INDEX i ON t (x)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT); CREATE VIEW w AS SELECT 1",
])
def test_foreign_sqlite_objects_are_refused(tmp_path, sql):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.close()
    assert "not an identify results store" in _unchanged(path)
    assert not Path(f"{path}-journal").exists() and not Path(f"{path}-wal").exists()


def test_a_store_with_an_extra_object_is_refused(tmp_path):
    path = tmp_path / "r.db"
    ResultStore(path).close()
    con = sqlite3.connect(path)
    con.execute("CREATE TRIGGER t AFTER INSERT ON meta BEGIN SELECT 1; END")
    con.commit()
    con.close()
    assert "also holds trigger t" in _unchanged(path)


def test_devices_are_refused(tmp_path):
    assert "not a regular file" in _unchanged(Path("/dev/null"))
    assert not Path("/dev/null-journal").exists()


def test_read_only_stores(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert "is empty" in _unchanged(empty, readonly=True)
    missing = tmp_path / "missing.sqlite"
    assert "does not exist" in _unchanged(missing, readonly=True)
    assert not missing.exists()
    path = tmp_path / "r.db"
    with ResultStore(path) as store:
        store.register_sweep("s", {})
        store.add("s", _row(1, 10, 0))
    before = path.read_bytes()
    with ResultStore(path, readonly=True) as store:
        assert store.rows("s") == [_row(1, 10, 0)]
        with pytest.raises(StoreError, match="read-only"):
            store.add("s", _row(1, 10, 1))
        with pytest.raises(StoreError, match="read-only"):
            store.register_sweep("t", {})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.sqlite", "r.db"]


@pytest.mark.parametrize(("row", "words"), [
    ({}, "no text 'key'"),
    ({"key": "k", "n": 10, "replicate": 0, "status": "converged"}, "'fitted_k'"),
    ({**_row(1, 10, 0), "fitted_k": "2"}, "'fitted_k'"),
    ({**_row(1, 10, 0), "n": True}, "'n'"),
    ({**_row(1, 10, 0), "replicate": -1}, "'replicate'"),
    ({**_row(1, 10, 0), "status": "fine"}, "status"),
    ({**_row(1, 10, 0), "losses": "abc"}, "'losses'"),
    ({**_row(1, 10, 0), "losses": {"D1": "abc"}}, "'losses'"),
    ({**_row(1, 10, 0), "block_errors": [1]}, "'block_errors'"),
    ({**_row(1, 10, 0), "theta": "abc"}, "'theta'"),
    ({**_row(1, 10, 0), "iterations": 2.5}, "'iterations'"),
])
def test_rows_of_the_wrong_shape_are_a_damaged_store(tmp_path, row, words):
    assert words in check_row(row)
    path = tmp_path / "r.db"
    with ResultStore(path) as store:
        store.register_sweep("s", {})
        store.add("s", _row(1, 10, 0))
        with pytest.raises(StoreError, match="added to sweep"):
            store.add("s", {"key": "x", **row} if "key" not in row else row)
    con = sqlite3.connect(path)
    con.execute("UPDATE results SET row = ?", (json.dumps(row),))
    con.commit()
    con.close()
    text = _unchanged(path)
    assert "damaged" in text and words in text


def test_huge_integers_in_a_row_are_a_store_error_not_an_overflow(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        store.register_sweep("s", {})
        store.add("s", _row(1, 10**30, 0))
        assert store.rows("s")[0]["n"] == 10**30


def test_a_real_scheduler_passes_the_probe(tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  protocol="tcp://", dashboard_address=None) as cluster:
        address = cluster.scheduler_address
        check_scheduler(address, probe=True)
        check_scheduler(address.removeprefix("tcp://"), probe=True)
        with ResultStore(tmp_path / "r.db") as store:
            rows = run_sweep(demo_task, {}, make_tasks("s", "b", [1], [10, 20], 1), store,
                             scheduler=address, progress=False)
    assert [r["status"] for r in rows] == ["converged", "converged"]

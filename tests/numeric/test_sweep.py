"""run_sweep: same rows whatever the workers, resume without recomputing, failures as rows."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import identify
from identify.errors import ConfigError
from identify.numeric.store import ResultStore, StoreError
from identify.numeric.sweep import (
    TIMING_FIELDS,
    Task,
    demo_task,
    make_tasks,
    parse_sizes,
    run_sweep,
    task_seed,
)

ROOT = Path(identify.__file__).resolve().parents[1]


def _plain(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in TIMING_FIELDS} for r in rows]


def _sweep(path: Path, config: dict, tasks: list[Task], **kw) -> list[dict]:
    with ResultStore(path) as store:
        return run_sweep(demo_task, config, tasks, store, progress=False, **kw)


def env_task(config: dict, task: Task) -> dict:
    """Reports the BLAS thread variables the worker process started with."""
    names = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    return {"status": "converged", "env": [os.environ.get(n) for n in names], "pid": os.getpid()}


# -- tasks and seeds -------------------------------------------------------------------------


def test_task_seed_is_fixed_63_bit_and_order_free():
    assert task_seed("b", 1, 100, 0) == 8277637626926978883  # never changes across versions
    seeds = {task_seed("b", k, n, r) for k in (1, 2) for n in (10, 100) for r in range(5)}
    assert len(seeds) == 20 and all(0 <= s < 2**63 for s in seeds)
    assert task_seed("c", 1, 100, 0) != task_seed("b", 1, 100, 0)
    a = make_tasks("s", "b", [1, 2, 3], [100, 10], 3)
    b = make_tasks("s", "b", [3, 1, 2, 2], [10, 100], 3)
    assert a == b
    assert {t.key: t.seed for t in a} == {t.key: task_seed("b", t.fitted_k, t.n, t.replicate)
                                          for t in b}
    assert a[0].key == "k=1|n=10|rep=0"


@pytest.mark.parametrize("args", [
    ("", "b", [1], [10], 1), ("s", "b", [0], [10], 1), ("s", "b", [1], [], 1),
    ("s", "b", [1], [10], 0), ("s", "b", [1], [10.5], 1), ("s", "b", [True], [10], 1),
])
def test_make_tasks_refuses_bad_input(args):
    with pytest.raises(ConfigError):
        make_tasks(*args)


def test_parse_sizes():
    sizes = parse_sizes("1e2:2e4:10")
    assert len(sizes) == 10 and sizes[0] == 100 and sizes[-1] == 20000
    assert sizes == sorted(set(sizes))
    assert parse_sizes("100,200,500") == [100, 200, 500]
    assert parse_sizes(" 500, 1e2 ,100") == [100, 500]
    assert parse_sizes("1000") == [1000]
    assert parse_sizes("10:40:3, 5") == [5, 10, 20, 40]
    assert parse_sizes("1:3:10") == [1, 2, 3]  # rounded, unique


@pytest.mark.parametrize("text", ["", " ", "abc", "100,,200", "0", "-5", "1.5", "inf", "nan",
                                  "1e2:2e4", "1e2:2e4:1", "1e2:2e4:2.5", "2e4:1e2:10",
                                  "1:2:3:4", "0.2:10:5", "100;200"])
def test_parse_sizes_errors_are_one_line(text):
    with pytest.raises(ConfigError) as info:
        parse_sizes(text)
    assert "\n" not in str(info.value)


# -- rows ------------------------------------------------------------------------------------


def test_failed_and_raising_tasks_become_rows(tmp_path):
    tasks = make_tasks("s", "b", [1], [10, 20, 30], 2)
    rows = _sweep(tmp_path / "r.db", {"fail_n": 20, "raise_n": 30}, tasks)
    by_n = {n: [r for r in rows if r["n"] == n] for n in (10, 20, 30)}
    assert all(r["status"] == "converged" and r["loss"] > 0 for r in by_n[10])
    assert all(r["status"] == "failed" for r in by_n[20] + by_n[30])
    assert by_n[30][0]["reason"] == "ValueError: demo task asked to raise at n=30"
    for row, task in zip(rows, tasks, strict=True):
        assert {k: row[k] for k in ("key", "sweep", "fitted_k", "n", "replicate", "seed")} == {
            "key": task.key, "sweep": "s", "fitted_k": 1, "n": task.n,
            "replicate": task.replicate, "seed": task.seed}
        assert row["seconds"] >= 0


@pytest.mark.parametrize(("returned", "reason"), [
    (None, "TypeError: the task function returned NoneType, not a dict"),
    ({"status": "done"}, "ValueError: row status 'done' is not one of"),
    ({"loss": 1.0}, "ValueError: row status None"),
    ({"status": "converged", "n": 5}, "ValueError: the task function returned n=5"),
    ({"status": "converged", "x": object()}, "TypeError: object is not JSON-serialisable"),
])
def test_bad_task_results_become_failed_rows(tmp_path, returned, reason):
    with ResultStore(tmp_path / "r.db") as store:
        rows = run_sweep(lambda c, t: returned, {}, make_tasks("s", "b", [1], [10], 1), store,
                         progress=False)
    assert rows[0]["status"] == "failed" and rows[0]["reason"].startswith(reason)


def test_resume_never_computes_a_task_twice(tmp_path):
    calls: list[str] = []

    def counting(config, task):
        calls.append(task.key)
        return demo_task(config, task)

    tasks = make_tasks("s", "b", [1, 2], [10, 100], 2)
    with ResultStore(tmp_path / "r.db") as store:
        run_sweep(counting, {"fail_n": 100}, tasks[:3], store, progress=False)
        assert calls == [t.key for t in tasks[:3]]
        rows = run_sweep(counting, {"fail_n": 100}, tasks[::-1], store, progress=False)
        assert sorted(calls) == sorted(t.key for t in tasks)
        again = run_sweep(counting, {"fail_n": 100}, tasks, store, progress=False)
        assert len(calls) == len(tasks) and again == rows
        with pytest.raises(StoreError, match="different config"):
            run_sweep(counting, {"fail_n": 10}, tasks, store, progress=False)
    fresh = _sweep(tmp_path / "fresh.db", {"fail_n": 100}, tasks)
    assert _plain(rows) == _plain(fresh)


def test_keyboard_interrupt_keeps_stored_rows_and_reraises(tmp_path):
    def interrupted(config, task):
        if task.replicate == 2:
            raise KeyboardInterrupt
        return demo_task(config, task)

    tasks = make_tasks("s", "b", [1], [10], 4)
    with ResultStore(tmp_path / "r.db") as store:
        with pytest.raises(KeyboardInterrupt):
            run_sweep(interrupted, {}, tasks, store, progress=False)
        assert store.done_keys("s") == {tasks[0].key, tasks[1].key}
        rows = run_sweep(demo_task, {}, tasks, store, progress=False)
    assert _plain(rows) == _plain(_sweep(tmp_path / "fresh.db", {}, tasks))


def test_progress_bar_on_stderr(tmp_path, capsys):
    with ResultStore(tmp_path / "r.db") as store:
        run_sweep(demo_task, {"fail_n": 10}, make_tasks("s", "b", [1], [10, 20], 2), store)
    err = capsys.readouterr().err
    assert "4/4" in err and "failed=2" in err


def test_bad_arguments(tmp_path):
    tasks = make_tasks("s", "b", [1], [10], 1)
    with ResultStore(tmp_path / "r.db") as store:
        for kw in ({"workers": 0}, {"workers": 1.5}, {"scheduler": ""}):
            with pytest.raises(ConfigError):
                run_sweep(demo_task, {}, tasks, store, **kw)
        with pytest.raises(ConfigError, match="one sweep"):
            run_sweep(demo_task, {}, tasks + make_tasks("t", "b", [1], [10], 1), store)
        with pytest.raises(ConfigError, match="same key"):
            run_sweep(demo_task, {}, tasks + tasks, store)
        assert run_sweep(demo_task, {}, [], store) == []


# -- parallel --------------------------------------------------------------------------------


def test_two_workers_give_the_same_rows_as_one(tmp_path):
    tasks = make_tasks("s", "b", [1, 2], [10, 100, 1000], 2)
    config = {"fail_n": 100, "raise_n": 1000}
    one = _sweep(tmp_path / "one.db", config, tasks)
    shuffled = random.Random(1).sample(tasks, len(tasks))
    two = _sweep(tmp_path / "two.db", config, shuffled, workers=2)
    assert _plain(one) == _plain(two)


def test_pool_workers_have_one_blas_thread_and_env_is_restored(tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("MKL_NUM_THREADS", raising=False)
    before = dict(os.environ)
    with ResultStore(tmp_path / "r.db") as store:
        rows = run_sweep(env_task, {}, make_tasks("s", "b", [1], [10], 3), store, workers=2,
                         progress=False)
    assert all(r["status"] == "converged" and r["env"] == ["1", "1", "1"] for r in rows), rows
    assert all(r["pid"] != os.getpid() for r in rows)
    assert dict(os.environ) == before


def test_keyboard_interrupt_with_a_pool_cancels_pending_tasks(tmp_path, monkeypatch):
    tasks = make_tasks("s", "b", [1], [10, 20], 4)
    config = {"sleep": 0.1}
    with ResultStore(tmp_path / "r.db") as store:
        add, calls = store.add, []

        def add_then_interrupt(sweep, row):
            calls.append(row["key"])
            if len(calls) == 2:
                raise KeyboardInterrupt
            add(sweep, row)

        monkeypatch.setattr(store, "add", add_then_interrupt)
        with pytest.raises(KeyboardInterrupt):
            run_sweep(demo_task, config, tasks, store, workers=2, progress=False)
        monkeypatch.undo()
        # the first row was stored, the second raised before its add: exactly one is done
        assert len(store.done_keys("s")) == 1 < len(tasks)
        rows = run_sweep(demo_task, config, tasks, store, progress=False)
    assert _plain(rows) == _plain(_sweep(tmp_path / "fresh.db", config, tasks, workers=2))


# CPython 3.11's process pool raises InvalidStateError in its own management thread when a
# task cannot be pickled; the error that matters (one ConfigError) is what this test asserts
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_unpicklable_task_function_is_one_config_error(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        with pytest.raises(ConfigError, match="could not run in a worker"):
            run_sweep(lambda c, t: {"status": "converged"}, {},
                      make_tasks("s", "b", [1], [10], 2), store, workers=2, progress=False)
        assert store.rows("s") == []


def test_missing_dask_is_a_config_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with ResultStore(tmp_path / "r.db") as store:
        with pytest.raises(ConfigError, match=r"pip install 'identify\[dask\]'"):
            run_sweep(demo_task, {}, make_tasks("s", "b", [1], [10], 1), store,
                      scheduler="local", workers=2, progress=False)


def test_dask_local_cluster_gives_the_same_rows(tmp_path):
    import distributed  # noqa: F401  (the test extras install dask[distributed])
    tasks = make_tasks("s", "b", [1, 2], [10, 100, 1000], 1)
    config = {"raise_n": 1000}
    one = _sweep(tmp_path / "one.db", config, tasks)
    dask = _sweep(tmp_path / "dask.db", config, tasks, workers=2, scheduler="local")
    assert _plain(one) == _plain(dask)


def test_bad_dask_address_is_one_config_error(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        with pytest.raises(ConfigError, match="cannot connect to the Dask scheduler 'nonsense'"):
            run_sweep(demo_task, {}, make_tasks("s", "b", [1], [10], 1), store,
                      scheduler="nonsense", progress=False)


# -- SIGKILL ---------------------------------------------------------------------------------

_CHILD = """
import json, sys
from identify.numeric.store import ResultStore
from identify.numeric.sweep import demo_task, make_tasks, run_sweep
config, path = json.loads(sys.argv[1]), sys.argv[2]
with ResultStore(path) as store:
    run_sweep(demo_task, config, make_tasks("s", "b", [1, 2], [10, 100, 1000, 10000, 99999], 2),
              store, progress=False)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_then_resume_gives_the_uninterrupted_rows(tmp_path):
    config = {"sleep": 0.2, "fail_n": 100}
    tasks = make_tasks("s", "b", [1, 2], [10, 100, 1000, 10000, 99999], 2)
    killed = tmp_path / "killed.db"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    child = subprocess.Popen([sys.executable, "-c", _CHILD, json.dumps(config), str(killed)],
                             env=env, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        stored = 0
        while stored < 3:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child stored no rows in 30 s"
            time.sleep(0.05)
            if killed.exists():
                with ResultStore(killed) as store:
                    stored = len(store.done_keys("s"))
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    with ResultStore(killed) as store:
        assert 3 <= len(store.done_keys("s")) < len(tasks)
    resumed = _sweep(killed, config, tasks)
    reference = _sweep(tmp_path / "reference.db", config, tasks, workers=2)
    assert len(resumed) == len(tasks)
    assert _plain(resumed) == _plain(reference)

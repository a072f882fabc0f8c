"""Hostile and careless command lines (issue 10, section 3): each ends in one `error:` line and
exit code 2, before any work, and creates nothing; or in a correct answer."""

from __future__ import annotations

import json
import socket
import sqlite3
import threading
from pathlib import Path

import pytest

from identify.cli import main


def _snapshot(folder: Path) -> dict[str, bytes | None]:
    return {str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
            for p in sorted(folder.rglob("*"))}


def _one_error(args: list[str], capsys) -> str:
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


@pytest.fixture
def here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("keep me")
    (tmp_path / "empty.sqlite").write_bytes(b"")
    con = sqlite3.connect(tmp_path / "view.sqlite")
    con.execute("CREATE VIEW v AS SELECT 1 AS one")
    con.commit()
    con.close()
    return tmp_path


_SIM = ["simulate", "tanh(a*x+b)", "--no-progress", "--store", "s.sqlite"]
CASES = [  # (arguments, a fragment of the error line)
    # reserved names
    (["check", "tanh(alpha*x+b)", "--gate", "hierarchical"], "alpha"),
    (["simulate", "alpha*x+b", "--gate", "hierarchical", "--store", "s.sqlite"], "alpha"),
    (["check", "tanh(beta1*x1+a*x2+b)", "--dim", "2"], "beta1"),
    (["check", "a1*x1+a2*x2+a_1", "--dim", "2"], "a1 and a_1"),
    (["check", "W1*x1+W2*x2", "--dim", "2", "--gate", "laplace"], "block W"),
    (["rates", "tanh(gamma*x+b)", "--gate", "hierarchical"], "gamma"),
    # ranges, before any work
    (["check", "a*x", "--dim", "100000000"], "1 to 8"),
    (["check", "a*x", "--dim", "1000000"], "1 to 8"),
    (["catalog", "--dim", "99"], "1 to 8"),
    ([*_SIM, "--n", "1e9"], "larger than the limit"),
    ([*_SIM, "--n", "1e30"], "larger than the limit"),
    ([*_SIM, "--n", "1e308:1.7e308:2"], "larger than the limit"),
    ([*_SIM, "--n", "10:1e5:1e9"], "the limit is 100"),
    ([*_SIM, "--n", "nan"], "not a positive number"),
    ([*_SIM, "--reps", "1e11"], "replicates must be an integer"),
    ([*_SIM, "--reps", "100000000000"], "replicates must be an integer"),
    ([*_SIM, "--fitted-k", "1e20"], "integers like 2,3"),
    ([*_SIM, "--fitted-k", "100000000000000000000"], "at most 12"),
    ([*_SIM, "--fitted-k", "2.7"], "integers like 2,3"),
    ([*_SIM, "--restarts", "1e8"], "restarts must be an integer"),
    ([*_SIM, "--restarts", "100000000"], "restarts must be an integer"),
    ([*_SIM, "--workers", "0"], "workers must be an integer"),
    (["demo", "--workers", "0"], "workers must be an integer"),
    # schedulers
    ([*_SIM, "--scheduler", "tls://127.0.0.1:8786"], "tls:// is not supported"),
    ([*_SIM, "--scheduler", "ucx://127.0.0.1:8786"], "ucx:// is not supported"),
    ([*_SIM, "--scheduler", "http://127.0.0.1:80"], "http:// is not supported"),
    ([*_SIM, "--scheduler", "tcp://nohost"], "not 'local'"),
    # the model is fixed by a preset
    (["simulate", "--preset", "softmax-gaussian-linear", "--gate", "laplace"], "--gate"),
    (["simulate", "--preset", "softmax-gaussian-linear", "--dim", "2"], "--dim"),
    (["simulate", "a*x+b", "--preset", "softmax-gaussian-linear"], "a formula"),
    (["check", "a*x+b", "--gate", "top-k:k=2,k=3"], "given twice"),
    # formulas
    (["check", "a\0*x"], "U+0000"),
    (["check", "1e-999999*a+x"], "too small"),
    # outputs: nothing may be created
    (["check", "tanh(a*x+b)", "--graph", "no-such-dir/g.json"], "does not exist"),
    (["check", "tanh(a*x+b)", "--plot", "no-such-dir/g.svg"], "does not exist"),
    (["check", "tanh(a*x+b)", "--graph", "adir"], "is a directory"),
    ([*_SIM, "--plot", "adir"], "is a directory"),
    ([*_SIM, "--plot", "no-such-dir/p"], "does not exist"),
    (["report", "tanh(a*x+b)", "--out", "afile"], "not a folder"),
    (["report", "tanh(a*x+b)", "--store", "no-such.sqlite", "--out", "rep"], "no results store"),
    (["report", "tanh(a*x+b)", "--store", "empty.sqlite", "--out", "rep"], "is empty"),
    (["report", "tanh(a*x+b)", "--store", "view.sqlite", "--out", "rep"], "view v"),
    (["report", "tanh(a*x+b)", "--store", "/dev/null", "--out", "rep"], "not a regular file"),
    (["report", "tanh(a*x+b)", "--store", "adir", "--out", "rep"], "is a directory"),
    # stores that are not identify stores are never written
    ([*_SIM[:-1], "view.sqlite"], "view v"),
    ([*_SIM[:-1], "/dev/null"], "not a regular file"),
    ([*_SIM[:-1], "afile"], "not an SQLite file"),
    ([*_SIM[:-1], "empty.sqlite"], "is empty (0 bytes), not an identify results store"),
]


@pytest.mark.parametrize(("args", "fragment"), CASES)
def test_hostile_command_is_one_error_and_creates_nothing(here, capsys, args, fragment):
    before = _snapshot(here)
    err = _one_error(args, capsys)
    assert fragment in err, err
    assert _snapshot(here) == before
    assert not Path("/dev/null-journal").exists()


def test_report_into_an_unwritable_place_is_one_error(here, capsys):
    assert "cannot write the report" in _one_error(
        ["report", "tanh(a*x+b)", "--out", "/proc/rep"], capsys)


def test_a_silent_listener_is_not_a_scheduler(here, capsys):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    try:
        err = _one_error([*_SIM, "--n", "100,200", "--reps", "1", "--fitted-k", "2",
                          "--scheduler", f"tcp://127.0.0.1:{port}"], capsys)
    finally:
        server.close()
    assert "not a Dask scheduler" in err


def test_an_http_server_is_not_a_scheduler(here, capsys):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]

    def answer():  # a proxy that answers at once, with bytes Dask would read as a length
        conn, _ = server.accept()
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        conn.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        err = _one_error([*_SIM, "--n", "100,200", "--reps", "1", "--fitted-k", "2",
                          "--scheduler", f"127.0.0.1:{port}"], capsys)
    finally:
        server.close()
    assert "did not answer like a Dask scheduler" in err


def _simulate_json(store: Path, reps: int, capsys) -> dict:
    assert main(["simulate", "tanh(a*x+b)", "--fitted-k", "2", "--n", "100,200,400", "--reps",
                 str(reps), "--store", str(store), "--no-progress", "--workers", "1",
                 "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_a_reused_store_analyses_exactly_the_requested_tasks(tmp_path, capsys):
    reused, fresh = tmp_path / "reused.sqlite", tmp_path / "fresh.sqlite"
    five = _simulate_json(reused, 5, capsys)
    assert five["tasks"] == 15 and five["store_other_tasks"] == 0
    three = _simulate_json(reused, 3, capsys)
    assert three["tasks"] == 9 and three["store_other_tasks"] == 6
    alone = _simulate_json(fresh, 3, capsys)
    assert alone["tasks"] == 9 and alone["store_other_tasks"] == 0
    assert three["slopes"] == alone["slopes"]
    assert main(["simulate", "tanh(a*x+b)", "--fitted-k", "2", "--n", "100,200,400", "--reps",
                 "3", "--store", str(reused), "--no-progress", "--workers", "1"]) == 0
    assert "also holds 6 other task(s)" in capsys.readouterr().out


@pytest.mark.parametrize(("row", "words"), [
    ("{}", "no text 'key'"),
    ('{"key": "k=2|n=100|rep=0", "n": 100, "replicate": 0, "status": "converged"}',
     "no integer 'fitted_k'"),
    ('{"key": "k=2|n=100|rep=0", "fitted_k": 2, "n": 100, "replicate": 0, '
     '"status": "converged", "losses": "abc"}', "'losses'"),
])
def test_damaged_rows_are_damaged_store_errors(tmp_path, capsys, row, words):
    store = tmp_path / "s.sqlite"
    assert main(["simulate", "tanh(a*x+b)", "--fitted-k", "2", "--n", "100,200", "--reps", "1",
                 "--store", str(store), "--no-progress", "--workers", "1"]) == 0
    capsys.readouterr()
    con = sqlite3.connect(store)
    con.execute("UPDATE results SET row = ? WHERE key = 'k=2|n=100|rep=0'", (row,))
    con.commit()
    con.close()
    before = store.read_bytes()
    for args in (["simulate", "tanh(a*x+b)", "--fitted-k", "2", "--n", "100,200", "--reps",
                  "1", "--store", str(store), "--no-progress", "--workers", "1"],
                 ["report", "tanh(a*x+b)", "--store", str(store), "--out",
                  str(tmp_path / "rep")]):
        err = _one_error(args, capsys)
        assert "damaged" in err and words in err, err
    assert store.read_bytes() == before
    assert not (tmp_path / "rep").exists()

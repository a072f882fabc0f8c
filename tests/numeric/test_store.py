"""ResultStore: round trip, resume keys, and refusing files that are not stores, untouched."""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from identify.errors import ConfigError
from identify.numeric.store import ResultStore, StoreError, check_store_path


def _row(k: int, n: int, rep: int, **extra: object) -> dict:
    return {"key": f"k={k}|n={n}|rep={rep}", "fitted_k": k, "n": n, "replicate": rep,
            "status": "converged", **extra}


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


def _refused(path: Path, *words: str) -> StoreError:
    """Opening ``path`` raises a one-line StoreError naming it; nothing in its folder changes."""
    before = _snapshot(path.parent)
    with pytest.raises(StoreError) as info:
        ResultStore(path)
    assert _snapshot(path.parent) == before
    text = str(info.value)
    assert "\n" not in text and str(path) in text
    for word in words:
        assert word in text
    return info.value


def test_round_trip(tmp_path):
    path = tmp_path / "r.db"
    rows = [_row(2, 1000, 0), _row(1, 200, 1, loss=0.5), _row(1, 200, 0),
            _row(1, 1000, 0, loss=np.float64(0.25), iters=np.int64(7))]
    with ResultStore(path) as store:
        store.register_sweep("s", {"ks": [1, 2], "c": 1.0})
        for row in rows:
            store.add("s", row)
    with ResultStore(path) as store:
        assert store.sweeps() == {"s": {"ks": [1, 2], "c": 1.0}}
        got = store.rows("s")
    assert [r["key"] for r in got] == ["k=1|n=200|rep=0", "k=1|n=200|rep=1",
                                       "k=1|n=1000|rep=0", "k=2|n=1000|rep=0"]
    assert got[2]["loss"] == 0.25 and got[2]["iters"] == 7
    assert got[1] == rows[1]


def test_done_keys_and_insert_or_ignore(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        store.register_sweep("a", {})
        store.register_sweep("b", {})
        assert store.done_keys("a") == set()
        store.add("a", _row(1, 10, 0, loss=1.0))
        store.add("a", _row(1, 10, 0, loss=2.0))  # already stored: ignored
        store.add("b", _row(1, 20, 0))
        assert store.done_keys("a") == {"k=1|n=10|rep=0"}
        assert store.done_keys("b") == {"k=1|n=20|rep=0"}
        assert store.rows("a")[0]["loss"] == 1.0
        assert store.rows("missing") == []


def test_register_sweep_is_idempotent_but_refuses_another_config(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        store.register_sweep("s", {"a": 1, "b": [1, 2]})
        store.register_sweep("s", {"b": (1, 2), "a": 1})  # same config, other order/types
        with pytest.raises(StoreError, match="different config.*differs in: a"):
            store.register_sweep("s", {"a": 2, "b": [1, 2]})
        assert store.sweeps() == {"s": {"a": 1, "b": [1, 2]}}


def test_bad_rows_and_configs_are_store_errors(tmp_path):
    with ResultStore(tmp_path / "r.db") as store:
        with pytest.raises(StoreError, match="'key'"):
            store.add("s", {"status": "converged"})
        with pytest.raises(StoreError, match="not JSON-serialisable"):
            store.add("s", {"key": "x", "obj": object()})
        with pytest.raises(StoreError, match="not JSON-serialisable"):
            store.register_sweep("s", {"f": print})
        assert store.rows("s") == []
    with pytest.raises(StoreError, match="closed"):
        store.rows("s")
    assert issubclass(StoreError, ConfigError)


@pytest.mark.parametrize("content", [os.urandom(4096), b"n,loss\n100,0.1\n", b"x"])
def test_non_sqlite_file_is_refused_and_unchanged(tmp_path, content):
    path = tmp_path / "results.db"
    path.write_bytes(content)
    _refused(path, "not an identify results store", "not an SQLite file")


def test_corrupt_sqlite_body_is_refused_and_unchanged(tmp_path):
    path = tmp_path / "r.db"
    with ResultStore(path) as store:
        store.register_sweep("s", {})
    data = bytearray(path.read_bytes())
    data[100:] = os.urandom(len(data) - 100)
    path.write_bytes(bytes(data))
    _refused(path)


@pytest.mark.parametrize("wal", [False, True])
def test_foreign_sqlite_file_is_refused_and_unchanged(tmp_path, wal):
    path = tmp_path / "other.sqlite"
    con = sqlite3.connect(path)
    if wal:
        con.execute("PRAGMA journal_mode=WAL")
    con.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT)")
    con.execute("INSERT INTO users (name) VALUES ('ada')")
    con.commit()
    con.close()
    _refused(path, "is not an identify results store (no meta table)")


def _tamper(path: Path, sql: str) -> None:
    with ResultStore(path) as store:
        store.register_sweep("s", {"c": 1})
        store.add("s", _row(1, 10, 0))
    con = sqlite3.connect(path)
    con.execute(sql)
    con.commit()
    con.close()


@pytest.mark.parametrize(("sql", "words"), [
    ("UPDATE meta SET value = '2' WHERE key = 'version'", ("newer", "version 2")),
    ("UPDATE meta SET value = 'zz' WHERE key = 'version'", ("unreadable store version",)),
    ("UPDATE meta SET value = 'other' WHERE key = 'format'", ("not an identify results store",)),
    ("UPDATE results SET row = '{not json'", ("damaged", "k=1|n=10|rep=0", "not a JSON object")),
    ("UPDATE sweeps SET config = '[1, 2'", ("damaged", "config of sweep 's'")),
    ("DROP TABLE results", ("no results table",)),
])
def test_tampered_store_is_refused_and_unchanged(tmp_path, sql, words):
    path = tmp_path / "r.db"
    _tamper(path, sql)
    _refused(path, *words)


def test_missing_directory_and_directory_paths(tmp_path):
    missing = tmp_path / "nope" / "r.db"
    with pytest.raises(StoreError, match="does not exist"):
        ResultStore(missing)
    assert not missing.parent.exists()
    with pytest.raises(StoreError, match="is a directory"):
        ResultStore(tmp_path)


def test_a_new_file_becomes_a_store(tmp_path):
    path = tmp_path / "new.db"
    with ResultStore(path) as store:
        store.register_sweep("s", {})
        store.add("s", _row(1, 10, 0))
    with ResultStore(path) as store:
        assert store.done_keys("s") == {"k=1|n=10|rep=0"}
    con = sqlite3.connect(path)
    assert dict(con.execute("SELECT key, value FROM meta")) == {
        "format": "identify-results", "version": "1"}
    con.close()


def test_existing_empty_files_are_not_stores_and_stay_untouched(tmp_path):
    # never write into a file that is not already an identify store, except a new one
    empty = tmp_path / "empty.db"
    empty.touch()
    bare = tmp_path / "bare.sqlite"  # SQLite, no tables: another program's, maybe
    sqlite3.connect(bare).execute("PRAGMA user_version = 7").connection.close()
    for path, words in ((empty, "is empty (0 bytes)"), (bare, "empty SQLite database")):
        before = sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir())
        for call in (lambda p: ResultStore(p), check_store_path,
                     lambda p: ResultStore(p, readonly=True)):
            with pytest.raises(StoreError, match=re.escape(words)) as info:
                call(path)
            assert "\n" not in str(info.value) and "left unchanged" in str(info.value)
        assert sorted((p.name, p.read_bytes()) for p in tmp_path.iterdir()) == before
    check_store_path(tmp_path / "new.db")  # a path to create: fine, and nothing created
    assert not (tmp_path / "new.db").exists()


def test_a_new_store_appears_with_its_schema_or_not_at_all(tmp_path, monkeypatch):
    """A rerun after a kill must find either no file or a store: never a file without tables
    (which it would refuse). The path appears only by an atomic link of a finished store."""
    import identify.numeric.store as store_module

    path = tmp_path / "new.sqlite"
    seen = {}
    real_link = os.link

    def link(src, dst):
        assert not path.exists()  # nothing at the path before the link
        conn = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
        try:
            seen["tables"] = {r[0] for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
        real_link(src, dst)

    monkeypatch.setattr(store_module.os, "link", link)
    ResultStore(path).close()
    assert "meta" in seen["tables"] and len(seen["tables"]) >= 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.sqlite"]  # no leftovers
    ResultStore(path).close()  # and it reopens as a store

    def killed(src, dst):  # the process dies before the link: no file at the path
        raise KeyboardInterrupt

    monkeypatch.setattr(store_module.os, "link", killed)
    with pytest.raises(KeyboardInterrupt):
        ResultStore(tmp_path / "other.sqlite")
    assert not (tmp_path / "other.sqlite").exists()

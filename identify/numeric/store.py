"""SQLite store of finished simulation tasks: one row per task, committed as it finishes.

A store is one SQLite file (stdlib :mod:`sqlite3`, WAL journal) with three tables::

    meta(key TEXT PRIMARY KEY, value TEXT)      -- format = 'identify-results', version = 1
    sweeps(sweep TEXT PRIMARY KEY, config TEXT)  -- each sweep's configuration, as JSON
    results(sweep, key, fitted_k, n, replicate, status, row)  -- row: the task's JSON row

Every :meth:`ResultStore.add` is its own committed transaction, so a row survives the
process being killed right after the call returns; rerunning a sweep skips the keys
already stored. A file that is not such a store is refused with one line and is never
written to: it is inspected through a read-only connection first. The only file written
without being a store already is one this module creates itself (exclusively: a path that
appears meanwhile is refused); an existing empty file (0 bytes, or an SQLite database with
no tables) is not a store and is refused like any other file.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Collection
from pathlib import Path
from typing import Any, NoReturn

from identify.errors import ConfigError

__all__ = ["StoreError", "ResultStore", "FORMAT", "VERSION", "STATUSES", "to_json", "check_row",
           "check_store_path"]

FORMAT = "identify-results"
VERSION = 1
_SQLITE_MAGIC = b"SQLite format 3\x00"
STATUSES = frozenset({"converged", "local", "budget", "failed"})
_HINT = "the file was left unchanged; pass the path of a new file or of a store written by identify"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    "CREATE TABLE IF NOT EXISTS sweeps (sweep TEXT PRIMARY KEY, config TEXT)",
    "CREATE TABLE IF NOT EXISTS results (sweep TEXT, key TEXT, fitted_k INT, n INT,"
    " replicate INT, status TEXT, row TEXT, PRIMARY KEY (sweep, key))",
)


class StoreError(ConfigError):
    """A results store cannot be opened, read or written (not a store, damaged, newer)."""


def _json_default(obj: Any) -> Any:
    """Turn numpy scalars and arrays (anything with ``tolist``/``item``) into Python values."""
    for name in ("tolist", "item"):
        method = getattr(obj, name, None)
        if callable(method):
            return method()
    raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")


def to_json(obj: Any) -> str:
    """Serialise ``obj`` to canonical JSON (sorted keys; numpy scalars become numbers).

    Raises
    ------
    TypeError, ValueError
        If ``obj`` holds something JSON cannot represent.
    """
    return json.dumps(obj, sort_keys=True, default=_json_default)


def _int_or_none(value: Any) -> int | None:
    try:
        value = None if value is None else int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return value if value is None or abs(value) < 2**63 else None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_row(row: Any) -> str | None:
    """What is wrong with a stored task row, or None if it has the shape every row has.

    Every row has ``key`` (text), ``fitted_k`` and ``n`` (integers >= 1), ``replicate``
    (integer >= 0) and ``status`` (converged, budget or failed); when present, ``losses``,
    ``block_errors``, ``expert_errors`` and ``regression`` map names to numbers (or null),
    ``iterations`` is an integer and ``theta`` a list of numbers.
    """
    if not isinstance(row, dict):
        return "is not a JSON object"
    if not isinstance(row.get("key"), str):
        return "has no text 'key'"
    for name, low in (("fitted_k", 1), ("n", 1), ("replicate", 0)):
        if not _is_int(row.get(name)) or row[name] < low:
            return f"has no integer {name!r} >= {low} (got {row.get(name)!r:.40})"
    if row.get("status") not in STATUSES:
        return f"has the status {row.get('status')!r:.40}, not one of {', '.join(sorted(STATUSES))}"
    for name in ("losses", "block_errors", "expert_errors", "regression"):
        value = row.get(name, {})
        if not isinstance(value, dict) or not all(
                v is None or _is_number(v) for v in value.values()):
            return f"has {name!r} that is not an object of numbers (got {value!r:.40})"
    if "iterations" in row and not _is_int(row["iterations"]):
        return f"has 'iterations' that is not an integer (got {row['iterations']!r:.40})"
    theta = row.get("theta", [])
    if not isinstance(theta, list) or not all(_is_number(v) for v in theta):
        return f"has 'theta' that is not a list of numbers (got {theta!r:.40})"
    return None


def check_store_path(path: str | os.PathLike[str]) -> None:
    """Refuse, before any work, a path :class:`ResultStore` would refuse to write: an
    existing file that is not an identify store (see there), a directory, a device, a path
    whose directory does not exist. Creates nothing, writes nothing.

    Raises
    ------
    StoreError
        As :class:`ResultStore` would, with the same message.
    """
    p = Path(path)
    if p.is_file():
        ResultStore(p, readonly=True).close()  # the same checks, through a read-only connection
    elif p.exists() or not p.parent.is_dir():
        ResultStore(p).close()  # refused (a directory, a device, no such folder) before creating


class ResultStore:
    """SQLite store of finished tasks; one row per task, committed as it finishes.

    Parameters
    ----------
    path:
        The store file. A missing file is created as a new store (its directory must
        exist); an existing file, even an empty one (0 bytes, or SQLite without tables),
        must be a store written by this version of identify or an older one.
    readonly:
        Only read: the file must already be a store, and it is opened read-only (nothing is
        created, nothing is written, no journal appears beside it).

    Raises
    ------
    StoreError
        If the file is not a regular file, is empty, is not SQLite, is SQLite holding
        nothing or anything but the tables of a results store (another program's tables,
        views, indexes), was
        written by a newer version, holds rows that are not task rows (see
        :func:`check_row`), or cannot be created. The file is not modified in any of these
        cases.
    """

    def __init__(self, path: str | os.PathLike[str], *, readonly: bool = False):
        self.path = Path(path)
        self.readonly = readonly
        self._conn: sqlite3.Connection | None = None
        if self.path.is_dir():
            self._fail("is a directory, not a results store file")
        if self.path.exists() and not self.path.is_file():
            self._fail("is not a regular file (a device, FIFO or socket), not a results store")
        if readonly and not self.path.exists():
            self._fail("does not exist", hint="pass the store written by `identify simulate`")
        if not self.path.parent.is_dir():
            self._fail(f"cannot be created: the directory {self.path.parent} does not exist",
                       hint=None)
        fresh = not self.path.exists()
        if not fresh:
            self._check_existing()
        if readonly:
            try:
                self._conn = sqlite3.connect(self._ro_uri(), uri=True, timeout=30.0)
            except sqlite3.Error as exc:
                self._fail(f"cannot be read as SQLite ({exc})")
            return
        if fresh:
            self._create()
        try:
            self._conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            self.close()
            self._fail(f"cannot be opened for writing ({exc})", hint=None)

    # -- opening -----------------------------------------------------------------------

    def _fail(self, problem: str, hint: str | None = _HINT) -> NoReturn:
        raise StoreError(f"{self.path} {problem}", hint=hint)

    def _check_existing(self) -> None:
        """Refuse an existing file that is not an identify store (nothing is written)."""
        if self.path.stat().st_size == 0:
            self._fail("is empty (0 bytes), not an identify results store; identify writes "
                       "only into its own stores and into new files it creates")
        if not self._validate():
            self._fail("is an empty SQLite database (no tables), not an identify results "
                       "store; identify writes only into its own stores and into new files "
                       "it creates")

    def _create(self) -> None:
        """Create the (missing) store with its schema, atomically: the schema is written to a
        hidden file beside it, which is then linked to the path exclusively (a file that
        appeared meanwhile is not ours). A process killed at any moment leaves either no
        store or a complete empty one, never a file without tables (which a rerun would
        refuse as not an identify store)."""
        tmp = self.path.with_name(f".{self.path.name}.creating-{os.getpid()}")
        try:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                leftover.unlink(missing_ok=True)
            conn = sqlite3.connect(tmp, isolation_level=None, timeout=30.0)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("BEGIN IMMEDIATE")
                for statement in _SCHEMA:
                    conn.execute(statement)
                conn.executemany("INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)",
                                 [("format", FORMAT), ("version", str(VERSION))])
                conn.execute("COMMIT")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()
            os.link(tmp, self.path)  # atomic, and fails if the path exists
        except FileExistsError:
            self._fail("appeared while the store was being created; it was not created "
                       "by identify")
        except (OSError, sqlite3.Error) as exc:
            self._fail(f"cannot be created ({getattr(exc, 'strerror', None) or exc})", hint=None)
        finally:
            for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
                try:
                    leftover.unlink(missing_ok=True)
                except OSError:
                    pass

    def _validate(self) -> bool:
        """Check an existing file through a read-only connection; True if it is a store.

        False means an empty SQLite database (no tables): not a store either.
        """
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(20)
        except OSError as exc:
            self._fail(f"cannot be read ({exc.strerror or exc})")
        if head[:16] != _SQLITE_MAGIC:
            self._fail("is not an identify results store (not an SQLite file)")
        try:
            ro = sqlite3.connect(self._ro_uri(head), uri=True, timeout=30.0)
        except sqlite3.Error as exc:
            self._fail(f"cannot be read as SQLite ({exc})")
        try:
            return self._check_contents(ro)
        except sqlite3.Error as exc:
            self._fail(f"is not a readable identify results store ({exc})")
        finally:
            ro.close()

    def _ro_uri(self, head: bytes | None = None) -> str:
        """A read-only URI of the file; ``immutable`` when it is in WAL mode and closed by
        everyone (all content is in the main file; a plain read-only connection would leave
        -wal/-shm files behind)."""
        if head is None:
            with open(self.path, "rb") as fh:
                head = fh.read(20)
        uri = self.path.resolve().as_uri() + "?mode=ro"
        if head[18:20] == b"\x02\x02" and not Path(f"{self.path}-wal").exists():
            uri += "&immutable=1"
        return uri

    def _check_contents(self, ro: sqlite3.Connection) -> bool:
        objects = ro.execute("SELECT type, name FROM sqlite_master").fetchall()
        if not objects:
            return False
        tables = {name for kind, name in objects if kind == "table"}
        if "meta" not in tables:
            held = ", ".join(sorted(f"{kind} {name}" for kind, name in objects)[:3])
            self._fail(f"is not an identify results store (no meta table): it holds {held}")
        own = {("table", "meta"), ("table", "sweeps"), ("table", "results")}
        foreign = sorted(f"{kind} {name}" for kind, name in objects
                         if (kind, name) not in own and not name.startswith("sqlite_autoindex_"))
        if foreign:
            self._fail(f"is not an identify results store (it also holds {foreign[0]})")
        meta = dict(ro.execute("SELECT key, value FROM meta").fetchall())
        if meta.get("format") != FORMAT:
            self._fail(f"is not an identify results store (meta format is {meta.get('format')!r})")
        version = _int_or_none(meta.get("version"))
        if version is None or version < 1:
            self._fail(f"has an unreadable store version {meta.get('version')!r}")
        if version > VERSION:
            self._fail(
                f"was written by a newer identify (store version {version}; "
                f"this one reads up to {VERSION})",
                hint="upgrade identify to read it; the file was left unchanged",
            )
        for table in ("sweeps", "results"):
            if table not in tables:
                self._fail(f"is a damaged identify results store (no {table} table)")
        for sweep, text in ro.execute("SELECT sweep, config FROM sweeps"):
            self._parse(text, f"the config of sweep {sweep!r}")
        for sweep, key, text in ro.execute("SELECT sweep, key, row FROM results"):
            self._parse_row(text, key, sweep)
        return True

    def _parse(self, text: Any, what: str) -> Any:
        try:
            value = json.loads(text)
        except (TypeError, ValueError, RecursionError):
            value = None
        if not isinstance(value, dict):
            self._fail(f"is a damaged identify results store ({what} is not a JSON object)")
        return value

    def _parse_row(self, text: Any, key: Any, sweep: Any) -> dict:
        row = self._parse(text, f"row {key!r} of sweep {sweep!r}")
        problem = check_row(row)
        if problem is None and row["key"] != key:
            problem = f"has the key {row['key']!r:.40}"
        if problem:
            self._fail(f"is a damaged identify results store (row {key!r} of sweep {sweep!r} "
                       f"{problem})")
        return row

    # -- API ---------------------------------------------------------------------------

    @property
    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StoreError(f"{self.path}: the results store is closed")
        return self._conn

    def _writable(self) -> None:
        if self.readonly:
            raise StoreError(f"{self.path} was opened read-only")

    def register_sweep(self, sweep: str, config: dict) -> None:
        """Record a sweep's configuration (idempotent).

        Raises
        ------
        StoreError
            If the sweep is already stored with a different configuration, or the
            configuration is not JSON-serialisable.
        """
        try:
            text = to_json(config)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"the config of sweep {sweep!r} is not JSON-serialisable ({exc})",
                             where="config") from None
        wanted = json.loads(text)
        self._writable()
        old = self._db.execute("SELECT config FROM sweeps WHERE sweep = ?", (sweep,)).fetchone()
        if old is None:
            self._write("INSERT OR IGNORE INTO sweeps (sweep, config) VALUES (?, ?)", (sweep, text))
            old = self._db.execute("SELECT config FROM sweeps WHERE sweep = ?", (sweep,)).fetchone()
        stored = self._parse(old[0], f"the config of sweep {sweep!r}")
        if stored != wanted:
            changed = sorted(k for k in set(stored) | set(wanted) if stored.get(k) != wanted.get(k))
            raise StoreError(
                f"{self.path} already holds sweep {sweep!r} with a different config "
                f"(differs in: {', '.join(changed)})",
                hint="use a new sweep id or a new store to run a changed configuration",
            )

    def sweeps(self) -> dict[str, dict]:
        """Every stored sweep id mapped to its configuration."""
        cur = self._db.execute("SELECT sweep, config FROM sweeps ORDER BY sweep")
        return {s: self._parse(c, f"the config of sweep {s!r}") for s, c in cur}

    def counts(self) -> dict[str, int]:
        """Every stored sweep id mapped to its number of stored rows."""
        cur = self._db.execute("SELECT sweep, COUNT(*) FROM results GROUP BY sweep")
        return {**dict.fromkeys(self.sweeps(), 0), **dict(cur.fetchall())}

    def done_keys(self, sweep: str) -> set[str]:
        """The keys of the tasks of ``sweep`` already stored (finished or failed)."""
        cur = self._db.execute("SELECT key FROM results WHERE sweep = ?", (sweep,))
        return {r[0] for r in cur}

    def add(self, sweep: str, row: dict) -> None:
        """Store one task's row and commit at once; a key already stored is left as it was.

        Raises
        ------
        StoreError
            If the row has no ``"key"``, is not JSON-serialisable, or cannot be written.
        """
        if not isinstance(row, dict) or "key" not in row:
            raise StoreError(f"a row added to sweep {sweep!r} must be a dict with a 'key'")
        self._writable()
        try:
            text = to_json(row)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"row {row['key']!r} is not JSON-serialisable ({exc})") from None
        problem = check_row(json.loads(text))
        if problem:
            raise StoreError(f"row {row['key']!r} added to sweep {sweep!r} {problem}")
        values = (sweep, str(row["key"]), _int_or_none(row.get("fitted_k")),
                  _int_or_none(row.get("n")), _int_or_none(row.get("replicate")),
                  row.get("status"), text)
        self._write("INSERT OR IGNORE INTO results (sweep, key, fitted_k, n, replicate, status,"
                    " row) VALUES (?, ?, ?, ?, ?, ?, ?)", values)

    def rows(self, sweep: str, keys: Collection[str] | None = None) -> list[dict]:
        """The stored rows of ``sweep`` (only those whose key is in ``keys``, if given),
        ordered by (fitted_k, n, replicate).

        Raises
        ------
        StoreError
            If a row is not a task row (``damaged store``; see :func:`check_row`).
        """
        cur = self._db.execute(
            "SELECT key, row FROM results WHERE sweep = ? ORDER BY fitted_k, n, replicate, key",
            (sweep,))
        wanted = None if keys is None else set(keys)
        return [self._parse_row(text, key, sweep) for key, text in cur
                if wanted is None or key in wanted]

    def _write(self, sql: str, params: tuple) -> None:
        try:
            self._db.execute(sql, params)  # autocommit: one committed transaction
        except (sqlite3.Error, OverflowError) as exc:
            raise StoreError(f"{self.path} cannot be written ({exc})") from None

    def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ResultStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else "open"
        return f"ResultStore({str(self.path)!r}, {state})"

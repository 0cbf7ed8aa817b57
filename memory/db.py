"""Opening the SQLite file: extension loading, pragmas and readable errors.

Many Python builds (pyenv, python.org) ship a `sqlite3` that cannot load
extensions, so sqlite-vec would never load. sqlite-utils prefers `pysqlite3`
when it is installed, and the Linux wheel of tacit depends on it; everything
here goes through that choice so there is one connection path.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils
import sqlite_vec
from sqlite_utils.utils import sqlite3

BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    """Base class for every store failure that a user should read."""


class CorruptDatabase(StoreError):
    pass


class DatabaseLocked(StoreError):
    pass


class NotFound(StoreError):
    pass


class ExtensionUnavailable(StoreError):
    pass


def _load_vec(conn: sqlite3.Connection) -> None:
    if not hasattr(conn, "enable_load_extension"):
        raise ExtensionUnavailable(
            "This Python's sqlite3 cannot load extensions, so sqlite-vec cannot load. "
            "Fix: pip install pysqlite3-binary (Linux), or use a Python built with "
            "--enable-loadable-sqlite-extensions (e.g. Homebrew's)."
        )
    try:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
    except (AttributeError, sqlite3.OperationalError) as exc:
        raise ExtensionUnavailable(
            f"Could not load sqlite-vec ({exc}). Fix: pip install pysqlite3-binary "
            "(Linux) or a Python whose sqlite3 allows loadable extensions."
        ) from exc
    finally:
        with contextlib.suppress(Exception):
            conn.enable_load_extension(False)


def connect(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> sqlite_utils.Database:
    """Open (creating if needed) the database with WAL, secure delete and sqlite-vec."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with translate_errors(path):
        conn = sqlite3.connect(
            str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            _load_vec(conn)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # Reading the header first turns "not a database" into a clear error
            # before any pragma tries to write.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            # Forget must really forget: freed pages are zeroed, not left readable.
            conn.execute("PRAGMA secure_delete = ON")
            # Scratch tables (the FTS5 tokenizer in fulltext.py) stay in memory.
            conn.execute("PRAGMA temp_store = MEMORY")
        except BaseException:
            conn.close()
            raise
    return sqlite_utils.Database(conn)


@contextlib.contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Turn sqlite3's terse errors into ones that say what happened and what to do."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseLocked(
                f"The database at {path} is locked by another process ({exc}). "
                "Nothing was changed; retry, or stop the other writer (`tacit stop`)."
            ) from exc
        raise
    except sqlite3.DatabaseError as exc:
        if isinstance(exc, sqlite3.IntegrityError):
            raise
        raise CorruptDatabase(
            f"The database at {path} is unreadable ({exc}). Nothing was changed. "
            f"Move it aside (mv '{path}' '{path}.bad') and restore from an export "
            "with `tacit import FILE`."
        ) from exc


class Connection:
    """One SQLite connection that several threads may share, behind one re-entrant lock.

    Threads share a connection and take turns (an `RLock` around every
    operation), rather than each opening its own: a store is used by a few
    threads at most, and one lock makes a multi-statement operation atomic
    with respect to the other threads of this process. Other processes are
    kept apart by SQLite itself: every write transaction starts with
    `BEGIN IMMEDIATE`, so it takes the write lock (waiting up to the busy
    timeout) before it reads. A deferred `BEGIN` would read first and then
    fail at once with "database is locked" when another process had
    committed in between, whatever the busy timeout.
    """

    def __init__(self, path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path)
        self.db = connect(self.path, busy_timeout_ms)
        self.busy_timeout_ms = busy_timeout_ms
        self.lock = threading.RLock()
        self._depth = 0  # nesting of transaction()/snapshot() blocks
        self._writing = False

    def close(self) -> None:
        with self.lock:
            self.db.close()

    @property
    def idle(self) -> bool:
        """True outside every transaction and snapshot of this connection."""
        return self._depth == 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction: BEGIN IMMEDIATE, or a savepoint when nested.

        A failure inside rolls back this block only (the whole transaction at
        the outermost level) and is re-raised.
        """
        with self.lock, translate_errors(self.path):
            if self._depth and not self._writing:
                raise StoreError("internal error: a write inside a read snapshot")
            name = f"sp{self._depth}"
            self.db.execute("BEGIN IMMEDIATE" if not self._depth else f"SAVEPOINT {name}")
            outer = not self._depth
            self._depth += 1
            self._writing = True
            try:
                yield
            except BaseException:
                self._end(outer, name, commit=False)
                raise
            else:
                self._end(outer, name, commit=True)

    def _end(self, outer: bool, name: str, commit: bool) -> None:
        try:
            if not outer:
                if not commit:
                    self.db.execute(f"ROLLBACK TO {name}")
                self.db.execute(f"RELEASE {name}")
            elif commit:
                try:
                    self.db.execute("COMMIT")
                except BaseException:
                    self.db.execute("ROLLBACK")
                    raise
            else:
                self.db.execute("ROLLBACK")
        finally:
            self._depth -= 1
            self._writing = self._writing and bool(self._depth)

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that must agree with each other: one deferred read transaction.

        Inside a transaction or another snapshot it adds nothing.
        """
        with self.lock, translate_errors(self.path):
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self.db.execute("BEGIN")
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
                self.db.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.lock, translate_errors(self.path):
            return list(self.db.query(sql, params))

    def tuples(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self.lock, translate_errors(self.path):
            return self.db.execute(sql, params).fetchall()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run a statement that returns no rows (the cursor carries `lastrowid`)."""
        with self.lock, translate_errors(self.path):
            return self.db.execute(sql, params)

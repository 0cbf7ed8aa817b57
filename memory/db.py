"""Opening the SQLite file: extension loading, pragmas and readable errors.

Many Python builds (pyenv, python.org) ship a `sqlite3` that cannot load
extensions, so sqlite-vec would never load. sqlite-utils prefers `pysqlite3`
when it is installed, and the Linux wheel of tacit depends on it; everything
here goes through that choice so there is one connection path.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

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

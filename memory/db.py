"""Opening the SQLite file: encryption, extension loading, pragmas and readable errors.

Many Python builds (pyenv, python.org) ship a `sqlite3` that cannot load
extensions, so sqlite-vec would never load. tacit opens every file through
SQLCipher (`sqlcipher3`), which loads extensions and is plain SQLite when
no key is given; where it is missing, through `pysqlite3` as sqlite-utils
picks it (crypto.py). Everything goes through `open_database`, so there is
one connection path.

New files are encrypted unless the caller asks otherwise; an existing file
is opened as what its header says it is (crypto.file_state), so plaintext
stores keep working until `tacit encrypt` migrates them.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import sqlite_utils
import sqlite_vec

from . import crypto
from .crypto import Encryption
from .errors import CorruptDatabase, DatabaseLocked, ExtensionUnavailable, NotFound, StoreError
from .keys import ENV_VAR, Key, KeySource

__all__ = [
    "BUSY_TIMEOUT_MS", "Connection", "CorruptDatabase", "DatabaseLocked", "Encryption",
    "ExtensionUnavailable", "NotFound", "StoreError", "connect", "load_vec", "open_database", "translate_errors",
]

BUSY_TIMEOUT_MS = 5000
WAL_LIMIT_BYTES = 8 << 20
_OPERATIONAL = crypto.errors("OperationalError")
_DATABASE = crypto.errors("DatabaseError")
_INTEGRITY = crypto.errors("IntegrityError")


class CipherUnavailable(StoreError):
    """An encrypted file, and no SQLCipher to open it with."""


def load_vec(conn: Any) -> None:
    """Load sqlite-vec into a connection, or say clearly why this Python cannot."""
    if not hasattr(conn, "enable_load_extension"):
        raise ExtensionUnavailable(
            "This Python's sqlite3 cannot load extensions, so sqlite-vec cannot load. "
            "Fix: pip install sqlcipher3-binary or pysqlite3-binary (Linux), or use a Python built with "
            "--enable-loadable-sqlite-extensions (e.g. Homebrew's)."
        )
    try:
        conn.enable_load_extension(True)
        sqlite_vec.load(conn)
    except (AttributeError, *_OPERATIONAL) as exc:
        raise ExtensionUnavailable(
            f"Could not load sqlite-vec ({exc}). Fix: pip install sqlcipher3-binary or pysqlite3-binary "
            "(Linux) or a Python whose sqlite3 allows loadable extensions."
        ) from exc
    finally:
        with contextlib.suppress(Exception):
            conn.enable_load_extension(False)


def _key_for(path: Path, state: crypto.FileState, keys: KeySource | None, encrypt: bool) -> Key | None:
    """The key to open `path` with, or None for plaintext; raises when an encrypted file has none."""
    if state == "plain" or (state == "new" and (not encrypt or crypto.CIPHER is None)):
        return None
    keys = keys or KeySource()
    if state == "new":
        return keys.find_or_create()
    if crypto.CIPHER is None:
        raise CipherUnavailable(
            f"The database at {path} is encrypted (or damaged), and {crypto.CIPHER_MISSING}. "
            "Nothing was changed."
        )
    key = keys.find()
    if key is None:
        raise CorruptDatabase(
            f"The database at {path} is unreadable without its key: it is not a plain SQLite file, so it is "
            f"encrypted (or damaged), and no key was found. Looked in: {keys.searched()}. Nothing was changed. "
            f"Set {ENV_VAR} or restore the key where it was kept; if the file is damaged instead, move it aside "
            f"(mv '{path}' '{path}.bad') and restore from an export with `tacit import FILE`."
        )
    return key


def _why_plain(state: crypto.FileState) -> str:
    if crypto.CIPHER is None:
        return crypto.CIPHER_MISSING
    if state == "plain":
        return "this store was created before encryption; run `tacit encrypt` to encrypt it"
    return "created unencrypted on request"


def open_database(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS, keys: KeySource | None = None,
                  encrypt: bool = True) -> tuple[sqlite_utils.Database, Encryption]:
    """Open (creating if needed) the database with its key, WAL, secure delete and sqlite-vec.

    `encrypt` decides only what a new file becomes. A wrong or missing key
    raises before anything is written, so the file is never "repaired".
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = crypto.file_state(path)
    key = _key_for(path, state, keys, encrypt)
    with translate_errors(path, key):
        conn = crypto.driver().connect(
            str(path), timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
        )
        try:
            if key is not None:
                conn.execute("PRAGMA cipher_log_level = NONE")  # a wrong key is our error to report, not stderr noise
                conn.execute(f'PRAGMA key = "{key.sqlcipher}"')
            load_vec(conn)
            conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            # Reading the header first turns "not a database" (or a wrong key)
            # into a clear error before any pragma tries to write.
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            if state == "new":
                # Set before the first table: retention can then hand freed pages back to the disk.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # The -wal file shrinks back to this after a checkpoint instead of keeping its largest size.
            conn.execute(f"PRAGMA journal_size_limit = {WAL_LIMIT_BYTES}")
            conn.execute("PRAGMA foreign_keys = ON")
            # Forget must really forget: freed pages are zeroed, not left readable.
            conn.execute("PRAGMA secure_delete = ON")
            # Scratch tables (the FTS5 tokenizer in fulltext.py) and sorts stay in memory, never in temp files.
            conn.execute("PRAGMA temp_store = MEMORY")
        except BaseException:
            conn.close()
            raise
    crypto.finish_shred(path)  # what an interrupted `tacit encrypt` left behind (one stat when nothing)
    encryption = Encryption(True, key.where, key.kind) if key else Encryption(False, why_not=_why_plain(state))
    return sqlite_utils.Database(conn), encryption


def connect(path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS, keys: KeySource | None = None,
            encrypt: bool = True) -> sqlite_utils.Database:
    """open_database without the encryption report (tests and tools that want a raw connection)."""
    return open_database(path, busy_timeout_ms, keys, encrypt)[0]


@contextlib.contextmanager
def translate_errors(path: Path, key: Key | None = None) -> Iterator[None]:
    """Turn sqlite3's terse errors into ones that say what happened and what to do."""
    try:
        yield
    except _OPERATIONAL as exc:
        if "locked" in str(exc) or "busy" in str(exc):
            raise DatabaseLocked(
                f"The database at {path} is locked by another process ({exc}). "
                "Nothing was changed; retry, or stop the other writer (`tacit stop`)."
            ) from exc
        raise
    except _DATABASE as exc:
        if isinstance(exc, _INTEGRITY):
            raise
        if key is not None and "not a database" in str(exc):
            raise CorruptDatabase(
                f"The database at {path} is unreadable with the key from {key.where}: either that key is "
                f"not this file's key, or the file is damaged ({exc}). Nothing was changed. Restore the "
                f"right key; if the file is damaged instead, move it aside (mv '{path}' '{path}.bad') "
                "and restore from an export with `tacit import FILE`."
            ) from exc
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

    def __init__(self, path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS, keys: KeySource | None = None,
                 encrypt: bool = True):
        self.path = Path(path)
        self.db, self.encryption = open_database(self.path, busy_timeout_ms, keys, encrypt)
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

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a statement that returns no rows (the cursor carries `lastrowid`)."""
        with self.lock, translate_errors(self.path):
            return self.db.execute(sql, params)

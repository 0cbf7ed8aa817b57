"""`tacit encrypt`: turn a plaintext store into an encrypted one, with a working store at every instant.

The steps, each named for `on_step` (the CLI prints them, and a test holds
the process at one of them to kill it there):

- `locked`: the plaintext file leaves WAL mode (which fails while any
  other process has it open, so nothing can write behind our back) and is
  locked exclusively until the end.
- `exported`: `sqlcipher_export` copies it into `NAME.encrypting`,
  with the same schema version and incremental auto-vacuum.
- `verified`: the row count of every table (shadow tables of FTS5 and
  vec0 included) is the same in both, read through a fresh attach.
- `linked`: a second name, `NAME.plaintext`, keeps the old file reachable.
- `swapped`: `NAME.encrypting` is renamed over `NAME` (atomic).
- `shredded`: the old file is overwritten with zeros and unlinked.

A kill before `swapped` leaves the plaintext store in place (a leftover
`.encrypting` file is deleted by the next run; a `.plaintext` second name
of the live file is just removed); after it, the encrypted one, and the
plaintext copy is shredded by the next open (crypto.finish_shred).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import crypto
from .db import CipherUnavailable, DatabaseLocked, StoreError, load_vec, translate_errors
from .keys import KeySource


@dataclass(frozen=True)
class EncryptReport:
    already: bool  # it was encrypted before this run
    key_where: str
    tables: dict[str, int]  # rows per table, as verified in both files
    finished_interrupted: bool  # a previous run's plaintext leftover was shredded


def encrypt_store(path: Path, keys: KeySource | None = None,
                  on_step: Callable[[str], Any] = lambda step: None) -> EncryptReport:
    path = Path(path)
    keys = keys or KeySource()
    tmp, old = crypto.migration_paths(path)
    state = crypto.file_state(path)
    if state == "new":
        raise StoreError(f"There is no database at {path} to encrypt (a new one is encrypted from the start).")
    if crypto.CIPHER is None:
        raise CipherUnavailable(f"Cannot encrypt {path}: {crypto.CIPHER_MISSING}. Nothing was changed.")
    if state == "encrypted":
        key = keys.find()
        return EncryptReport(True, key.where if key else "(no key found)", {}, crypto.finish_shred(path))
    leftover = crypto.finish_shred(path)  # a second name left by a run killed before its swap
    if old.exists():
        raise StoreError(f"{old} is in the way and is not a copy of {path}; move it elsewhere. Nothing was changed.")
    key = keys.find_or_create()
    with translate_errors(path):
        conn = crypto.CIPHER.connect(str(path), isolation_level=None, timeout=5)
    try:
        with translate_errors(path):
            load_vec(conn)  # vec0 tables need their module to be counted
            _lock(conn, path)
            on_step("locked")
            try:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()  # a partial copy from a killed run
                _export(conn, tmp, key.sqlcipher)
                on_step("exported")
                tables = _verify(conn, tmp, key.sqlcipher)
                on_step("verified")
            except BaseException:
                with contextlib.suppress(OSError):
                    tmp.unlink()
                raise
        old.hardlink_to(path)
        crypto.fsync_dir(path.parent)
        on_step("linked")
        tmp.replace(path)
        crypto.fsync_dir(path.parent)
        on_step("swapped")
    finally:
        conn.close()
    crypto.finish_shred(path)
    on_step("shredded")
    return EncryptReport(False, key.where, tables, leftover)


def _lock(conn: Any, path: Path) -> None:
    """Leave WAL mode (proves no other process has the file open) and hold an exclusive lock."""
    try:
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    except crypto.errors("OperationalError") as exc:
        raise DatabaseLocked(
            f"Another process has the database at {path} open ({exc}). Nothing was changed. "
            "Stop tacit's daemon and other tacit commands, then run `tacit encrypt` again."
        ) from exc
    if mode != "delete":
        raise DatabaseLocked(f"Could not take the database at {path} out of WAL mode (it is {mode}); "
                             "stop the other tacit processes and retry. Nothing was changed.")
    conn.execute("PRAGMA locking_mode = EXCLUSIVE")
    conn.execute("BEGIN EXCLUSIVE")
    conn.execute("COMMIT")  # the exclusive lock stays until the connection closes


def _export(conn: Any, tmp: Path, key: str) -> None:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    conn.execute("ATTACH DATABASE ? AS enc KEY ?", [str(tmp), key])
    try:
        conn.execute("PRAGMA enc.auto_vacuum = INCREMENTAL")  # before any table: see retention.py
        conn.execute("BEGIN")
        conn.execute("SELECT sqlcipher_export('enc')")
        conn.execute(f"PRAGMA enc.user_version = {int(version)}")
        conn.execute("COMMIT")
    finally:
        conn.execute("DETACH DATABASE enc")


def _verify(conn: Any, tmp: Path, key: str) -> dict[str, int]:
    """Row counts of every table in both files; raises (and the plaintext stays) on any difference."""
    conn.execute("ATTACH DATABASE ? AS enc KEY ?", [str(tmp), key])  # a fresh attach reads the new schema
    try:
        names = [r[0] for r in conn.execute(
            "SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name")]
        new_names = [r[0] for r in conn.execute(
            "SELECT name FROM enc.sqlite_master WHERE type = 'table' ORDER BY name")]
        if names != new_names:
            raise StoreError(f"The encrypted copy has tables {new_names}, not {names}; the plaintext "
                             "store was kept as it is.")
        counts = {}
        for name in names:
            before = conn.execute(f'SELECT count(*) FROM main."{name}"').fetchone()[0]
            after = conn.execute(f'SELECT count(*) FROM enc."{name}"').fetchone()[0]
            if before != after:
                raise StoreError(f"The encrypted copy of table {name} has {after} rows, not {before}; "
                                 "the plaintext store was kept as it is.")
            counts[name] = before
    finally:
        conn.execute("DETACH DATABASE enc")
    return counts

"""Encryption at rest: which SQLite driver, whether a file is encrypted, and how it is.

SQLCipher (the `sqlcipher3-binary` wheel) encrypts every page of the
database and of its WAL; temp storage stays in memory (db.py sets
`temp_store = MEMORY`), so no plaintext page reaches the disk. With no key,
SQLCipher is plain SQLite, so it serves plaintext files too and one driver
opens both. Where sqlcipher3 cannot be imported, `pysqlite3` (through
sqlite-utils) opens plaintext files and tacit says loudly that it runs
unencrypted (`tacit doctor`, daemon start).

A file is plaintext when it starts with SQLite's header; an SQLCipher file
starts with its random salt instead, so the header alone tells them apart
without a key (a damaged file looks encrypted: the key check then fails
with an error that names both possibilities).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Literal

from sqlite_utils.utils import sqlite3 as plain_driver

SQLITE_HEADER = b"SQLite format 3\x00"
FileState = Literal["new", "plain", "encrypted"]

try:
    from sqlcipher3 import dbapi2 as _cipher

    CIPHER: ModuleType | None = _cipher
    CIPHER_MISSING = ""
except ImportError as _exc:  # another platform, or no wheel
    CIPHER = None
    CIPHER_MISSING = f"sqlcipher3 cannot be imported ({_exc}); fix: pip install sqlcipher3-binary"

DRIVERS: tuple[ModuleType, ...] = (plain_driver,) + ((CIPHER,) if CIPHER else ())


def driver() -> ModuleType:
    """SQLCipher when it is there (for plaintext files too), else pysqlite3/sqlite3."""
    return CIPHER or plain_driver


def errors(name: str) -> tuple[type[Exception], ...]:
    """One DB-API exception class (`OperationalError`, ...) from every driver in use."""
    return tuple(getattr(d, name) for d in DRIVERS)


def file_state(path: Path) -> FileState:
    """'new' (absent or empty), 'plain' (SQLite header) or 'encrypted' (anything else)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return "new"
    if not head:
        return "new"
    return "plain" if head == SQLITE_HEADER else "encrypted"


@dataclass(frozen=True)
class Encryption:
    """How an open store is protected, for `tacit doctor` and the daemon's start-up line."""

    encrypted: bool
    key_where: str | None = None  # where the key came from
    key_kind: str | None = None  # "env", "keyring" or "file" (keys.Key.kind)
    why_not: str = ""  # when not encrypted: why, and what to do about it

    def describe(self) -> str:
        if self.encrypted:
            return f"encrypted (SQLCipher), key from {self.key_where}"
        return f"NOT encrypted: {self.why_not}"


def secure_unlink(path: Path, chunk: int = 1 << 20) -> None:
    """Overwrite a file with zeros, flush it to disk, then unlink it.

    This removes the bytes from the file's blocks on ordinary file systems;
    SSD wear levelling and copy-on-write file systems (btrfs, APFS
    snapshots) may still keep old copies, which only full-disk encryption
    covers.
    """
    fd = os.open(path, os.O_WRONLY)
    try:
        size = os.fstat(fd).st_size
        zeros = bytes(chunk)
        done = 0
        while done < size:
            done += os.write(fd, zeros[: min(chunk, size - done)])
        os.fsync(fd)
    finally:
        os.close(fd)
    os.unlink(path)


def fsync_dir(folder: Path) -> None:
    """Make a rename or unlink in `folder` durable (no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def migration_paths(path: Path) -> tuple[Path, Path]:
    """(the new encrypted file being written, the plaintext kept by a hard link until shredded)."""
    return path.with_name(path.name + ".encrypting"), path.with_name(path.name + ".plaintext")


def finish_shred(path: Path) -> bool:
    """Shred the plaintext left by an interrupted `tacit encrypt`; True if there was one.

    While the old file is only a second name of `path` (the swap had not
    happened yet), removing that name is all there is to do: shredding it
    would destroy the live store.
    """
    _, old = migration_paths(path)
    try:
        if old.samefile(path):
            old.unlink()
            return True
    except FileNotFoundError:
        return False
    if file_state(path) != "encrypted":
        return False  # not ours to judge: leave it for the user
    try:
        secure_unlink(old)
    except FileNotFoundError:  # another process finished it first
        pass
    fsync_dir(path.parent)
    return True

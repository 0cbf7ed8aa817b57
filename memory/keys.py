"""Where the database key comes from: `TACIT_DB_KEY`, the OS keyring, or a 0600 key file.

Lookup order: `TACIT_DB_KEY` (for automation; it wins when set), then the
OS keyring (`keyring`: Secret Service, macOS Keychain, Windows Credential
Locker), then the key file. A key is only ever made for a new database: it
goes to the keyring when a usable backend exists, else to the key file
(headless Linux has no keyring). An encrypted file whose key cannot be
found is an error that lists where the key was looked for; no new key is
ever made for it.

The key file lives in tacit's config dir: beside `TACIT_CONFIG` when that
is set, else the platform config dir (platformdirs). Tests never touch the
user's: conftest.py sets `TACIT_DB_KEY` and a keyring backend that always
fails, and tests of the key file point `TACIT_CONFIG` at a temp dir. This mirrors
daemon/config.default_config_path; memory cannot import the daemon, and
the key belongs to the user rather than to one config file, so `--config`
does not move it.

What each protects against: a key file stops someone who copies the
database alone (a backup, a synced data dir, a stray upload) but not
someone who can read the user's files; the keyring also keeps the key out
of the file system, locked with the user's login.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import platformdirs

from .errors import StoreError

ENV_VAR = "TACIT_DB_KEY"
KEYRING_SERVICE = "tacit"
KEYRING_ACCOUNT = "database-key"
KEY_FILE_NAME = "database.key"
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64}$")


class KeyProblem(StoreError):
    """A key that exists but cannot be used (malformed, unreadable); nothing was changed."""


@dataclass(frozen=True)
class Key:
    """A raw 256-bit SQLCipher key (no passphrase derivation, so opening stays fast)."""

    hex: str
    kind: Literal["env", "keyring", "file"]
    where: str  # said to the user: "TACIT_DB_KEY", "the OS keyring (SecretService)", "key file /x"

    @property
    def sqlcipher(self) -> str:
        """The key as SQLCipher's raw-key literal, for `PRAGMA key` and `ATTACH ... KEY`."""
        return f"x'{self.hex}'"


def default_key_file() -> Path:
    config = os.environ.get("TACIT_CONFIG")
    folder = Path(config).expanduser().parent if config else platformdirs.user_config_path("tacit")
    return folder / KEY_FILE_NAME


def _checked(value: str, where: str) -> str:
    value = value.strip()
    if not _HEX_KEY.match(value):
        raise KeyProblem(
            f"The database key in {where} is not 64 hex digits (32 bytes). Nothing was changed. "
            "Make one with: python -c 'import secrets; print(secrets.token_hex(32))'"
        )
    return value.lower()


class KeySource:
    """Finds the key, or makes one for a new database; remembers where it looked."""

    def __init__(self, key_file: Path | None = None, use_keyring: bool = True,
                 env: Mapping[str, str] | None = None):
        self.key_file = Path(key_file) if key_file else default_key_file()
        self.use_keyring = use_keyring
        self.env = os.environ if env is None else env
        self._looked: list[str] = []

    def searched(self) -> str:
        """Where the last find() looked and what it found there, for error messages."""
        return "; ".join(self._looked) or "nowhere yet"

    def find(self) -> Key | None:
        self._looked = []
        if value := self.env.get(ENV_VAR):
            return Key(_checked(value, ENV_VAR), "env", ENV_VAR)
        self._looked.append(f"{ENV_VAR} (unset)")
        if self.use_keyring and (key := self._from_keyring()):
            return key
        return self._from_file()

    def find_or_create(self) -> Key:
        """The key, making and storing a new random one if there is none anywhere."""
        if key := self.find():
            return key
        value = secrets.token_hex(32)
        if self.use_keyring and self._store_in_keyring(value) and (key := self._from_keyring()):
            return key
        self._create_file(value)
        key = self._from_file()
        assert key is not None  # just written (or written by a racing process, which we then share)
        return key

    # -- the keyring ---------------------------------------------------------

    def _keyring_name(self) -> str:
        import keyring

        return type(keyring.get_keyring()).__name__

    def _from_keyring(self) -> Key | None:
        try:
            import keyring

            value = keyring.get_password(KEYRING_SERVICE, KEYRING_ACCOUNT)
        except Exception as exc:  # noqa: BLE001 - any backend failure means "no keyring here"
            self._looked.append(f"OS keyring (not usable: {type(exc).__name__})")
            return None
        where = f"the OS keyring ({self._keyring_name()}, service {KEYRING_SERVICE!r})"
        if value is None:
            self._looked.append(f"{where} (no entry)")
            return None
        return Key(_checked(value, where), "keyring", where)

    def _store_in_keyring(self, value: str) -> bool:
        try:
            import keyring

            keyring.set_password(KEYRING_SERVICE, KEYRING_ACCOUNT, value)
        except Exception:  # noqa: BLE001 - no usable backend: the key file takes it
            return False
        return True

    # -- the key file --------------------------------------------------------

    def _from_file(self) -> Key | None:
        path = self.key_file
        try:
            value = path.read_text(encoding="ascii")
        except FileNotFoundError:
            self._looked.append(f"key file {path} (absent)")
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise KeyProblem(f"Cannot read the database key file {path} ({exc}). Nothing was changed.") from exc
        return Key(_checked(value, f"key file {path}"), "file", f"key file {path}")

    def _create_file(self, value: str) -> None:
        """Write the key to a new 0600 file; a file made meanwhile by another process wins."""
        path = self.key_file
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return
        try:
            os.write(fd, (value + "\n").encode("ascii"))
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            with contextlib.suppress(OSError):
                path.unlink()
            raise
        os.close(fd)

    def file_mode(self) -> int | None:
        """The key file's permission bits, or None when there is no key file."""
        try:
            return self.key_file.stat().st_mode & 0o777
        except FileNotFoundError:
            return None

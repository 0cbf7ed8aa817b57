"""Shared fixtures: every test gets a real SQLite file with sqlite-vec loaded."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from models_fixtures import e5, gemma, minilm, minilm_path, qwen  # noqa: F401  (shared real-model fixtures)
from tacitd.memory.store import Store


# Stores are encrypted by default (memory/keys.py). Every test, and every tacit process a test
# starts (they inherit the environment), uses one random key from TACIT_DB_KEY: nothing is read
# from or written to the user's keyring or config dir. tests/test_encryption.py unsets it to test
# the keyring and key-file paths, with a temp config dir.
os.environ["TACIT_DB_KEY"] = secrets.token_hex(32)
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tacit.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as s:
        yield s


@pytest.fixture
def plain_store(db_path: Path) -> Iterator[Store]:
    """An unencrypted store, for tests that look for text in the raw bytes of the file and its WAL."""
    with Store(db_path, encrypt=False) as s:
        yield s

"""Shared fixtures: every test gets a real SQLite file with sqlite-vec loaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from models_fixtures import e5, gemma, minilm, minilm_path, qwen  # noqa: F401  (shared real-model fixtures)
from tacitd.memory.store import Store


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "tacit.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as s:
        yield s

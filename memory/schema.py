"""Versioned schema migrations, keyed on `PRAGMA user_version`.

Each migration runs in its own transaction and bumps user_version inside it,
so a crash mid-migration leaves the previous version intact. Append new
migrations; never edit a released one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from .db import StoreError

V1 = """
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);
CREATE TABLE observations (
  id INTEGER PRIMARY KEY,
  observer TEXT NOT NULL,
  app TEXT,
  window_title TEXT,
  url TEXT,
  text TEXT NOT NULL DEFAULT '',
  captured_at TEXT NOT NULL,
  duration_s REAL NOT NULL DEFAULT 0 CHECK (duration_s >= 0),
  meta TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX observations_captured_at ON observations(captured_at);
CREATE TABLE propositions (
  id INTEGER PRIMARY KEY,
  text TEXT NOT NULL CHECK (length(trim(text)) > 0),
  reasoning TEXT NOT NULL DEFAULT '',
  confidence REAL NOT NULL CHECK (confidence BETWEEN 0 AND 1),
  half_life_days REAL NOT NULL CHECK (half_life_days > 0),
  source TEXT NOT NULL CHECK (source IN ('llm', 'stats', 'user')),
  status TEXT NOT NULL CHECK (status IN ('current', 'superseded', 'rejected')),
  version INTEGER NOT NULL CHECK (version >= 1),
  revision_group INTEGER NOT NULL,
  supersedes INTEGER REFERENCES propositions(id) ON DELETE SET NULL,
  valid_from TEXT NOT NULL,
  valid_to TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX propositions_status_updated ON propositions(status, updated_at);
CREATE INDEX propositions_group ON propositions(revision_group, version);
CREATE INDEX propositions_created ON propositions(created_at);
CREATE TABLE evidence (
  proposition_id INTEGER NOT NULL REFERENCES propositions(id) ON DELETE CASCADE,
  observation_id INTEGER NOT NULL REFERENCES observations(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL,
  PRIMARY KEY (proposition_id, observation_id)
) WITHOUT ROWID;
CREATE INDEX evidence_observation ON evidence(observation_id);
CREATE TABLE feedback (
  id INTEGER PRIMARY KEY,
  proposition_id INTEGER NOT NULL REFERENCES propositions(id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('confirm', 'reject')),
  note TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
);
CREATE INDEX feedback_proposition ON feedback(proposition_id);
-- Float vectors for exact rescoring and MMR. The vec0 KNN index (created once
-- the embedder's dimension is known) holds their binary quantization.
CREATE TABLE proposition_embeddings (
  id INTEGER PRIMARY KEY REFERENCES propositions(id) ON DELETE CASCADE,
  embedding BLOB NOT NULL
);
"""


def _v1(db: sqlite_utils.Database) -> None:
    for statement in V1.split(";"):
        if statement.strip():
            db.execute(statement)
    for table in ("propositions", "observations"):
        columns = ["text", "reasoning"] if table == "propositions" else ["text", "window_title"]
        db[table].enable_fts(columns, create_triggers=True, tokenize="porter")


MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_v1]
SCHEMA_VERSION = len(MIGRATIONS)


def migrate(db: sqlite_utils.Database) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it started at."""
    start = db.execute("PRAGMA user_version").fetchone()[0]
    if start > SCHEMA_VERSION:
        raise StoreError(
            f"database schema v{start} is newer than this tacit (v{SCHEMA_VERSION}); upgrade tacit"
        )
    for version in range(start + 1, SCHEMA_VERSION + 1):
        with db.atomic():
            MIGRATIONS[version - 1](db)
            db.execute(f"PRAGMA user_version = {version}")
    return start

"""Versioned schema migrations, keyed on `PRAGMA user_version`.

Each migration runs in its own transaction and bumps user_version inside it,
so a crash mid-migration leaves the previous version intact. Append new
migrations; never edit a released one.
"""

from __future__ import annotations

from collections.abc import Callable

from . import events, vectors
from .db import Connection, StoreError

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


# The SQL that sqlite-utils' enable_fts(create_triggers=True, tokenize="porter")
# generates, written out as single statements: enable_fts runs it through
# executescript, and Python's executescript commits the open transaction
# first (sqlite-utils avoids that only in recent versions), which would
# leave a half-applied migration behind a crash.
FTS_TOKENIZER = "porter"
V1_FTS = (
    """CREATE VIRTUAL TABLE "{table}_fts" USING FTS5 (
    "{a}", "{b}",
    tokenize='porter',
    content="{table}"
)""",
    """CREATE TRIGGER "{table}_ai" AFTER INSERT ON "{table}" BEGIN
  INSERT INTO "{table}_fts" (rowid, "{a}", "{b}") VALUES (new.rowid, new."{a}", new."{b}");
END""",
    """CREATE TRIGGER "{table}_ad" AFTER DELETE ON "{table}" BEGIN
  INSERT INTO "{table}_fts" ("{table}_fts", rowid, "{a}", "{b}") VALUES('delete', old.rowid, old."{a}", old."{b}");
END""",
    """CREATE TRIGGER "{table}_au" AFTER UPDATE ON "{table}" BEGIN
  INSERT INTO "{table}_fts" ("{table}_fts", rowid, "{a}", "{b}") VALUES('delete', old.rowid, old."{a}", old."{b}");
  INSERT INTO "{table}_fts" (rowid, "{a}", "{b}") VALUES (new.rowid, new."{a}", new."{b}");
END""",
)
FTS_COLUMNS = {"propositions": ("text", "reasoning"), "observations": ("text", "window_title")}


def _v1(db: Connection) -> None:
    for statement in V1.split(";"):
        if statement.strip():
            db.execute(statement)
    for table, (a, b) in FTS_COLUMNS.items():
        for statement in V1_FTS:
            db.execute(statement.format(table=table, a=a, b=b))


def _v2(db: Connection) -> None:
    """Forget without full merges; FTS rows rewritten only when their text changes;
    a vector index that carries the filter columns.

    - FTS5 `secure-delete` removes a deleted row's terms from the index in
      place, so forgetting no longer needs an `optimize` of the whole index
      (one `rebuild` here clears what v1 left behind).
    - The update triggers fire only on the indexed columns: confirming or
      touching a proposition used to delete and re-insert its FTS row.
    - The vec0 index is rebuilt from the stored float vectors with status,
      confidence, source and updated_at as metadata columns, so filters hold
      inside the KNN search (see vectors.py).
    """
    for table, (a, b) in FTS_COLUMNS.items():
        db.execute(f"INSERT INTO {table}_fts ({table}_fts, rank) VALUES ('secure-delete', 1)")
        # Once: rebuild from the rows, so that nothing v1 deleted without
        # secure-delete lingers (v1 rewrote a row's terms on every update, and
        # secure-delete cannot remove those even after an 'optimize' merge).
        db.execute(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('rebuild')")
        db.execute(f'DROP TRIGGER "{table}_au"')
        db.execute(
            f'CREATE TRIGGER "{table}_au" AFTER UPDATE OF "{a}", "{b}" ON "{table}" BEGIN\n'
            + V1_FTS[3].format(table=table, a=a, b=b).split(" BEGIN\n", 1)[1]
        )
    vectors.migrate_v2(db)


V3 = (
    """CREATE TABLE segments (
  key TEXT PRIMARY KEY,
  state TEXT NOT NULL CHECK (state IN ('open', 'processed', 'skipped', 'quarantined', 'dropped')),
  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
  note TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
)""",
    "CREATE INDEX segments_state ON segments(state, created_at)",
    """CREATE TABLE queue (
  observation_id INTEGER PRIMARY KEY REFERENCES observations(id) ON DELETE CASCADE,
  state TEXT NOT NULL CHECK (state IN ('pending', 'segmented', 'processed', 'quarantined')),
  segment_key TEXT REFERENCES segments(key),
  queued_at TEXT NOT NULL
)""",
    "CREATE INDEX queue_state ON queue(state)",
    "CREATE INDEX queue_segment ON queue(segment_key)",
    """CREATE TABLE quarantine (
  segment_key TEXT PRIMARY KEY REFERENCES segments(key) ON DELETE CASCADE,
  error TEXT NOT NULL,
  raw_output TEXT NOT NULL DEFAULT '',
  tries INTEGER NOT NULL CHECK (tries >= 1),
  next_try_at TEXT,
  first_failed_at TEXT NOT NULL,
  last_failed_at TEXT NOT NULL
)""",
    # The model's raw output may quote the observations: forgetting any of them forgets it too,
    # and the segment is open again, to be redone from what is left (or dropped when nothing is).
    """CREATE TRIGGER queue_forgotten AFTER DELETE ON queue WHEN old.segment_key IS NOT NULL BEGIN
  DELETE FROM quarantine WHERE segment_key = old.segment_key;
  UPDATE segments SET state = 'open' WHERE key = old.segment_key AND state = 'quarantined';
  UPDATE queue SET state = 'segmented' WHERE segment_key = old.segment_key AND state = 'quarantined';
END""",
)


def _v3(db: Connection) -> None:
    """The pipeline's work queue, its segments and its quarantine (memory/queue.py).

    Observations stored before v3 are not queued: they came from an import,
    whose export already holds what was learned from them.
    """
    for statement in V3:
        db.execute(statement)


def _v4(db: Connection) -> None:
    """Ids of propositions and observations are never handed out again (AUTOINCREMENT).

    Without it, forgetting the newest row frees its id for the next insert,
    and anything still holding the old id (a re-embed's batch, a client's
    list) then names a different claim. Rebuilding both tables would drag
    their FTS tables, triggers, vectors and foreign keys along, and dropping
    the old table would cascade-delete evidence; AUTOINCREMENT changes
    nothing on disk, so the schema text is edited in place (SQLite's
    documented writable_schema procedure) and sqlite_sequence is seeded
    with the highest id in use.
    """
    db.execute("CREATE TABLE _sequence_probe (id INTEGER PRIMARY KEY AUTOINCREMENT)")  # creates sqlite_sequence
    db.execute("DROP TABLE _sequence_probe")
    db.execute("PRAGMA writable_schema = ON")
    try:
        for table in ("propositions", "observations"):
            old = f"CREATE TABLE {table} (\n  id INTEGER PRIMARY KEY,"
            changed = db.execute(
                "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = ? "
                "AND substr(sql, 1, length(?)) = ?",
                [old, old.replace("KEY,", "KEY AUTOINCREMENT,"), table, old, old],
            ).rowcount
            if changed != 1:
                raise StoreError(f"unexpected schema for {table}; not migrated")
            db.execute(f"INSERT INTO sqlite_sequence (name, seq) SELECT ?, coalesce(max(id), 0) FROM {table}",
                       [table])
        version = db.tuples("PRAGMA schema_version")[0][0]
        db.execute(f"PRAGMA schema_version = {version + 1}")  # other connections re-read the schema
    finally:
        db.execute("PRAGMA writable_schema = OFF")


def _v5(db: Connection) -> None:
    """The events table and its triggers (events.py): every process's changes reach /v1/events."""
    events.migrate_v5(db)


def _v6(db: Connection) -> None:
    """The vector index partitioned by status, so KNN over current propositions skips the others."""
    vectors.migrate_v6(db)


MIGRATIONS: list[Callable[[Connection], None]] = [_v1, _v2, _v3, _v4, _v5, _v6]
SCHEMA_VERSION = len(MIGRATIONS)


def user_version(conn: Connection) -> int:
    return conn.tuples("PRAGMA user_version")[0][0]


def migrate(conn: Connection) -> int:
    """Bring the database up to SCHEMA_VERSION; returns the version it started at.

    Each step re-reads the version inside its write transaction, so two
    processes opening a new file at once do not both run a migration.
    """
    start = user_version(conn)
    if start > SCHEMA_VERSION:
        raise StoreError(
            f"database schema v{start} is newer than this tacit (v{SCHEMA_VERSION}); upgrade tacit"
        )
    while user_version(conn) < SCHEMA_VERSION:
        with conn.transaction():
            version = user_version(conn)  # another process may have just done it
            if version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
    return start

"""The change log behind the daemon's event stream: what happened to which proposition, and when.

SQL triggers (schema v5) append a row whenever a proposition is inserted
(`new`, or `revised` when it supersedes another version), deleted
(`forgotten`), or gets feedback (`confirmed`, `rejected`). Because the
database itself writes them, a change made by any process (the CLI, an
import, the pipeline) shows up in `/v1/events`, which tails this table.

Rows hold ids, kinds and times only, never text, so a forget leaves
nothing readable behind here. The table keeps the last `KEEP` rows: each
insert deletes the row `KEEP` ids back (the ids never repeat: AUTOINCREMENT).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # the API's client imports Event; it must not load SQLite to do so
    from .db import Connection

EventKind = Literal["new", "revised", "confirmed", "rejected", "forgotten"]
KEEP = 10_000

V5 = (
    """CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('new', 'revised', 'confirmed', 'rejected', 'forgotten')),
  proposition_id INTEGER NOT NULL,
  supersedes INTEGER,
  at TEXT NOT NULL
)""",
    # strftime's %f gives milliseconds; stored times elsewhere carry microseconds, both sort as text.
    """CREATE TRIGGER events_proposition_added AFTER INSERT ON propositions BEGIN
  INSERT INTO events (kind, proposition_id, supersedes, at)
  VALUES (CASE WHEN new.supersedes IS NULL THEN 'new' ELSE 'revised' END, new.id, new.supersedes,
          strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
END""",
    """CREATE TRIGGER events_proposition_forgotten AFTER DELETE ON propositions BEGIN
  INSERT INTO events (kind, proposition_id, at) VALUES ('forgotten', old.id, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
END""",
    """CREATE TRIGGER events_feedback AFTER INSERT ON feedback BEGIN
  INSERT INTO events (kind, proposition_id, at)
  VALUES (new.kind || 'ed', new.proposition_id, strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now'));
END""",
    f"""CREATE TRIGGER events_bounded AFTER INSERT ON events BEGIN
  DELETE FROM events WHERE id <= new.id - {KEEP};
END""",
)


def migrate_v5(db: Connection) -> None:
    for statement in V5:
        db.execute(statement)


class Event(BaseModel):
    """One change: `proposition_id` is the version it happened to (for `revised`, the new one)."""

    model_config = ConfigDict(extra="forbid")

    id: int
    kind: EventKind
    proposition_id: int
    supersedes: int | None = None
    at: datetime


class EventLog:
    """Reads the events table (the triggers write it)."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def after(self, last_id: int, limit: int = 500) -> list[Event]:
        """Events newer than `last_id`, oldest first."""
        rows = self.conn.rows("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", [last_id, limit])
        return [Event.model_validate(r) for r in rows]

    def last_id(self) -> int:
        """The newest event's id (0 before any): a stream that starts now starts after it."""
        return self.conn.tuples("SELECT coalesce(max(id), 0) FROM events")[0][0]

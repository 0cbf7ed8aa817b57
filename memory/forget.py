"""The user's explicit forget: real deletion, then scrubbing the file of what was deleted.

Deleting rows is not enough for "forget": the text stays in the `-wal`
file until a checkpoint copies the new pages over the old ones and the WAL
is truncated. FTS5's `secure-delete` (set in schema v2) removes a row's
terms from the index in place, and `PRAGMA secure_delete` zeroes freed
pages. A checkpoint cannot finish while another connection reads an older
snapshot; then the scrub is recorded as pending in `meta`, reported so, and
finished by a later write or open of the store.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime

from .db import Connection, DatabaseLocked
from .sql import placeholders, to_db_time
from .vectors import VectorIndex

PENDING_KEY = "scrub_pending"


@dataclass(frozen=True)
class ForgetReport:
    propositions: int
    observations: int
    scrub_pending: bool = False  # the deleted text may still be in the file; a later write finishes it


class Forgetting:
    def __init__(self, conn: Connection, vectors: VectorIndex):
        self.conn = conn
        self.vectors = vectors

    def group(self, revision_group: int) -> ForgetReport:
        """Delete every version in a revision group, and the observations only it cites.

        An observation that another proposition also cites stays: it is that
        proposition's evidence too.
        """
        with self.conn.transaction():
            ids = [r[0] for r in self.conn.tuples(
                "SELECT id FROM propositions WHERE revision_group = ?", [revision_group])]
            marks = placeholders(ids)
            obs_ids = [r[0] for r in self.conn.tuples(
                f"SELECT DISTINCT e.observation_id FROM evidence e WHERE e.proposition_id IN ({marks}) "
                "AND NOT EXISTS (SELECT 1 FROM evidence other WHERE other.observation_id = e.observation_id "
                f"AND other.proposition_id NOT IN ({marks}))",
                [*ids, *ids])]
            self._delete(ids, obs_ids)
        return ForgetReport(len(ids), len(obs_ids), not self.scrub(wait=True))

    def since(self, since: datetime) -> ForgetReport:
        """Delete what was learned or seen since `since`; older versions it replaced reopen."""
        cutoff = to_db_time(since)
        with self.conn.transaction():
            rows = self.conn.tuples("SELECT id, supersedes FROM propositions WHERE created_at >= ?", [cutoff])
            ids = [r[0] for r in rows]
            obs_ids = [r[0] for r in self.conn.tuples(
                "SELECT id FROM observations WHERE captured_at >= ?", [cutoff])]
            reopen = {r[1] for r in rows} - set(ids) - {None}
            self._delete(ids, obs_ids)
            for old_id in reopen:
                self.conn.execute(
                    "UPDATE propositions SET status = 'current', valid_to = NULL "
                    "WHERE id = ? AND status = 'superseded'",
                    [old_id],
                )
                self.vectors.sync(old_id)
        return ForgetReport(len(ids), len(obs_ids), not self.scrub(wait=True))

    def _delete(self, proposition_ids: list[int], observation_ids: list[int]) -> None:
        self.vectors.remove(proposition_ids)
        # Newest first, so `supersedes` never points at a row already gone.
        for pid in sorted(proposition_ids, reverse=True):
            self.conn.execute("DELETE FROM propositions WHERE id = ?", [pid])
        for oid in observation_ids:
            self.conn.execute("DELETE FROM observations WHERE id = ?", [oid])
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", [PENDING_KEY])

    def pending(self) -> bool:
        return bool(self.conn.tuples("SELECT 1 FROM meta WHERE key = ?", [PENDING_KEY]))

    def scrub(self, wait: bool = False) -> bool:
        """Checkpoint and truncate the WAL; True when the file holds no deleted text.

        With `wait`, readers get the busy timeout to finish; without, a busy
        checkpoint gives up at once (a later write tries again).
        """
        with self.conn.lock:
            try:
                if not self.conn.idle or not self._checkpoint(wait):
                    return False
            except DatabaseLocked:
                return False
            if self.pending():
                # Best effort: the bytes are gone; a flag left set only means one more try later.
                with contextlib.suppress(DatabaseLocked), self.conn.transaction():
                    self.conn.execute("DELETE FROM meta WHERE key = ?", [PENDING_KEY])
                with contextlib.suppress(DatabaseLocked):
                    self._checkpoint(wait=False)  # the WAL now holds only the cleared flag
            return True

    def _checkpoint(self, wait: bool) -> bool:
        if not wait:
            self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            busy, _log, _done = self.conn.tuples("PRAGMA wal_checkpoint(TRUNCATE)")[0]
        finally:
            if not wait:
                self.conn.execute(f"PRAGMA busy_timeout = {int(self.conn.busy_timeout_ms)}")
        return busy == 0

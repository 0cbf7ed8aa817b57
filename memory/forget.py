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
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .db import Connection, DatabaseLocked, StoreError
from .sql import placeholders, to_db_time
from .vectors import VectorIndex

PENDING_KEY = "scrub_pending"
BULK_MIN = 100  # rows; see Forgetting.bulk


@dataclass(frozen=True)
class ForgetScope:
    """What to forget by scope: observations from `app` and/or seen in [since, before).

    `app` matches case-insensitively. Given no app, the time window also
    selects the proposition versions created in it.
    """

    app: str | None = None
    since: datetime | None = None
    before: datetime | None = None
    observations_only: bool = False

    def __post_init__(self) -> None:
        if self.app is None and self.since is None and self.before is None:
            raise StoreError("a forget scope needs an app, a since or a before")
        if self.app is not None and not self.app.strip():
            raise StoreError("the app to forget is empty")
        if self.since is not None and self.before is not None and self.since >= self.before:
            raise StoreError("since must be earlier than before")

    def observation_sql(self) -> tuple[str, list[Any]]:
        clauses, params = ["1"], []
        if self.app is not None:
            clauses.append("app = ? COLLATE NOCASE")
            params.append(self.app.strip())
        if self.since is not None:
            clauses.append("captured_at >= ?")
            params.append(to_db_time(self.since))
        if self.before is not None:
            clauses.append("captured_at < ?")
            params.append(to_db_time(self.before))
        return " AND ".join(clauses), params

    def created_sql(self) -> str:
        return " AND ".join(["1"] + [c for c, v in (("created_at >= ?", self.since), ("created_at < ?", self.before))
                                     if v is not None])

    def created_params(self) -> list[str]:
        return [to_db_time(v) for v in (self.since, self.before) if v is not None]


@dataclass(frozen=True)
class ForgetReport:
    propositions: int
    observations: int
    scrub_pending: bool = False  # the deleted text may still be in the file; a later write finishes it


class Forgetting:
    def __init__(self, conn: Connection, vectors: VectorIndex):
        self.conn = conn
        self.vectors = vectors
        self._bulk: set[str] = set()  # tables inside a bulk() block now

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
            self.delete_rows(ids, obs_ids)
        return ForgetReport(len(ids), len(obs_ids), not self.scrub(wait=True))

    def scope(self, scope: ForgetScope) -> ForgetReport:
        """Delete the observations in `scope`, and (unless `observations_only`) what was learned there.

        With `app`, what was learned there means every revision group whose
        evidence all comes from those observations: a proposition also seen
        elsewhere stays, less its links to them. Without `app`, it means the
        proposition versions created in the time window, as for `since`.
        """
        where, params = scope.observation_sql()
        with self.conn.transaction():
            obs_ids = [r[0] for r in self.conn.tuples(f"SELECT id FROM observations WHERE {where}", params)]
            if scope.observations_only:
                rows: list[tuple[Any, ...]] = []
            elif scope.app is not None:
                rows = self.conn.tuples(
                    "SELECT id, revision_group FROM propositions WHERE revision_group IN ("
                    " SELECT p.revision_group FROM propositions p JOIN evidence e ON e.proposition_id = p.id"
                    " GROUP BY p.revision_group"
                    f" HAVING sum(e.observation_id NOT IN (SELECT id FROM observations WHERE {where})) = 0)",
                    params)
            else:
                rows = self.conn.tuples(f"SELECT id, revision_group FROM propositions WHERE {scope.created_sql()}",
                                        scope.created_params())
            ids, groups = [r[0] for r in rows], {r[1] for r in rows}
            self.delete_rows(ids, obs_ids)
            self._reopen(groups)
        return ForgetReport(len(ids), len(obs_ids), not self.scrub(wait=True))

    def _reopen(self, groups: set[int]) -> None:
        """A group left without a current version gets its newest surviving version back, if superseded."""
        for group in groups:
            rows = self.conn.tuples(
                "SELECT id, status FROM propositions WHERE revision_group = ? ORDER BY version DESC", [group])
            if rows and rows[0][1] == "superseded" and all(status != "current" for _, status in rows):
                self.conn.execute(
                    "UPDATE propositions SET status = 'current', valid_to = NULL WHERE id = ?", [rows[0][0]])
                self.vectors.sync(rows[0][0])

    def delete_rows(self, proposition_ids: Sequence[int], observation_ids: Sequence[int]) -> None:
        """Delete the rows (inside the caller's transaction) and mark the file for a scrub."""
        with self.bulk("propositions", len(proposition_ids)), self.bulk("observations", len(observation_ids)):
            self.vectors.remove(list(proposition_ids))
            # Newest first, so `supersedes` never points at a row already gone.
            for pid in sorted(proposition_ids, reverse=True):
                self.conn.execute("DELETE FROM propositions WHERE id = ?", [pid])
            for oid in observation_ids:
                self.conn.execute("DELETE FROM observations WHERE id = ?", [oid])
        self.mark_for_scrub()

    @contextlib.contextmanager
    def bulk(self, table: str, rows: int) -> Iterator[None]:
        """Deleting or rewriting many rows of `table`: one FTS5 rebuild instead of a secure-delete each.

        A secure-delete rewrites the index pages of every term of the row in
        every segment that holds it: milliseconds a row on an index of many
        small segments, as a day of small capture batches leaves it (a
        minute for a few thousand rows). A rebuild re-tokenizes every row
        left, about 50 µs a row, and leaves one compact segment; the old
        pages are freed and zeroed (`PRAGMA secure_delete`). So past 1% of
        the table (and at least BULK_MIN rows) the changes run with FTS5
        secure-delete off and the index is rebuilt after them, in the
        caller's transaction: a failure rolls all of it back. Inside another
        bulk block for the same table, it adds nothing (one rebuild at the end).
        """
        if table in self._bulk or rows < BULK_MIN or \
                rows < self.conn.tuples(f"SELECT count(*) FROM {table}")[0][0] // 100:
            yield
            return
        self.conn.execute(f"INSERT INTO {table}_fts ({table}_fts, rank) VALUES ('secure-delete', 0)")
        self._bulk.add(table)
        try:
            yield
        finally:
            self._bulk.discard(table)
        self.conn.execute(f"INSERT INTO {table}_fts ({table}_fts) VALUES ('rebuild')")
        self.conn.execute(f"INSERT INTO {table}_fts ({table}_fts, rank) VALUES ('secure-delete', 1)")

    def mark_for_scrub(self) -> None:
        """Deleted or overwritten text is in the WAL until a checkpoint: remember to scrub it."""
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

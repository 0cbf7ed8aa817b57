"""The pipeline's work queue, kept in SQLite so that a crash loses nothing.

An observation put on the queue (`enqueue`) is in one of four states:
- pending: waiting to be grouped into a segment;
- segmented: in a segment that is not finished yet;
- processed: its segment is finished (propositions written, or nothing to learn);
- quarantined: its segment failed and waits for a retry (the `quarantine` table).

A segment's key is derived from its observation ids when it is formed, so
the same observations always make the same segment. The daemon writes a
segment's results in the same transaction as `finish`: a crash before that
commit leaves the segment open and the next run redoes it from scratch; a
crash after it leaves it done. Nothing is applied twice. `begin_attempt`
commits before each try, so a segment that kills the process every time
is noticed and quarantined instead of being retried forever.

Observations stored without `enqueue` (an import) are not processed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Literal

from .db import Connection, NotFound, StoreError
from .sql import observation_from_row, placeholders, to_db_time
from .types import Observation, QuarantineEntry, Support, utcnow

SegmentState = Literal["open", "processed", "skipped", "quarantined", "dropped"]
DONE: tuple[SegmentState, ...] = ("processed", "skipped", "dropped")
PAGE = 500
# Columns for stats: everything but the text, which stats never read and which is most of the bytes.
ACTIVITY_COLUMNS = "id, observer, app, window_title, url, '' AS text, captured_at, duration_s, meta"


class WorkQueue:
    """The queue, segment and quarantine tables; shares the store's connection and lock."""

    def __init__(self, conn: Connection):
        self.conn = conn

    # -- observations in ---------------------------------------------------------

    def enqueue(self, observation_ids: Iterable[int], now: datetime | None = None) -> int:
        """Queue stored observations as pending; already queued ones are left as they are."""
        when = to_db_time(now or utcnow())
        added = 0
        with self.conn.transaction():
            for oid in observation_ids:
                cursor = self.conn.execute(
                    "INSERT OR IGNORE INTO queue (observation_id, state, queued_at) VALUES (?, 'pending', ?)",
                    [oid, when])
                added += cursor.rowcount
        return added

    def pending(self, limit: int = 10_000) -> list[Observation]:
        """Pending observations in capture order (ties by id)."""
        rows = self.conn.rows(
            "SELECT o.* FROM queue q JOIN observations o ON o.id = q.observation_id "
            "WHERE q.state = 'pending' ORDER BY o.captured_at, o.id LIMIT ?", [limit])
        return [observation_from_row(r) for r in rows]

    # -- segments -------------------------------------------------------------------

    def open_segment(self, key: str, observation_ids: Sequence[int], now: datetime | None = None) -> None:
        """Move pending observations into a new segment, all of them or none."""
        when = to_db_time(now or utcnow())
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO segments (key, state, created_at, updated_at) VALUES (?, 'open', ?, ?)",
                [key, when, when])
            moved = self.conn.execute(
                f"UPDATE queue SET state = 'segmented', segment_key = ? "
                f"WHERE state = 'pending' AND observation_id IN ({placeholders(observation_ids)})",
                [key, *observation_ids]).rowcount
            if moved != len(set(observation_ids)):
                raise StoreError(f"segment {key}: {len(observation_ids) - moved} observation(s) are not pending")

    def state(self, key: str) -> SegmentState | None:
        rows = self.conn.tuples("SELECT state FROM segments WHERE key = ?", [key])
        return rows[0][0] if rows else None

    def members(self, key: str) -> list[Observation]:
        """The segment's observations still stored (a forget may have removed some)."""
        rows = self.conn.rows(
            "SELECT o.* FROM queue q JOIN observations o ON o.id = q.observation_id "
            "WHERE q.segment_key = ? ORDER BY o.captured_at, o.id", [key])
        return [observation_from_row(r) for r in rows]

    def due(self, now: datetime | None = None) -> list[str]:
        """Segments to work on, oldest first: open ones, then quarantined ones whose retry is due."""
        rows = self.conn.tuples(
            "SELECT s.key FROM segments s LEFT JOIN quarantine q ON q.segment_key = s.key "
            "WHERE s.state = 'open' OR (s.state = 'quarantined' AND q.next_try_at <= ?) "
            "ORDER BY s.state = 'quarantined', s.created_at, s.rowid",  # rowid: formed in capture order
            [to_db_time(now or utcnow())])
        return [r[0] for r in rows]

    def begin_attempt(self, key: str, now: datetime | None = None) -> int:
        """Count one more try, committed before the work starts; returns the count."""
        with self.conn.transaction():
            self._require(key)
            self.conn.execute("UPDATE segments SET attempts = attempts + 1, updated_at = ? WHERE key = ?",
                              [to_db_time(now or utcnow()), key])
            return self.conn.tuples("SELECT attempts FROM segments WHERE key = ?", [key])[0][0]

    def release_attempt(self, key: str, now: datetime | None = None) -> int:
        """Take back a try that was cut short on purpose (the daemon stopping), not by a failure.

        Only an unfinished (open or quarantined) segment's count goes down, never below 0; returns the count.
        """
        with self.conn.transaction():
            self._require(key)
            self.conn.execute("UPDATE segments SET attempts = max(attempts - 1, 0), updated_at = ? "
                              "WHERE key = ? AND state IN ('open', 'quarantined')", [to_db_time(now or utcnow()), key])
            return self.conn.tuples("SELECT attempts FROM segments WHERE key = ?", [key])[0][0]

    def finish(self, key: str, state: SegmentState = "processed", note: str = "",
               now: datetime | None = None) -> None:
        """Close a segment: its observations become processed and any quarantine entry goes.

        Call it inside the transaction that writes the segment's results.
        """
        if state not in DONE:
            raise StoreError(f"finish: {state!r} is not a final state {DONE}")
        with self.conn.transaction():
            self._require(key)
            self.conn.execute("UPDATE segments SET state = ?, note = ?, updated_at = ? WHERE key = ?",
                              [state, note, to_db_time(now or utcnow()), key])
            self.conn.execute("UPDATE queue SET state = 'processed' WHERE segment_key = ?", [key])
            self.conn.execute("DELETE FROM quarantine WHERE segment_key = ?", [key])

    def _require(self, key: str) -> SegmentState:
        state = self.state(key)
        if state is None:
            raise NotFound(f"no segment {key} (see `tacit quarantine list`)")
        return state

    # -- quarantine -------------------------------------------------------------------

    def quarantine(self, key: str, error: str, raw_output: str, tries: int, next_try_at: datetime | None,
                   now: datetime | None = None) -> QuarantineEntry:
        """Record `tries` failed tries; `next_try_at=None` means given up until a user's retry."""
        when = to_db_time(now or utcnow())
        with self.conn.transaction():
            if self._require(key) in DONE:
                raise StoreError(f"segment {key} is already {self.state(key)}")
            self.conn.execute(
                "INSERT INTO quarantine (segment_key, error, raw_output, tries, next_try_at, first_failed_at, "
                "last_failed_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (segment_key) DO UPDATE SET error = excluded.error, raw_output = excluded.raw_output, "
                "tries = excluded.tries, next_try_at = excluded.next_try_at, last_failed_at = excluded.last_failed_at",
                [key, error, raw_output, max(tries, 1), to_db_time(next_try_at) if next_try_at else None, when, when])
            self.conn.execute("UPDATE segments SET state = 'quarantined', updated_at = ? WHERE key = ?", [when, key])
            self.conn.execute("UPDATE queue SET state = 'quarantined' WHERE segment_key = ?", [key])
        return self.quarantined([key])[0]

    def quarantined(self, keys: Sequence[str] | None = None) -> list[QuarantineEntry]:
        """Quarantined segments, oldest failure first (only `keys` when given)."""
        where = f"WHERE q.segment_key IN ({placeholders(keys)})" if keys is not None else ""
        with self.conn.snapshot():
            rows = self.conn.rows(f"SELECT q.* FROM quarantine q {where} ORDER BY q.first_failed_at, q.segment_key",
                                  list(keys or ()))
            return [self._entry(r) for r in rows]

    def _entry(self, row: dict) -> QuarantineEntry:
        ids = [r[0] for r in self.conn.tuples(
            "SELECT observation_id FROM queue WHERE segment_key = ? ORDER BY observation_id", [row["segment_key"]])]
        return QuarantineEntry(key=row["segment_key"], observation_ids=ids, error=row["error"],
                               raw_output=row["raw_output"], tries=row["tries"], next_try_at=row["next_try_at"],
                               first_failed_at=row["first_failed_at"], last_failed_at=row["last_failed_at"])

    def retry(self, key: str, now: datetime | None = None) -> QuarantineEntry:
        """The user's retry: due now, with a fresh count of tries."""
        when = to_db_time(now or utcnow())
        with self.conn.transaction():
            self._require_quarantined(key)
            self.conn.execute("UPDATE quarantine SET next_try_at = ? WHERE segment_key = ?", [when, key])
            self.conn.execute("UPDATE segments SET attempts = 0, updated_at = ? WHERE key = ?", [when, key])
        return self.quarantined([key])[0]

    def drop(self, key: str, now: datetime | None = None) -> None:
        """Give up on a quarantined segment: its observations count as processed (stats still use them)."""
        with self.conn.transaction():
            self._require_quarantined(key)
            self.finish(key, "dropped", "dropped from quarantine by the user", now)

    def _require_quarantined(self, key: str) -> None:
        if not self.conn.tuples("SELECT 1 FROM quarantine WHERE segment_key = ?", [key]):
            raise NotFound(f"segment {key} is not in quarantine (see `tacit quarantine list`)")

    # -- reports ------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Queued observations by state, every state present."""
        counts = dict.fromkeys(("pending", "segmented", "processed", "quarantined"), 0)
        counts.update({s: n for s, n in self.conn.tuples("SELECT state, count(*) FROM queue GROUP BY state")})
        return counts

    def support(self, proposition_ids: Sequence[int], utc_offset_minutes: int = 0) -> dict[int, Support]:
        """Distinct sessions and days behind each proposition, from its evidence links.

        A session is the segment an evidence observation was processed in;
        an observation that was never queued (imported) counts as one
        session per app and day, which undercounts rather than inflates.
        Days are calendar days at the given offset from UTC.
        """
        if not proposition_ids:
            return {}
        shift = f"{int(utc_offset_minutes):+d} minutes"
        rows = self.conn.tuples(
            "SELECT e.proposition_id, "
            "count(DISTINCT coalesce(q.segment_key, date(o.captured_at, ?1) || '|' || coalesce(o.app, ''))), "
            "count(DISTINCT date(o.captured_at, ?1)) "
            "FROM json_each(?2) j CROSS JOIN evidence e ON e.proposition_id = j.value "
            "JOIN observations o ON o.id = e.observation_id LEFT JOIN queue q ON q.observation_id = o.id "
            "GROUP BY e.proposition_id",
            [shift, json.dumps([int(i) for i in proposition_ids])])
        confirmed = {r[0] for r in self.conn.tuples(
            "SELECT p.id FROM json_each(?) j CROSS JOIN propositions p ON p.id = j.value WHERE EXISTS ("
            "SELECT 1 FROM feedback f JOIN propositions v ON v.id = f.proposition_id WHERE f.kind = 'confirm' "
            "AND v.revision_group = p.revision_group AND v.text = p.text)",
            [json.dumps([int(i) for i in proposition_ids])])}
        counted = {pid: (s, d) for pid, s, d in rows}
        return {pid: Support(sessions=counted.get(pid, (0, 0))[0], days=counted.get(pid, (0, 0))[1],
                             confirmed=pid in confirmed) for pid in proposition_ids}

    def seen_on_day(self, proposition_id: int, when: datetime, utc_offset_minutes: int = 0) -> bool:
        """Whether any of the proposition's evidence falls on `when`'s calendar day (days as in `support`)."""
        shift = f"{int(utc_offset_minutes):+d} minutes"
        return bool(self.conn.tuples(
            "SELECT 1 FROM evidence e JOIN observations o ON o.id = e.observation_id "
            "WHERE e.proposition_id = ? AND date(o.captured_at, ?) = date(?, ?) LIMIT 1",
            [int(proposition_id), shift, to_db_time(when), shift]))

    def activity_since(self, since: datetime) -> Iterator[Observation]:
        """Every observation captured since `since`, in capture order, without its text (for stats).

        A page at a time; the lock is not held between pages.
        """
        last = (to_db_time(since), -1)
        while True:
            rows = self.conn.rows(
                f"SELECT {ACTIVITY_COLUMNS} FROM observations WHERE (captured_at, id) > (?, ?) "
                f"ORDER BY captured_at, id LIMIT {PAGE}", list(last))
            if not rows:
                return
            yield from (observation_from_row(r) for r in rows)
            last = (rows[-1]["captured_at"], rows[-1]["id"])

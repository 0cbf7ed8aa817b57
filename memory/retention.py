"""Retention: raw observation text expires, and the database keeps to a byte budget.

Two rules, applied in this order by `collect` (the daemon's scheduled job
and `tacit gc` both call it):

1. Age. An observation older than `observations_days` that a proposition
   cites keeps only a short snippet of its (already redacted) text: the
   proposition keeps the link, the capture time, app and window, and the
   snippet. One that nothing cites is deleted: after a month the pipeline
   has long learned what it could from it (the stats window is 30 days
   too), and a window title kept forever is itself private.
2. Budget. While the database holds more than `max_db_mb`, the oldest
   observations are deleted, snippets included, down to a low-water mark
   (90% of the budget) so that the next run does not delete again at once.
   Propositions are never deleted for space: they are small, and they are
   what tacit is for.

Size is the bytes in use: (page_count - freelist_count) * page_size. A
file created by this tacit has incremental auto-vacuum (db.py), so freed
pages are handed back to the file system afterwards; an older file keeps
them for reuse and stops growing instead. A dry run does the same work in
a transaction that is rolled back, so its numbers are the real ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .db import Connection
from .forget import Forgetting
from .sql import to_db_time
from .types import utcnow

MB = 1 << 20
LOW_WATER = 0.9  # a run that has to delete goes down to this share of the budget
SNIPPET_CHARS = 160
BATCH_MIN = 200  # observations deleted per budget step, at least


@dataclass(frozen=True)
class RetentionPolicy:
    """`None` turns a rule off."""

    observations_days: float | None = 30.0
    max_db_mb: float | None = 2048.0
    snippet_chars: int = SNIPPET_CHARS


@dataclass(frozen=True)
class GcReport:
    dry_run: bool
    expired: int  # old observations that a proposition cites, their text cut to a snippet
    expired_deleted: int  # old observations that nothing cites, deleted
    deleted: int  # oldest observations deleted to keep to the budget
    bytes_before: int  # in use before, and after
    bytes_after: int
    file_bytes: int  # the file's size on disk when done
    budget_bytes: int | None
    over_budget: bool  # still over: what is left is not observations
    scrub_pending: bool = False


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


class Retention:
    def __init__(self, conn: Connection, forgetting: Forgetting):
        self.conn = conn
        self.forgetting = forgetting

    def used_bytes(self) -> int:
        # int(): SQLCipher's build returns some pragma values as text.
        pages, free, size = (int(self.conn.tuples(f"PRAGMA {p}")[0][0]) for p in
                             ("page_count", "freelist_count", "page_size"))
        return (pages - free) * size

    def file_bytes(self) -> int:
        return self.conn.path.stat().st_size

    def collect(self, policy: RetentionPolicy, dry_run: bool = False, now: datetime | None = None) -> GcReport:
        budget = int(policy.max_db_mb * MB) if policy.max_db_mb else None
        before = self.used_bytes()
        result: dict[str, int] = {}
        try:
            with self.conn.transaction():
                result["expired"], result["expired_deleted"] = self._expire(policy, now or utcnow())
                result["deleted"] = self._keep_to(budget) if budget else 0
                result["after"] = self.used_bytes()
                if dry_run:
                    raise _DryRun
                if result["expired"] or result["expired_deleted"] or result["deleted"]:
                    self.forgetting.mark_for_scrub()
        except _DryRun:
            pass
        pending = False
        if not dry_run:
            self._hand_back_free_pages()
            pending = not self.forgetting.scrub(wait=True)
        return GcReport(dry_run, result["expired"], result["expired_deleted"], result["deleted"], before,
                        result["after"], self.file_bytes(), budget, bool(budget and result["after"] > budget),
                        pending)

    def _expire(self, policy: RetentionPolicy, now: datetime) -> tuple[int, int]:
        """(cited observations cut to a snippet, uncited ones deleted)."""
        if not policy.observations_days:
            return 0, 0
        cutoff = to_db_time(now - timedelta(days=policy.observations_days))
        n = policy.snippet_chars
        uncited = [r[0] for r in self.conn.tuples(
            "SELECT id FROM observations o WHERE captured_at < ? "
            "AND NOT EXISTS (SELECT 1 FROM evidence e WHERE e.observation_id = o.id)", [cutoff])]
        where, params = "captured_at < ? AND length(text) > ?", [cutoff, n + 1]
        due = self.conn.tuples(f"SELECT count(*) FROM observations WHERE {where}", params)[0][0]
        with self.forgetting.bulk("observations", due + len(uncited)):  # one FTS rebuild for both, when it pays
            self.forgetting.delete_rows([], uncited)
            cut = self.conn.execute(
                f"UPDATE observations SET text = rtrim(substr(text, 1, ?)) || '…' WHERE {where}", [n, *params]
            ).rowcount
        return cut, len(uncited)

    def _keep_to(self, budget: int) -> int:
        """Delete the oldest observations until the bytes in use are under the low-water mark."""
        used = self.used_bytes()
        if used <= budget:
            return 0
        target = int(budget * LOW_WATER)
        deleted = 0
        while used > target:
            ids = self._oldest_worth(used - target)
            if not ids:
                break
            self.forgetting.delete_rows([], ids)
            deleted += len(ids)
            used = self.used_bytes()
        return deleted

    def _oldest_worth(self, need: int) -> list[int]:
        """The oldest observations whose rows (and their share of the full-text index) add up to `need`.

        The estimate counts each row's text twice (the row, and its terms in
        the FTS5 index); the caller measures again after deleting, so a poor
        estimate costs one more round, never a wrong result.
        """
        ids, total = [], 0
        rows = self.conn.tuples(
            "SELECT id, 2 * (length(text) + length(coalesce(window_title, '')) + length(meta)) + 100 "
            "FROM observations ORDER BY captured_at, id LIMIT ?",
            [max(BATCH_MIN, need // 200)],
        )
        for obs_id, size in rows:
            ids.append(obs_id)
            total += size
            if total >= need and len(ids) >= BATCH_MIN:
                break
        return ids

    def _hand_back_free_pages(self) -> None:
        """Shrink the file by its free pages where the file allows it (incremental auto-vacuum).

        Free pages come from deletions and from FTS5 merging its segments, so
        this runs on every collect, not only after a deletion.
        """
        if int(self.conn.tuples("PRAGMA auto_vacuum")[0][0]) != 2 or \
                not int(self.conn.tuples("PRAGMA freelist_count")[0][0]):  # 2 = incremental
            return
        with self.conn.transaction():
            self.conn.tuples("PRAGMA incremental_vacuum")  # fetching every row runs it to the end

"""The SQLite-backed memory: observations, propositions, evidence, feedback.

`Store` is the one entry point. It keeps the records itself (this module)
and hands the vector index (`vectors.py`), full-text search (`fulltext.py`)
and forgetting (`forget.py`) to collaborators that share its connection.

Every write runs in one `BEGIN IMMEDIATE` transaction (db.Connection), so a
failure halfway leaves the file as it was and two writing processes wait
for each other instead of failing. Threads share the connection under one
lock. History is never rewritten: revising a proposition closes the old
version and writes a new one. The only real deletion is the user's explicit
forget.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .db import BUSY_TIMEOUT_MS, Connection, Encryption, NotFound, StoreError
from .events import EventLog
from .forget import ForgetReport, ForgetScope, Forgetting
from .fulltext import FullText
from .keys import KeySource
from .queue import WorkQueue
from .retention import GcReport, Retention, RetentionPolicy
from .schema import migrate
from .sql import (
    ALL_STATUSES,
    OBSERVATION_COLUMNS,
    PROPOSITION_COLUMNS,
    filter_sql,
    observation_from_row,
    observation_row,
    placeholders,
    proposition_row,
    to_db_time,
)
from .types import EvidenceLink, Feedback, Observation, Proposition, SearchFilters, utcnow
from .vectors import Embed, Vector, VectorIndex

__all__ = ["ForgetReport", "ForgetScope", "GcReport", "RetentionPolicy", "Store", "to_db_time"]

PAGE = 500  # rows per query when walking a whole table


class Store:
    """One tacit database file. Cheap to open.

    Threads may share a Store: its methods take one re-entrant lock around
    the single connection (db.Connection says why a lock and not one
    connection per thread). `db`, the raw sqlite-utils Database, is there for
    diagnostics and benchmarks and bypasses that lock.
    """

    def __init__(self, path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS, keys: KeySource | None = None,
                 encrypt: bool = True):
        """Open the store; a new file is encrypted (key from `keys`, default KeySource()) unless `encrypt` is False."""
        self.path = Path(path)
        self._conn = Connection(self.path, busy_timeout_ms, keys, encrypt)
        try:
            migrate(self._conn)
        except BaseException:
            self._conn.close()
            raise
        self.db = self._conn.db
        self.vectors = VectorIndex(self._conn)
        self.fulltext = FullText(self._conn)
        self.queue = WorkQueue(self._conn)  # the pipeline's work queue and quarantine (queue.py)
        self.events = EventLog(self._conn)  # what changed, written by triggers (events.py)
        self._forgetting = Forgetting(self._conn, self.vectors)
        self._finish_scrub()

    def close(self) -> None:
        self._conn.close()

    @property
    def encryption(self) -> Encryption:
        """Whether this file is encrypted, with the key from where (or why not)."""
        return self._conn.encryption

    def backup(self, dest: Path | str) -> Path:
        """A consistent copy of the database (VACUUM INTO), encrypted with the same key as this one.

        The copy is made 0600 and must not exist yet. It keeps what a later
        forget deletes here: backups are the user's to prune.
        """
        dest = Path(dest)
        dest.parent.mkdir(parents=True, exist_ok=True)
        try:  # made empty and private first: VACUUM INTO fills an empty file, and nobody else may read it
            os.close(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            raise StoreError(f"{dest} already exists; a backup never overwrites a file") from None
        try:
            with self._conn.lock:
                self._conn.execute("VACUUM INTO ?", [str(dest)])
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return dest

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction (BEGIN IMMEDIATE); nested calls are savepoints."""
        with self._conn.transaction():
            yield
        self._finish_scrub()

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads that see one state of the file (holds the store's lock meanwhile)."""
        with self._conn.snapshot():
            yield

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return self._conn.rows(sql, params)

    def _finish_scrub(self) -> None:
        """A forget whose scrub was blocked by a reader is finished by the next write or open."""
        if self._conn.idle and self._forgetting.pending():
            self._forgetting.scrub(wait=False)

    # -- observations -------------------------------------------------------

    def add_observation(self, observation: Observation) -> Observation:
        return self.add_observations([observation])[0]

    def add_observations(self, observations: Iterable[Observation]) -> list[Observation]:
        """Store observations; one given with an `id` keeps it (as an import does)."""
        stored = []
        with self.transaction():
            for obs in observations:
                row = observation_row(obs)
                cursor = self._conn.execute(
                    f"INSERT INTO observations ({','.join(OBSERVATION_COLUMNS)}) "
                    f"VALUES ({placeholders(OBSERVATION_COLUMNS)})",
                    [row[c] for c in OBSERVATION_COLUMNS],
                )
                stored.append(obs.model_copy(update={"id": cursor.lastrowid}))
        return stored

    def get_observation(self, observation_id: int) -> Observation:
        rows = self._rows("SELECT * FROM observations WHERE id = ?", [observation_id])
        if not rows:
            raise NotFound(f"no observation with id {observation_id}")
        return observation_from_row(rows[0])

    def observations(self, *, since: datetime | None = None, limit: int = 100) -> list[Observation]:
        rows = self._rows(
            "SELECT * FROM observations WHERE captured_at >= ? ORDER BY captured_at DESC, id DESC "
            "LIMIT ?",
            [to_db_time(since) if since else "", limit],
        )
        return [observation_from_row(r) for r in rows]

    def _walk(self, table: str, key: str = "id") -> Iterator[dict[str, Any]]:
        """Every row of a table in `key` order, a page at a time (the lock is not held between pages)."""
        rows = self._rows(f"SELECT * FROM {table} ORDER BY {key} LIMIT {PAGE}")
        while rows:
            yield from rows
            rows = self._rows(f"SELECT * FROM {table} WHERE {key} > ? ORDER BY {key} LIMIT {PAGE}",
                              [rows[-1][key]])

    def all_observations(self) -> Iterator[Observation]:
        return (observation_from_row(r) for r in self._walk("observations"))

    def all_propositions(self) -> Iterator[Proposition]:
        return (Proposition.model_validate(r) for r in self._walk("propositions"))

    def all_feedback(self) -> Iterator[Feedback]:
        return (Feedback.model_validate(r) for r in self._walk("feedback"))

    def all_embeddings(self) -> Iterator[tuple[int, np.ndarray]]:
        for row in self._walk("proposition_embeddings"):
            yield row["id"], np.frombuffer(row["embedding"], dtype=np.float32)

    # -- propositions -------------------------------------------------------

    def _insert_proposition(self, p: Proposition) -> int:
        row = proposition_row(p)
        columns = [c for c in PROPOSITION_COLUMNS if c != "id" or row["id"] is not None]
        if row["revision_group"] is None:
            row["revision_group"] = 0  # patched to the new id just below
        cursor = self._conn.execute(
            f"INSERT INTO propositions ({','.join(columns)}) VALUES ({placeholders(columns)})",
            [row[c] for c in columns],
        )
        new_id = cursor.lastrowid
        if p.revision_group is None:
            self._conn.execute("UPDATE propositions SET revision_group = ? WHERE id = ?", [new_id, new_id])
        return new_id

    def _link(self, proposition_id: int, observation_ids: Iterable[int], when: datetime) -> None:
        for obs_id in observation_ids:
            self._conn.execute(
                "INSERT OR IGNORE INTO evidence (proposition_id, observation_id, created_at) "
                "VALUES (?, ?, ?)",
                [proposition_id, obs_id, to_db_time(when)],
            )

    def add_proposition(
        self,
        proposition: Proposition,
        evidence: Iterable[int] = (),
        embedding: Vector | None = None,
    ) -> Proposition:
        """Store a new proposition (version 1 of its own revision group)."""
        return self.get(self.add_propositions([(proposition, evidence, embedding)])[0])

    def add_propositions(
        self, items: Iterable[tuple[Proposition, Iterable[int], Vector | None]]
    ) -> list[int]:
        """Bulk form of add_proposition, in one transaction; returns the new ids.

        A proposition given with `id` and `revision_group` keeps them (as an import does).
        """
        ids = []
        with self.transaction():
            for proposition, evidence, embedding in items:
                new_id = self._insert_proposition(proposition)
                self._link(new_id, evidence, proposition.created_at)
                if embedding is not None:
                    self.vectors.store(new_id, embedding)
                ids.append(new_id)
        return ids

    def get(self, proposition_id: int) -> Proposition:
        rows = self._rows("SELECT * FROM propositions WHERE id = ?", [proposition_id])
        if not rows:
            raise NotFound(f"no proposition with id {proposition_id}")
        return Proposition.model_validate(rows[0])

    def get_many(self, ids: Sequence[int], filters: SearchFilters | None = None) -> dict[int, Proposition]:
        """The propositions among `ids` that pass `filters`, keyed by id."""
        if not ids:
            return {}
        where, params = filter_sql(filters or ALL_STATUSES)
        rows = self._rows(
            # CROSS JOIN pins the id list as the outer loop: left to itself, SQLite
            # may walk the status index over every current proposition instead.
            "SELECT p.* FROM json_each(?) j CROSS JOIN propositions p ON p.id = j.value "
            f"WHERE {where}",
            [json.dumps([int(i) for i in ids]), *params],
        )
        return {r["id"]: Proposition.model_validate(r) for r in rows}

    def history(self, proposition_id: int) -> list[Proposition]:
        """Every version in the proposition's revision group, oldest first."""
        with self.snapshot():
            group = self.get(proposition_id).revision_group
            rows = self._rows(
                "SELECT * FROM propositions WHERE revision_group = ? ORDER BY version", [group]
            )
        return [Proposition.model_validate(r) for r in rows]

    def evidence_for(self, proposition_id: int, limit: int = 50) -> list[Observation]:
        rows = self._rows(
            "SELECT o.* FROM evidence e JOIN observations o ON o.id = e.observation_id "
            "WHERE e.proposition_id = ? ORDER BY o.captured_at DESC LIMIT ?",
            [proposition_id, limit],
        )
        return [observation_from_row(r) for r in rows]

    def link_evidence(self, proposition_id: int, observation_ids: Iterable[int]) -> Proposition:
        """Attach more support to a proposition; it counts as touched now."""
        now = utcnow()
        with self.transaction():
            self.get(proposition_id)
            self._link(proposition_id, observation_ids, now)
            self._touch(proposition_id, now)
        return self.get(proposition_id)

    def add_evidence(self, links: Iterable[EvidenceLink]) -> None:
        """Store evidence links as they are, creation time included (links already there are kept)."""
        with self.transaction():
            for link in links:
                self._link(link.proposition_id, [link.observation_id], link.created_at)

    def _touch(self, proposition_id: int, when: datetime, **changes: Any) -> None:
        sets = {"updated_at": to_db_time(when), **changes}
        self._conn.execute(
            f"UPDATE propositions SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
            [*sets.values(), proposition_id],
        )
        self.vectors.sync(proposition_id)

    def _current(self, proposition_id: int, action: str) -> Proposition:
        p = self.get(proposition_id)
        if p.status != "current":
            raise StoreError(
                f"proposition {proposition_id} is {p.status}; only a current version can be "
                f"{action} (see `tacit show {proposition_id}`)"
            )
        return p

    def revise(
        self,
        proposition_id: int,
        *,
        evidence: Iterable[int] = (),
        embedding: Vector | None = None,
        inherit_evidence: bool = True,
        **changes: Any,
    ) -> Proposition:
        """Write a new version with `changes`; the old one is closed, never overwritten.

        The new version inherits the old one's evidence (unless
        `inherit_evidence` is False: a claim that contradicts the old one is
        not backed by what backed it; the old version keeps its own), and its
        vector when the text did not change.
        """
        allowed = {"text", "reasoning", "confidence", "half_life_days", "source"}
        if unknown := set(changes) - allowed:
            raise StoreError(f"cannot revise field(s) {sorted(unknown)}; allowed: {sorted(allowed)}")
        now = utcnow()
        with self.transaction():
            old = self._current(proposition_id, "revised")
            base = old.model_dump(exclude={"id"})
            new = Proposition.model_validate(
                {
                    **base,
                    **changes,
                    "version": old.version + 1,
                    "supersedes": old.id,
                    "valid_from": now,
                    "valid_to": None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            self._touch(old.id, now, status="superseded", valid_to=to_db_time(now))
            new_id = self._insert_proposition(new)
            if inherit_evidence:
                self._conn.execute(
                    "INSERT INTO evidence (proposition_id, observation_id, created_at) "
                    "SELECT ?, observation_id, created_at FROM evidence WHERE proposition_id = ?",
                    [new_id, old.id],
                )
            self._link(new_id, evidence, now)
            if embedding is None and new.text == old.text:
                embedding = self.vectors.embeddings([old.id]).get(old.id)
            if embedding is not None:
                self.vectors.store(new_id, embedding)
        return self.get(new_id)

    def add_feedback(self, feedback: Iterable[Feedback]) -> None:
        """Store feedback records as they are (an import); confirm/reject are the verbs."""
        with self.transaction():
            for fb in feedback:
                self._conn.execute(
                    "INSERT INTO feedback (id, proposition_id, kind, note, created_at) VALUES (?, ?, ?, ?, ?)",
                    [fb.id, fb.proposition_id, fb.kind, fb.note, to_db_time(fb.created_at)],
                )

    def _verdict(self, proposition_id: int, kind: str, note: str, now: datetime, **changes: Any) -> Proposition:
        with self.transaction():
            self._current(proposition_id, f"{kind}ed")
            self._touch(proposition_id, now, **changes)
            self.add_feedback([Feedback(proposition_id=proposition_id, kind=kind, note=note, created_at=now)])
        return self.get(proposition_id)

    def confirm(self, proposition_id: int, note: str = "") -> Proposition:
        """The user says it is true: confidence becomes 1."""
        return self._verdict(proposition_id, "confirm", note, utcnow(), confidence=1.0)

    def reject(self, proposition_id: int, note: str = "") -> Proposition:
        """The user says it is false. The text stays, so the claim is not proposed again."""
        now = utcnow()
        return self._verdict(proposition_id, "reject", note, now, status="rejected", valid_to=to_db_time(now))

    def feedback_for(self, proposition_id: int) -> list[Feedback]:
        rows = self._rows(
            "SELECT * FROM feedback WHERE proposition_id = ? ORDER BY id", [proposition_id]
        )
        return [Feedback.model_validate(r) for r in rows]

    def evidence_links(self) -> list[EvidenceLink]:
        rows = self._rows("SELECT * FROM evidence ORDER BY proposition_id, observation_id")
        return [EvidenceLink.model_validate(r) for r in rows]

    def recent(self, limit: int = 20, filters: SearchFilters | None = None, offset: int = 0) -> list[Proposition]:
        where, params = filter_sql(filters or SearchFilters())
        rows = self._rows(
            f"SELECT p.* FROM propositions p WHERE {where} ORDER BY p.updated_at DESC, p.id DESC "
            "LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return [Proposition.model_validate(r) for r in rows]

    def count(self, filters: SearchFilters | None = None) -> int:
        """How many propositions pass `filters` (default: current), for paging through `recent`."""
        where, params = filter_sql(filters or SearchFilters())
        return self._conn.tuples(f"SELECT count(*) FROM propositions p WHERE {where}", params)[0][0]

    def counts(self) -> dict[str, int]:
        tables = ("observations", "propositions", "evidence", "feedback", "proposition_embeddings")
        with self.snapshot():
            return {t: self._conn.tuples(f"SELECT count(*) FROM {t}")[0][0] for t in tables}

    # -- forgetting (forget.py) -----------------------------------------------

    def forget(self, proposition_id: int) -> ForgetReport:
        """Delete every version of the proposition, and the observations that only it cites."""
        return self._forgetting.group(self.get(proposition_id).revision_group)

    def forget_scope(self, scope: ForgetScope) -> ForgetReport:
        """Delete by scope (an app, a time window, observations only): see ForgetScope."""
        return self._forgetting.scope(scope)

    def gc(self, policy: RetentionPolicy, dry_run: bool = False, now: datetime | None = None) -> GcReport:
        """Apply retention: old observation text becomes a snippet, the oldest go when over budget."""
        return Retention(self._conn, self._forgetting).collect(policy, dry_run, now)

    def scrub(self) -> bool:
        """Finish a pending scrub now if no reader blocks it; True when nothing is pending."""
        return self._forgetting.scrub(wait=True)

    # -- vectors (vectors.py) ---------------------------------------------------

    def vector_index(self) -> tuple[str, int] | None:
        """(embedder name, dimension) of the vectors stored, or None before the first."""
        info = self.vectors.info()
        return (info.embedder, info.dim) if info else None

    def ensure_vector_index(self, embedder: str, dim: int) -> None:
        """Create the vec0 index for `dim`; refuses to mix two embedders in one index."""
        self.vectors.ensure(embedder, dim)

    def reembed(
        self, embedder: str, dim: int, embed: Embed, batch: int = 64,
        progress: Callable[[int], Any] | None = None,
    ) -> int:
        """Re-embed every proposition into a new index, swapped in at once (see vectors.py)."""
        return self.vectors.reembed(embedder, dim, embed, batch, progress)

    def set_embedding(self, proposition_id: int, embedding: Vector) -> None:
        with self.transaction():
            self.get(proposition_id)
            self.vectors.store(proposition_id, embedding)

    def embeddings(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        return self.vectors.embeddings(ids)

    def vector_candidates(
        self, embedding: Vector, k: int, oversample: int = 8, filters: SearchFilters | None = None
    ) -> list[tuple[int, float]]:
        """The `k` nearest propositions among those passing `filters` (default: current)."""
        return self.vectors.candidates(embedding, k, oversample, filters)

    # -- full text (fulltext.py) -------------------------------------------------

    def text_candidates(self, query: str, k: int, filters: SearchFilters) -> list[int]:
        """BM25 order over proposition text (weighted 1.0) and reasoning (0.3)."""
        return self.fulltext.candidates(query, k, filters)

    def terms(self, texts: Sequence[str]) -> list[frozenset[str]]:
        """FTS5's own tokens of each text: what BM25 matches on."""
        return self.fulltext.terms(texts)

    def query_terms(self, query: str) -> frozenset[str]:
        """The tokens a BM25 search for `query` matches on."""
        return self.fulltext.query_terms(query)

    def term_stats(self, terms: Iterable[str]) -> tuple[int, dict[str, int]]:
        """(propositions indexed, {term: propositions containing it})."""
        return self.fulltext.term_stats(terms)

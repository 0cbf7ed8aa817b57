"""The SQLite-backed memory: observations, propositions, evidence, feedback, vectors.

Every write runs in one transaction (sqlite-utils' `atomic`), so a failure
halfway leaves the file as it was. History is never rewritten: revising a
proposition closes the old version and writes a new one. The only real
deletion is the user's explicit forget, which also scrubs the full-text index
and the WAL so the forgotten text is gone from the file, not just unlinked.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .db import BUSY_TIMEOUT_MS, NotFound, StoreError, connect, translate_errors
from .schema import migrate
from .text import content_terms
from .types import EvidenceLink, Feedback, Observation, Proposition, SearchFilters, utcnow

PROPOSITION_COLUMNS = (
    "id text reasoning confidence half_life_days source status version revision_group "
    "supersedes valid_from valid_to created_at updated_at"
).split()
OBSERVATION_COLUMNS = "id observer app window_title url text captured_at duration_s meta".split()
MAX_KNN = 4096  # sqlite-vec's upper bound on k


def to_db_time(value: datetime) -> str:
    """Fixed-width UTC text, so that string order is time order in SQL."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def _placeholders(values: Sequence[Any]) -> str:
    return ",".join("?" * len(values))


@dataclass(frozen=True)
class ForgetReport:
    propositions: int
    observations: int


def _proposition_row(p: Proposition) -> dict[str, Any]:
    row = p.model_dump()
    for key in ("valid_from", "valid_to", "created_at", "updated_at"):
        if row[key] is not None:
            row[key] = to_db_time(row[key])
    return row


def _observation_row(o: Observation) -> dict[str, Any]:
    row = o.model_dump()
    row["captured_at"] = to_db_time(o.captured_at)
    row["meta"] = json.dumps(o.meta, sort_keys=True)
    return row


def _observation_from_row(row: dict[str, Any]) -> Observation:
    return Observation.model_validate({**row, "meta": json.loads(row["meta"])})


class Store:
    """One tacit database file. Cheap to open; not shared across threads without a lock."""

    def __init__(self, path: Path | str, busy_timeout_ms: int = BUSY_TIMEOUT_MS):
        self.path = Path(path)
        self._vector_meta: tuple[str, int] | tuple[()] | None = None
        self.db = connect(self.path, busy_timeout_ms)
        try:
            with translate_errors(self.path):
                migrate(self.db)
        except BaseException:
            self.db.close()
            raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        with translate_errors(self.path), self.db.atomic():
            yield

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with translate_errors(self.path):
            return list(self.db.query(sql, params))

    # -- observations -------------------------------------------------------

    def add_observation(self, observation: Observation) -> Observation:
        return self.add_observations([observation])[0]

    def add_observations(self, observations: Iterable[Observation]) -> list[Observation]:
        stored = []
        with self.transaction():
            for obs in observations:
                row = _observation_row(obs)
                cursor = self.db.execute(
                    f"INSERT INTO observations ({','.join(OBSERVATION_COLUMNS)}) "
                    f"VALUES ({_placeholders(OBSERVATION_COLUMNS)})",
                    [row[c] for c in OBSERVATION_COLUMNS],
                )
                stored.append(obs.model_copy(update={"id": cursor.lastrowid}))
        return stored

    def get_observation(self, observation_id: int) -> Observation:
        rows = self._rows("SELECT * FROM observations WHERE id = ?", [observation_id])
        if not rows:
            raise NotFound(f"no observation with id {observation_id}")
        return _observation_from_row(rows[0])

    def observations(self, *, since: datetime | None = None, limit: int = 100) -> list[Observation]:
        rows = self._rows(
            "SELECT * FROM observations WHERE captured_at >= ? ORDER BY captured_at DESC, id DESC "
            "LIMIT ?",
            [to_db_time(since) if since else "", limit],
        )
        return [_observation_from_row(r) for r in rows]

    # -- propositions -------------------------------------------------------

    def _insert_proposition(self, p: Proposition) -> int:
        row = _proposition_row(p)
        columns = [c for c in PROPOSITION_COLUMNS if c != "id" or row["id"] is not None]
        if row["revision_group"] is None:
            row["revision_group"] = 0  # patched to the new id just below
        cursor = self.db.execute(
            f"INSERT INTO propositions ({','.join(columns)}) VALUES ({_placeholders(columns)})",
            [row[c] for c in columns],
        )
        new_id = cursor.lastrowid
        if p.revision_group is None:
            self.db.execute("UPDATE propositions SET revision_group = ? WHERE id = ?", [new_id, new_id])
        return new_id

    def _link(self, proposition_id: int, observation_ids: Iterable[int], when: datetime) -> None:
        for obs_id in observation_ids:
            self.db.execute(
                "INSERT OR IGNORE INTO evidence (proposition_id, observation_id, created_at) "
                "VALUES (?, ?, ?)",
                [proposition_id, obs_id, to_db_time(when)],
            )

    def add_proposition(
        self,
        proposition: Proposition,
        evidence: Iterable[int] = (),
        embedding: Sequence[float] | np.ndarray | None = None,
    ) -> Proposition:
        """Store a new proposition (version 1 of its own revision group)."""
        return self.get(self.add_propositions([(proposition, evidence, embedding)])[0])

    def add_propositions(
        self,
        items: Iterable[tuple[Proposition, Iterable[int], Sequence[float] | np.ndarray | None]],
    ) -> list[int]:
        """Bulk form of add_proposition, in one transaction; returns the new ids."""
        ids = []
        with self.transaction():
            for proposition, evidence, embedding in items:
                new_id = self._insert_proposition(proposition)
                self._link(new_id, evidence, proposition.created_at)
                if embedding is not None:
                    self._store_vector(new_id, embedding, index=proposition.status != "superseded")
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
        where, params = filter_sql(filters or SearchFilters(status=("current", "superseded", "rejected")))
        rows = self._rows(
            f"SELECT p.* FROM propositions p WHERE p.id IN ({_placeholders(ids)}) AND {where}",
            [*ids, *params],
        )
        return {r["id"]: Proposition.model_validate(r) for r in rows}

    def history(self, proposition_id: int) -> list[Proposition]:
        """Every version in the proposition's revision group, oldest first."""
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
        return [_observation_from_row(r) for r in rows]

    def link_evidence(self, proposition_id: int, observation_ids: Iterable[int]) -> Proposition:
        """Attach more support to a proposition; it counts as touched now."""
        now = utcnow()
        with self.transaction():
            self.get(proposition_id)
            self._link(proposition_id, observation_ids, now)
            self._touch(proposition_id, now)
        return self.get(proposition_id)

    def _touch(self, proposition_id: int, when: datetime, **changes: Any) -> None:
        sets = {"updated_at": to_db_time(when), **changes}
        self.db.execute(
            f"UPDATE propositions SET {', '.join(f'{k} = ?' for k in sets)} WHERE id = ?",
            [*sets.values(), proposition_id],
        )

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
        embedding: Sequence[float] | np.ndarray | None = None,
        **changes: Any,
    ) -> Proposition:
        """Write a new version with `changes`; the old one is closed, never overwritten.

        The new version inherits the old one's evidence, and its vector when
        the text did not change.
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
            self._unindex_vector(old.id)
            new_id = self._insert_proposition(new)
            self.db.execute(
                "INSERT INTO evidence (proposition_id, observation_id, created_at) "
                "SELECT ?, observation_id, created_at FROM evidence WHERE proposition_id = ?",
                [new_id, old.id],
            )
            self._link(new_id, evidence, now)
            if embedding is None and new.text == old.text:
                embedding = self.embeddings([old.id]).get(old.id)
            if embedding is not None:
                self._store_vector(new_id, embedding)
        return self.get(new_id)

    def _insert_feedback(self, fb: Feedback) -> None:
        self.db.execute(
            "INSERT INTO feedback (id, proposition_id, kind, note, created_at) VALUES (?, ?, ?, ?, ?)",
            [fb.id, fb.proposition_id, fb.kind, fb.note, to_db_time(fb.created_at)],
        )

    def _feedback(self, proposition_id: int, kind: str, note: str, when: datetime) -> None:
        self._insert_feedback(Feedback(proposition_id=proposition_id, kind=kind, note=note, created_at=when))

    def confirm(self, proposition_id: int, note: str = "") -> Proposition:
        """The user says it is true: confidence becomes 1."""
        now = utcnow()
        with self.transaction():
            self._current(proposition_id, "confirmed")
            self._touch(proposition_id, now, confidence=1.0)
            self._feedback(proposition_id, "confirm", note, now)
        return self.get(proposition_id)

    def reject(self, proposition_id: int, note: str = "") -> Proposition:
        """The user says it is false. The text stays, so the claim is not proposed again."""
        now = utcnow()
        with self.transaction():
            self._current(proposition_id, "rejected")
            self._touch(proposition_id, now, status="rejected", valid_to=to_db_time(now))
            self._feedback(proposition_id, "reject", note, now)
        return self.get(proposition_id)

    def feedback_for(self, proposition_id: int) -> list[Feedback]:
        rows = self._rows(
            "SELECT * FROM feedback WHERE proposition_id = ? ORDER BY id", [proposition_id]
        )
        return [Feedback.model_validate(r) for r in rows]

    def evidence_links(self) -> list[EvidenceLink]:
        rows = self._rows("SELECT * FROM evidence ORDER BY proposition_id, observation_id")
        return [EvidenceLink.model_validate(r) for r in rows]

    def recent(self, limit: int = 20, filters: SearchFilters | None = None) -> list[Proposition]:
        where, params = filter_sql(filters or SearchFilters())
        rows = self._rows(
            f"SELECT p.* FROM propositions p WHERE {where} ORDER BY p.updated_at DESC, p.id DESC "
            "LIMIT ?",
            [*params, limit],
        )
        return [Proposition.model_validate(r) for r in rows]

    def counts(self) -> dict[str, int]:
        tables = ("observations", "propositions", "evidence", "feedback", "proposition_embeddings")
        with translate_errors(self.path):
            return {t: self.db[t].count for t in tables}

    # -- forgetting ---------------------------------------------------------

    def forget(self, proposition_id: int) -> ForgetReport:
        """Delete every version of the proposition and the observations behind it."""
        with self.transaction():
            group = self.get(proposition_id).revision_group
            ids = [r["id"] for r in self._rows(
                "SELECT id FROM propositions WHERE revision_group = ?", [group])]
            obs_ids = [r["observation_id"] for r in self._rows(
                f"SELECT DISTINCT observation_id FROM evidence WHERE proposition_id IN "
                f"({_placeholders(ids)})", ids)]
            self._delete(ids, obs_ids)
        self._scrub()
        return ForgetReport(len(ids), len(obs_ids))

    def forget_since(self, since: datetime) -> ForgetReport:
        """Delete what was learned or seen since `since`; older versions it replaced reopen."""
        cutoff = to_db_time(since)
        with self.transaction():
            rows = self._rows("SELECT id, supersedes FROM propositions WHERE created_at >= ?", [cutoff])
            ids = [r["id"] for r in rows]
            obs_ids = [r["id"] for r in self._rows(
                "SELECT id FROM observations WHERE captured_at >= ?", [cutoff])]
            reopen = {r["supersedes"] for r in rows} - set(ids) - {None}
            self._delete(ids, obs_ids)
            for old_id in reopen:
                self.db.execute(
                    "UPDATE propositions SET status = 'current', valid_to = NULL "
                    "WHERE id = ? AND status = 'superseded'",
                    [old_id],
                )
                if (vec := self.embeddings([old_id]).get(old_id)) is not None:
                    self._index_vector(old_id, vec)
        self._scrub()
        return ForgetReport(len(ids), len(obs_ids))

    def _delete(self, proposition_ids: list[int], observation_ids: list[int]) -> None:
        for pid in proposition_ids:
            self._unindex_vector(pid)
        # Newest first, so `supersedes` never points at a row already gone.
        for pid in sorted(proposition_ids, reverse=True):
            self.db.execute("DELETE FROM propositions WHERE id = ?", [pid])
        for oid in observation_ids:
            self.db.execute("DELETE FROM observations WHERE id = ?", [oid])

    def _scrub(self) -> None:
        """Merge FTS segments (dropping deleted terms) and truncate the WAL."""
        with translate_errors(self.path):
            for fts in ("propositions_fts", "observations_fts"):
                self.db.execute(f"INSERT INTO {fts}({fts}) VALUES ('optimize')")
            self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- vectors ------------------------------------------------------------

    def vector_index(self) -> tuple[str, int] | None:
        """(embedder name, dimension) of the vectors stored, or None before the first."""
        if self._vector_meta is None:
            self._vector_meta = self._read_vector_meta()
        return self._vector_meta or None

    def _read_vector_meta(self) -> tuple[str, int] | tuple[()]:
        rows = self._rows("SELECT key, value FROM meta WHERE key IN ('embedder', 'embedding_dim')")
        meta = {r["key"]: r["value"] for r in rows}
        if "embedding_dim" not in meta:
            return ()
        return meta["embedder"], int(meta["embedding_dim"])

    def ensure_vector_index(self, embedder: str, dim: int) -> None:
        """Create the vec0 index for `dim`; refuses to mix two embedders in one index."""
        if dim <= 0 or dim % 8:
            raise StoreError(f"embedding dimension must be a positive multiple of 8, got {dim}")
        existing = self.vector_index()
        if existing == (embedder, dim):
            return
        if existing is not None:
            raise StoreError(
                f"the store holds vectors from {existing[0]} (dim {existing[1]}); "
                f"re-embed before switching to {embedder} (dim {dim})"
            )
        with self.transaction():
            self.db.execute(
                f"CREATE VIRTUAL TABLE proposition_vec USING vec0(embedding bit[{dim}])"
            )
            self.db["meta"].insert_all(
                [{"key": "embedder", "value": embedder}, {"key": "embedding_dim", "value": str(dim)}],
                pk="key",
                replace=True,
            )
        self._vector_meta = (embedder, dim)

    def reset_vector_index(self, embedder: str, dim: int) -> None:
        """Drop every stored vector and start an empty index for another embedder."""
        with self.transaction():
            self.db.execute("DROP TABLE IF EXISTS proposition_vec")
            self.db.execute("DELETE FROM proposition_embeddings")
            self.db.execute("DELETE FROM meta WHERE key IN ('embedder', 'embedding_dim')")
            self._vector_meta = ()
            self.ensure_vector_index(embedder, dim)

    def _as_vector(self, embedding: Sequence[float] | np.ndarray) -> np.ndarray:
        index = self.vector_index()
        if index is None:
            raise StoreError("no vector index yet; call ensure_vector_index(embedder, dim) first")
        vec = np.asarray(embedding, dtype=np.float32).reshape(-1)
        norm = float(np.linalg.norm(vec))
        if vec.shape[0] != index[1] or not np.isfinite(norm) or norm == 0:
            raise StoreError(f"embedding must be {index[1]} finite floats, not all zero")
        # Leave unit vectors bit-for-bit alone, so export → import is exact.
        return vec if abs(norm - 1.0) < 1e-5 else vec / norm

    def _store_vector(self, pid: int, embedding: Sequence[float] | np.ndarray, index: bool = True) -> None:
        vec = self._as_vector(embedding)
        self.db.execute(
            "INSERT OR REPLACE INTO proposition_embeddings (id, embedding) VALUES (?, ?)",
            [pid, vec.tobytes()],
        )
        if index:
            self._index_vector(pid, vec)

    def _index_vector(self, pid: int, vec: np.ndarray) -> None:
        self._unindex_vector(pid)
        self.db.execute(
            "INSERT INTO proposition_vec (rowid, embedding) VALUES (?, vec_quantize_binary(?))",
            [pid, vec.astype(np.float32).tobytes()],
        )

    def _unindex_vector(self, pid: int) -> None:
        if self.vector_index() is None:
            return
        self.db.execute("DELETE FROM proposition_vec WHERE rowid = ?", [pid])

    def set_embedding(self, proposition_id: int, embedding: Sequence[float] | np.ndarray) -> None:
        with self.transaction():
            p = self.get(proposition_id)
            self._store_vector(proposition_id, embedding, index=p.status != "superseded")

    def embeddings(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        if not ids:
            return {}
        rows = self.db.execute(
            f"SELECT id, embedding FROM proposition_embeddings WHERE id IN ({_placeholders(ids)})",
            list(ids),
        ).fetchall()
        return {pid: np.frombuffer(blob, dtype=np.float32) for pid, blob in rows}

    def vector_candidates(
        self, embedding: Sequence[float] | np.ndarray, k: int, oversample: int = 8
    ) -> list[tuple[int, float]]:
        """Approximate KNN: Hamming search over binary codes, exact cosine rescoring.

        The binary pass reads 1/32 of the bytes a float scan would, which is what
        keeps a query fast at 100k propositions; rescoring `k * oversample`
        candidates with the float vectors restores the ranking.
        """
        if self.vector_index() is None or k <= 0:
            return []
        query = self._as_vector(embedding)
        with translate_errors(self.path):
            rows = self.db.execute(
                "SELECT rowid FROM proposition_vec WHERE embedding MATCH vec_quantize_binary(?) "
                "AND k = ?",
                [query.tobytes(), min(MAX_KNN, k * oversample)],
            ).fetchall()
            vectors = self.embeddings([r[0] for r in rows])
        if not vectors:
            return []
        ids = np.fromiter(vectors.keys(), dtype=np.int64)
        sims = np.stack(list(vectors.values())) @ query
        order = np.argsort(-sims)[:k]
        return [(int(ids[i]), float(sims[i])) for i in order]

    def text_candidates(self, query: str, k: int, filters: SearchFilters) -> list[int]:
        """BM25 order over proposition text (weighted 1.0) and reasoning (0.3)."""
        match = fts_query(query)
        if not match or k <= 0:
            return []
        where, params = filter_sql(filters)
        rows = self._rows(
            # CROSS JOIN pins the FTS match as the outer loop; otherwise SQLite
            # may walk `propositions` by index and probe FTS once per row.
            "SELECT p.id FROM propositions_fts f CROSS JOIN propositions p ON p.id = f.rowid "
            f"WHERE propositions_fts MATCH ? AND {where} "
            "ORDER BY bm25(propositions_fts, 1.0, 0.3) LIMIT ?",
            [match, *params, k],
        )
        return [r["id"] for r in rows]


def fts_query(text: str) -> str:
    """Quote each word so that user text can never be read as FTS5 syntax."""
    return " OR ".join(f'"{w}"' for w in content_terms(text))


def filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """A WHERE fragment over alias `p` for the given filters."""
    clauses = [f"p.status IN ({_placeholders(filters.status)})", "p.confidence >= ?"]
    params: list[Any] = [*filters.status, filters.min_confidence]
    if filters.source:
        clauses.append(f"p.source IN ({_placeholders(filters.source)})")
        params.extend(filters.source)
    if filters.since:
        clauses.append("p.updated_at >= ?")
        params.append(to_db_time(filters.since))
    if filters.until:
        clauses.append("p.updated_at <= ?")
        params.append(to_db_time(filters.until))
    if filters.app:
        clauses.append(
            "EXISTS (SELECT 1 FROM evidence e JOIN observations o ON o.id = e.observation_id "
            "WHERE e.proposition_id = p.id AND o.app = ?)"
        )
        params.append(filters.app)
    return " AND ".join(clauses), params

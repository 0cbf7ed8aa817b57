"""The vector index: float vectors for exact rescoring, a vec0 index of their binary codes for KNN.

- Every proposition with an embedding is in the index, whatever its status.
  Status is the vec0 table's partition key, and confidence, source and
  updated_at are metadata columns; the app filter is a rowid set. So every
  filter holds *inside* the KNN search. Filtering after a KNN pass would
  silently lose recall: 300 near, low-confidence vectors would fill the k
  slots, and a `min_confidence` filter would then leave nothing.
- As a partition key, status decides which chunks a KNN search reads at all:
  superseded and rejected versions, which pile up as beliefs are revised,
  cost a search for current ones nothing (a metadata column is tested row
  by row: about 2 ms of a 120-row KNN over 100k rows, bench/retrieval.py).
  vec0 cannot update a partition key, so a status change moves the row's
  binary code: delete, then insert into its new partition.
- The vec0 table's name is kept in `meta` (vec0 tables cannot be renamed),
  so that `reembed` can build a new index beside the old one and swap it in
  with one transaction. Until the swap the old index stays complete and
  queryable; a failure midway drops only the half-built one.
- What the index holds (embedder, dimension, table) is read from `meta`
  again whenever another connection has committed (`PRAGMA data_version`),
  so a re-embed done by another process is noticed on the next call.
- A re-embed records its process id (`vector_table_next_pid`). One whose
  process is gone (killed) is ignored by writers and dropped on the next
  open, so its half-built tables do not linger and slow every write.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .db import Connection, StoreError
from .sql import filter_sql, placeholders
from .types import SearchFilters

MAX_KNN = 4096  # sqlite-vec's upper bound on k
SAMPLE = 512  # binary codes kept in memory to guess a KNN search's distance bound (24 KB at 384 dims)
BOUND_MARGIN = 8  # the bound aims to let this many times k rows through
MIN_BOUNDED = 16384  # below this many indexed rows a KNN search is cheap: no bound
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint16)
FLOATS = "proposition_embeddings"
FLOATS_NEXT = "proposition_embeddings_next"
TABLE_PREFIX = "proposition_vec_"
METADATA = "status, confidence, source, updated_at"  # the partition key, then the metadata columns
METADATA_COLUMNS = "confidence, source, updated_at"

Vector = Sequence[float] | np.ndarray
Embed = Callable[[list[str]], Sequence[Vector] | np.ndarray]


@dataclass(frozen=True)
class IndexInfo:
    embedder: str
    dim: int
    table: str


PARTITIONED = "status text partition key"


def create_table(conn: Connection, name: str, dim: int) -> None:
    conn.execute(
        f"CREATE VIRTUAL TABLE {name} USING vec0({PARTITIONED}, embedding bit[{dim}], "
        "confidence float, source text, updated_at text)"
    )


def _fill_from_floats(conn: Connection, table: str, floats: str) -> None:
    conn.execute(
        f"INSERT INTO {table} (rowid, embedding, {METADATA}) "
        f"SELECT p.id, vec_quantize_binary(e.embedding), {METADATA} "
        f"FROM {floats} e JOIN propositions p ON p.id = e.id"
    )


def _read_meta(conn: Connection) -> dict[str, str]:
    return {k: v for k, v in conn.tuples("SELECT key, value FROM meta")}


def _set_meta(conn: Connection, **values: str | None) -> None:
    for key, value in values.items():
        if value is None:
            conn.execute("DELETE FROM meta WHERE key = ?", [key])
        else:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", [key, value])


def migrate_v2(conn: Connection) -> None:
    """Schema v2: rebuild a v1 index (bare binary codes) with the metadata columns."""
    meta = _read_meta(conn)
    if "embedding_dim" not in meta:
        return
    table = f"{TABLE_PREFIX}1"
    create_table(conn, table, int(meta["embedding_dim"]))
    _fill_from_floats(conn, table, FLOATS)
    conn.execute("DROP TABLE IF EXISTS proposition_vec")
    _set_meta(conn, vector_table=table)


def migrate_v6(conn: Connection) -> None:
    """Schema v6: rebuild the index with status as its partition key, from the float vectors.

    A re-embed left half-done is dropped (its process, if alive, stops at
    its next batch); the new index takes the next table name, and the old
    one goes in the same transaction.
    """
    meta = _read_meta(conn)
    for name in (meta.get("vector_table_next"), FLOATS_NEXT):
        if name:
            conn.execute(f"DROP TABLE IF EXISTS {name}")
    _set_meta(conn, vector_table_next=None, vector_table_next_pid=None)
    old = meta.get("vector_table")
    if "embedding_dim" not in meta or not old:
        return
    sql = conn.tuples("SELECT sql FROM sqlite_master WHERE name = ?", [old])
    if sql and PARTITIONED in sql[0][0]:
        return  # made by v2 on this open (a v1 file): already partitioned
    table = f"{TABLE_PREFIX}{int(old.rsplit('_', 1)[1]) + 1}"
    create_table(conn, table, int(meta["embedding_dim"]))
    _fill_from_floats(conn, table, FLOATS)
    conn.execute(f"DROP TABLE IF EXISTS {old}")
    _set_meta(conn, vector_table=table)


def _alive(pid: str | None) -> bool:
    """Whether the process that started a re-embed still runs (a recycled pid only delays the cleanup)."""
    if not pid or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def check_dim(dim: int) -> None:
    if dim <= 0 or dim % 8:
        raise StoreError(f"embedding dimension must be a positive multiple of 8, got {dim}")


def unit_vector(embedding: Vector, dim: int) -> np.ndarray:
    vec = np.asarray(embedding, dtype=np.float32).reshape(-1)
    norm = float(np.linalg.norm(vec))
    if vec.shape[0] != dim or not np.isfinite(norm) or norm == 0:
        raise StoreError(f"embedding must be {dim} finite floats, not all zero")
    # Leave unit vectors bit-for-bit alone, so export → import is exact.
    return vec if abs(norm - 1.0) < 1e-5 else vec / norm


class VectorIndex:
    """The float vectors and the vec0 index of one store; every method takes the store's lock."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self._cache: tuple[int, IndexInfo | None, str | None, str | None] | None = None
        self._codes: tuple[str, int, np.ndarray] | None = None  # (table, rows, sampled codes): see _bound
        self._bounds_ok: bool | None = None
        self._drop_abandoned()

    # -- what the index is -------------------------------------------------

    def info(self) -> IndexInfo | None:
        """The index as `meta` describes it now (re-read after other connections commit)."""
        return self._state()[0]

    def _state(self) -> tuple[IndexInfo | None, str | None]:
        """(the index in use, the one a re-embed is filling or left behind), both from `meta`."""
        return self._read()[:2]

    def _read(self) -> tuple[IndexInfo | None, str | None, bool]:
        """`_state` and whether the re-embed that fills the new index is still alive."""
        with self.conn.lock:
            version = self.conn.tuples("PRAGMA data_version")[0][0]
            if self._cache is None or self._cache[0] != version:
                meta = _read_meta(self.conn)
                info = None
                if "embedding_dim" in meta:
                    info = IndexInfo(meta["embedder"], int(meta["embedding_dim"]), meta["vector_table"])
                building = meta.get("vector_table_next")
                self._cache = (version, info, meta.get("vector_table_next"), meta.get("vector_table_next_pid"))
            _, info, building, pid = self._cache
            return info, building, bool(building) and _alive(pid)  # asked each time: a kill commits nothing

    def _stale(self) -> None:
        """Our own commits do not move data_version: drop the cache after writing meta."""
        self._cache = None

    def ensure(self, embedder: str, dim: int) -> None:
        """Create the index for `dim`; refuses to mix two embedders in one index."""
        check_dim(dim)
        try:
            with self.conn.transaction():
                self._stale()
                existing = self.info()
                if existing is not None and (existing.embedder, existing.dim) == (embedder, dim):
                    return
                if existing is not None:
                    raise StoreError(
                        f"the store holds vectors from {existing.embedder} (dim {existing.dim}); "
                        f"re-embed before switching to {embedder} (dim {dim})"
                    )
                table = self._new_table_name()
                create_table(self.conn, table, dim)
                _set_meta(self.conn, embedder=embedder, embedding_dim=str(dim), vector_table=table)
        finally:
            self._stale()

    def _require(self) -> IndexInfo:
        info = self.info()
        if info is None:
            raise StoreError("no vector index yet; call ensure_vector_index(embedder, dim) first")
        return info

    # -- writing (inside the caller's transaction) -------------------------

    def store(self, pid: int, embedding: Vector) -> None:
        """Keep the float vector and index its binary code with the proposition's metadata."""
        info = self._require()
        vec = unit_vector(embedding, info.dim)
        self.conn.execute(f"INSERT OR REPLACE INTO {FLOATS} (id, embedding) VALUES (?, ?)",
                          [pid, vec.tobytes()])
        self._index(info.table, pid, vec)

    def _index(self, table: str, pid: int, vec: np.ndarray) -> None:
        self.conn.execute(f"DELETE FROM {table} WHERE rowid = ?", [pid])
        self.conn.execute(
            f"INSERT INTO {table} (rowid, embedding, {METADATA}) "
            f"SELECT id, vec_quantize_binary(?), {METADATA} FROM propositions WHERE id = ?",
            [vec.tobytes(), pid],
        )

    def _tables(self, abandoned: bool = False) -> list[str]:
        """Where changes go: the index in use, and the one a live re-embed is building beside it.

        A killed re-embed's table gets no updates, but with `abandoned` it
        still loses forgotten rows: forgetting leaves no trace anywhere.
        """
        info, building, alive = self._read()
        return [t for t in (info and info.table, building if alive or abandoned else None) if t]

    def _new_table_name(self) -> str:
        info, building = self._state()
        numbers = [int(t.rsplit("_", 1)[1]) for t in (info and info.table, building) if t]
        return f"{TABLE_PREFIX}{max(numbers, default=0) + 1}"

    def sync(self, pid: int) -> None:
        """Copy the proposition's filter columns into the index after it changed.

        A new status moves the row to that partition (delete and insert its
        binary code again: vec0 cannot update a partition key).
        """
        for table in self._tables():
            rows = self.conn.tuples(
                f"SELECT v.status = p.status, v.embedding FROM {table} v, propositions p "
                "WHERE v.rowid = ? AND p.id = ?",
                [pid, pid],
            )
            if not rows:
                continue
            if rows[0][0]:
                self.conn.execute(
                    f"UPDATE {table} SET ({METADATA_COLUMNS}) = "
                    f"(SELECT {METADATA_COLUMNS} FROM propositions WHERE id = ?) WHERE rowid = ?",
                    [pid, pid],
                )
                continue
            self.conn.execute(f"DELETE FROM {table} WHERE rowid = ?", [pid])
            self.conn.execute(
                f"INSERT INTO {table} (rowid, embedding, {METADATA}) "
                f"SELECT id, vec_bit(?), {METADATA} FROM propositions WHERE id = ?",
                [rows[0][1], pid],
            )

    def remove(self, pids: Iterable[int]) -> None:
        """Take propositions out of the index (their float vectors go by cascade)."""
        pids = list(pids)
        for table in self._tables(abandoned=True):
            for pid in pids:
                self.conn.execute(f"DELETE FROM {table} WHERE rowid = ?", [pid])

    # -- reading -------------------------------------------------------------

    def embeddings(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        if not ids:
            return {}
        rows = self.conn.tuples(
            f"SELECT id, embedding FROM {FLOATS} WHERE id IN ({placeholders(ids)})", list(ids)
        )
        return {pid: np.frombuffer(blob, dtype=np.float32) for pid, blob in rows}

    def candidates(
        self, embedding: Vector, k: int, oversample: int = 8, filters: SearchFilters | None = None
    ) -> list[tuple[int, float]]:
        """Approximate KNN among the propositions that pass `filters` (default: current ones).

        Hamming search over binary codes, then exact cosine rescoring: the
        binary pass reads 1/32 of the bytes a float scan would, which keeps a
        query fast at 100k propositions, and rescoring `k * oversample`
        candidates with the float vectors restores the ranking. The filters
        are constraints of the KNN query itself, so the candidates are the
        nearest among those that qualify. A distance bound (`_bound`) lets
        sqlite-vec skip most rows; the rows it finds are exactly the ones an
        unbounded search finds, as the search runs again without it when the
        bound let fewer than `k * oversample` through.
        """
        if k <= 0:
            return []
        where, params = filter_sql(filters or SearchFilters(), alias="")
        with self.conn.snapshot():
            info = self.info()
            if info is None:
                return []
            query = unit_vector(embedding, info.dim)
            knn = min(MAX_KNN, k * oversample)
            sql = f"SELECT rowid FROM {info.table} WHERE embedding MATCH vec_quantize_binary(?) AND k = ? AND {where}"
            rows: list[tuple[Any, ...]] = []
            if (bound := self._bound(info, query, knn)) is not None:
                rows = self.conn.tuples(f"{sql} AND distance <= ?", [query.tobytes(), knn, *params, bound])
            if len(rows) < knn:
                rows = self.conn.tuples(sql, [query.tobytes(), knn, *params])
            vectors = self.embeddings([r[0] for r in rows])
        if not vectors:
            return []
        ids = np.fromiter(vectors.keys(), dtype=np.int64)
        sims = np.stack(list(vectors.values())) @ query
        order = np.argsort(-sims)[:k]
        return [(int(ids[i]), float(sims[i])) for i in order]

    def _bound(self, info: IndexInfo, query: np.ndarray, knn: int) -> float | None:
        """A Hamming distance that about BOUND_MARGIN * knn indexed codes lie within, guessed from a sample.

        sqlite-vec 0.1.9 picks the k nearest of each 1024-row chunk by k
        passes over it, so a KNN search costs O(rows * k): at 100k rows, k=120
        takes 16 ms, k=10 4 ms. Rows beyond a `distance` bound are left out
        before that selection, so with the bound the search costs little more
        than the scan. The bound is the distance to the query's j-th nearest
        code in a random sample, j chosen so that about BOUND_MARGIN times
        `knn` rows are expected inside it; when filters or chance leave fewer,
        `candidates` searches again without it. None for small indexes, where
        the search is cheap anyway, and on sqlite-vec builds without the bound.
        """
        rows = self.conn.tuples(f"SELECT max(rowid) FROM {info.table}_rowids")[0][0] or 0
        if rows < MIN_BOUNDED or not self._bounded_search():
            return None
        codes = self._sample(info, rows)
        j = math.ceil(BOUND_MARGIN * knn * len(codes) / rows)
        if j >= len(codes):
            return None
        distances = _POPCOUNT[np.bitwise_xor(codes, np.packbits(query > 0))].sum(axis=1)
        return float(np.partition(distances, j)[j])

    def _sample(self, info: IndexInfo, rows: int) -> np.ndarray:
        """Binary codes of up to SAMPLE random indexed vectors, drawn again when the index grew or shrank by a quarter."""
        kept = self._codes
        if kept is None or kept[0] != info.table or abs(rows - kept[1]) > rows / 4:
            ids = np.random.default_rng(rows).choice(rows, size=min(SAMPLE, rows), replace=False) + 1
            blobs = self.conn.tuples(f"SELECT embedding FROM {FLOATS} WHERE id IN (SELECT value FROM json_each(?))",
                                     [json.dumps(ids.tolist())])
            vecs = np.stack([np.frombuffer(b, dtype=np.float32) for (b,) in blobs]) if blobs else np.zeros((0, info.dim))
            kept = self._codes = (info.table, rows, np.packbits(vecs > 0, axis=1))
        return kept[2]

    def _bounded_search(self) -> bool:
        """Whether this sqlite-vec applies `distance` constraints inside a KNN search (0.1.9 does)."""
        if self._bounds_ok is None:
            version = self.conn.tuples("SELECT vec_version()")[0][0]
            self._bounds_ok = tuple(int(x) for x in version.lstrip("v").split("-")[0].split(".")) >= (0, 1, 9)
        return self._bounds_ok

    # -- re-embedding ----------------------------------------------------------

    def reembed(
        self,
        embedder: str,
        dim: int,
        embed: Embed,
        batch: int = 64,
        progress: Callable[[int], Any] | None = None,
    ) -> int:
        """Embed every proposition again into a new index, then swap it in at once.

        The texts are embedded outside any transaction, so other writers go
        on meanwhile; what they add or change is caught up, and their status
        changes reach the new index too. Returns how many were embedded.
        """
        check_dim(dim)
        table = self._begin_rebuild(dim)
        done, last = 0, 0
        try:
            while rows := self._pending(table, batch, after=last):
                vectors = embed([text for _, text in rows])
                with self.conn.transaction():
                    self._fill(table, dim, rows, vectors)
                done, last = done + len(rows), rows[-1][0]
                if progress:
                    progress(len(rows))
            with self.conn.transaction():
                while rows := self._pending(table, batch):  # added by others meanwhile
                    self._fill(table, dim, rows, embed([text for _, text in rows]))
                    done += len(rows)
                self._swap(embedder, dim, table)
        except BaseException:
            self._abandon(table)
            raise
        finally:
            self._stale()
        return done

    def _begin_rebuild(self, dim: int) -> str:
        with self.conn.transaction():
            self._stale()
            leftover = self._state()[1]
            table = self._new_table_name()
            for name in (leftover, FLOATS_NEXT):  # a re-embed that crashed
                if name:
                    self.conn.execute(f"DROP TABLE IF EXISTS {name}")
            self.conn.execute(
                f"CREATE TABLE {FLOATS_NEXT} (id INTEGER PRIMARY KEY "
                "REFERENCES propositions(id) ON DELETE CASCADE, embedding BLOB NOT NULL)"
            )
            create_table(self.conn, table, dim)
            _set_meta(self.conn, vector_table_next=table, vector_table_next_pid=str(os.getpid()))
        self._stale()
        return table

    def _pending(self, table: str, limit: int, after: int | None = None) -> list[tuple[int, str]]:
        """Propositions not yet in the new index: by id after `after`, or all that are missing."""
        if after is not None:
            sql, params = "SELECT id, text FROM propositions WHERE id > ? ORDER BY id LIMIT ?", [after, limit]
        else:
            sql = (f"SELECT id, text FROM propositions p WHERE NOT EXISTS "
                   f"(SELECT 1 FROM {FLOATS_NEXT} n WHERE n.id = p.id) ORDER BY id LIMIT ?")
            params = [limit]
        return [(pid, text) for pid, text in self.conn.tuples(sql, params)]

    def _fill(self, table: str, dim: int, rows: list[tuple[int, str]], vectors: Any) -> None:
        if _read_meta(self.conn).get("vector_table_next") != table:
            raise StoreError("another re-embed started meanwhile; this one stopped")
        vectors = list(vectors)
        if len(vectors) != len(rows):
            raise StoreError(f"the embedder returned {len(vectors)} vectors for {len(rows)} texts")
        for (pid, text), embedding in zip(rows, vectors):
            vec = unit_vector(embedding, dim)
            # A proposition forgotten meanwhile stays forgotten, and one that took its
            # freed id (ids are reused) is left for the catch-up pass to embed from its own text.
            inserted = self.conn.execute(
                f"INSERT OR REPLACE INTO {FLOATS_NEXT} (id, embedding) "
                "SELECT id, ? FROM propositions WHERE id = ? AND text = ?",
                [vec.tobytes(), pid, text],
            ).rowcount
            if inserted:
                self._index(table, pid, vec)

    def _swap(self, embedder: str, dim: int, table: str) -> None:
        old = self.info()
        if old is not None:
            self.conn.execute(f"DROP TABLE IF EXISTS {old.table}")
        self.conn.execute(f"DROP TABLE {FLOATS}")
        self.conn.execute(f"ALTER TABLE {FLOATS_NEXT} RENAME TO {FLOATS}")
        _set_meta(self.conn, embedder=embedder, embedding_dim=str(dim), vector_table=table,
                  vector_table_next=None, vector_table_next_pid=None)
        self._stale()

    def _abandon(self, table: str) -> None:
        """Drop the half-built index; the old one was never touched."""
        with contextlib.suppress(StoreError), self.conn.transaction():
            if _read_meta(self.conn).get("vector_table_next") == table:
                self.conn.execute(f"DROP TABLE IF EXISTS {table}")
                self.conn.execute(f"DROP TABLE IF EXISTS {FLOATS_NEXT}")
                _set_meta(self.conn, vector_table_next=None, vector_table_next_pid=None)

    def _drop_abandoned(self) -> None:
        """Drop what a killed re-embed left behind (a failed one drops its own in `_abandon`)."""
        _, building, alive = self._read()
        if building and not alive:
            self._abandon(building)
        self._stale()

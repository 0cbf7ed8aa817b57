"""Retrieval speed: tacit's hybrid search against exact float KNN doing the same work, at N.

    python bench/retrieval.py --n 100000 --json

Data. A fresh store with N synthetic propositions: varied text ("Sam reviews
kafka and zig on weekends (note 17)") and clustered 384-dim unit vectors, as
real sentence embeddings cluster by topic.

Queries. Each targets one stored proposition. Its vector lies near the
target's (cosine about 0.9). Its text is a question in other words: it never
contains the target's topic words, only common ones ("what is Sam reviewing
on weekends"), which match thousands of rows, and one kind has only words
that are in most rows ("what has Sam been up to"). That is the expensive
case for full-text search, and the usual one for a memory about one person.

Timed, per query, in one process over the same data:
- baseline: exact float KNN (a vec0 `float[dim]` table, a full scan) for the
  top 10, then fetching those propositions and their evidence snippets, as a
  caller of plain vector search would;
- hybrid: `retrieve.search` for the top 10: BM25 candidates, binary KNN with
  float rescoring, fusion, weighting, MMR, the rows and their evidence.
The goal is `hybrid_p95_ms / baseline_p95_ms <= 0.5`.

`--encrypted` instead runs the same inserts and hybrid queries on an
unencrypted and an SQLCipher store, interleaved, and reports
`insert_rate_ratio` (encrypted / plain, goal >= 0.75) and
`hybrid_p95_ratio` (encrypted / plain, goal <= 1.3). Without it the store
is unencrypted, as this benchmark always measured.

Recall. A hybrid ranking is not a vector ranking: it also weighs words,
confidence and recency, and diversifies. So "recall against exact vector
search" cannot mean overlap with the 10 nearest vectors; that would score
the fusion's design (bench/embed_quality.py measures quality on labelled
data), not the shortcuts taken for speed. The reference is the same
`search()` with the exact versions of its two candidate sources: vector
candidates from brute-force cosine over all N float vectors, and BM25
candidates from an uncapped `ORDER BY bm25` over every row matching any
query word (ties newest first, as the store breaks them).

- `hybrid_recall_at_10` = |hybrid top 10 ∩ reference top 10| / |reference
  top 10|, averaged over queries: what binary quantisation, candidate caps
  and FTS shortcuts lose. Goal: >= 0.95.
- `vector_recall_at_10`: the vector path alone (binary KNN + rescoring,
  cut to 10) against the exact 10 nearest vectors.
- `hybrid_top10_overlap_with_nearest`: for information only, how much of the
  hybrid top 10 is among the exact 10 nearest vectors.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np
from rich.progress import Progress

from tacitd.memory.keys import KeySource
from tacitd.memory.retrieve import RetrievalParams, search
from tacitd.memory.sql import filter_sql, fts_query
from tacitd.memory.store import Store
from tacitd.memory.text import content_terms
from tacitd.memory.types import Proposition, SearchFilters

PEOPLE = ["Sam"]
VERBS = ["is learning", "often uses", "is debugging", "reads about", "is planning", "prefers",
         "writes", "reviews", "is researching", "practises", "is building", "avoids", "teaches",
         "collects", "compares", "is migrating to", "benchmarks", "configures", "maintains", "sketches"]
TOPICS = """rust python pytorch lora kubernetes terraform postgres sqlite redis kafka react svelte
vue typescript golang haskell ocaml elixir erlang zig swift kotlin android ios linux nixos arch debian
docker podman ansible grafana prometheus loki tempo jaeger opentelemetry wasm webgpu vulkan metal cuda
triton jax numpy pandas polars duckdb spark flink airflow dagster dbt snowflake bigquery tableau
figma blender unity godot unreal photography cycling running climbing chess piano guitar jazz
cooking baking sourdough coffee tea gardening birding astronomy lisbon tokyo berlin hiking camping
sailing skiing yoga meditation journaling obsidian notion emacs vim vscode zed helix tmux zsh fish
budgeting investing taxes mortgage insurance spanish japanese german french latin mandarin""".split()
QUALIFIERS = ["at work", "on weekends", "for a side project", "every morning", "with friends",
              "for the team", "in the evenings", "before meetings", "for the conference talk",
              "this quarter", "after lunch", "on the laptop", "on the desktop", "with the kids"]
# Questions in the user's words: the target's verb and qualifier, never its topics. The last
# has only words in most rows, which BM25 cannot rank.
QUESTIONS = ["what is {person} {verb} {qualifier}", "{person} {verb} {qualifier}?",
             "things {person} {verb} {qualifier}", "what does she keep doing {qualifier}",
             "remind me what {person} {verb} lately", "what has {person} been up to"]


def synthetic(n: int, dim: int, seed: int = 7) -> tuple[list[str], list[tuple[int, int]], np.ndarray]:
    """Texts, each text's (verb, qualifier) indices, and unit vectors clustered by topic."""
    rng = np.random.default_rng(seed)
    n_topics = max(50, n // 100)
    centroids = rng.standard_normal((n_topics, dim)).astype(np.float32)
    topic = rng.integers(0, n_topics, n)
    vecs = centroids[topic] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    texts, parts = [], []
    for i in range(n):
        a, b = rng.choice(len(TOPICS), 2, replace=False)
        verb, qualifier = int(rng.integers(len(VERBS))), int(rng.integers(len(QUALIFIERS)))
        texts.append(f"{PEOPLE[0]} {VERBS[verb]} {TOPICS[a]} and {TOPICS[b]} {QUALIFIERS[qualifier]} (note {i})")
        parts.append((verb, qualifier))
    return texts, parts, vecs


def question(rng: np.random.Generator, verb: int, qualifier: int) -> str:
    template = QUESTIONS[int(rng.integers(len(QUESTIONS)))]
    return template.format(person=PEOPLE[0], verb=VERBS[verb], qualifier=QUALIFIERS[qualifier])


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def fill(store: Store, texts: list[str], vecs: np.ndarray, quiet: bool) -> float:
    """Insert everything (tacit's index and the baseline's float table); returns insert seconds."""
    n, dim = vecs.shape
    store.ensure_vector_index("synthetic", dim)
    store.db.execute(f"CREATE VIRTUAL TABLE baseline_vec USING vec0(embedding float[{dim}])")
    t0 = time.perf_counter()
    with Progress(disable=quiet, transient=True) as progress:
        task = progress.add_task("inserting", total=n)
        for start in range(0, n, 2000):
            end = min(n, start + 2000)
            store.add_propositions(
                (Proposition(text=texts[i], confidence=0.5 + 0.5 * (i % 7) / 6, source="llm"), (), vecs[i])
                for i in range(start, end)
            )
            progress.update(task, completed=end)
    insert_s = time.perf_counter() - t0
    with store.transaction():
        store.db.conn.executemany("INSERT INTO baseline_vec (rowid, embedding) VALUES (?, ?)",
                                  ((i + 1, vecs[i].tobytes()) for i in range(n)))
    return insert_s


def baseline(store: Store, q: np.ndarray, limit: int, snippets: int) -> list[int]:
    """Exact float KNN, then the rows and evidence a caller would show."""
    ids = [r[0] for r in store.db.execute(
        "SELECT rowid FROM baseline_vec WHERE embedding MATCH ? AND k = ?", [q.tobytes(), limit]).fetchall()]
    props = store.get_many(ids)
    for pid in ids:
        store.evidence_for(pid, snippets)
    return [pid for pid in ids if pid in props]


def exact_sources(store: Store, vecs: np.ndarray) -> dict[str, Callable[..., list]]:
    """The store's two candidate sources without shortcuts: cosine against every float vector
    (every synthetic row passes the default filters, so it need not apply them), and BM25 over
    every matching row, ranked as the store ranks (best score, then newest)."""

    def vector_candidates(embedding: np.ndarray, k: int, *args: object, **kwargs: object) -> list[tuple[int, float]]:
        sims = vecs @ np.asarray(embedding, dtype=np.float32)
        top = np.argpartition(-sims, k)[:k]
        top = top[np.argsort(-sims[top])]
        return [(int(i) + 1, float(sims[i])) for i in top]

    def text_candidates(query: str, k: int, filters: SearchFilters) -> list[int]:
        where, params = filter_sql(filters)
        rows = store.db.execute(
            "SELECT p.id FROM propositions_fts f CROSS JOIN propositions p ON p.id = f.rowid "
            f"WHERE propositions_fts MATCH ? AND {where} "
            "ORDER BY bm25(propositions_fts, 1.0, 0.3), p.id DESC LIMIT ?",
            [fts_query(content_terms(query)), *params, k]).fetchall()
        return [r[0] for r in rows]

    return {"vector_candidates": vector_candidates, "text_candidates": text_candidates}


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - t) * 1000


def run(n: int, dim: int, queries: int, quiet: bool) -> dict[str, float | int]:
    texts, parts, vecs = synthetic(n, dim)
    # Unencrypted, as this benchmark always ran: --encrypted measures what encryption adds.
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db", encrypt=False) as store:
        insert_s = fill(store, texts, vecs, quiet)
        params, limit = RetrievalParams(), 10
        exact = exact_sources(store, vecs)
        rng = np.random.default_rng(11)
        ms: dict[str, list[float]] = {"hybrid": [], "baseline": []}
        recall: dict[str, list[float]] = {"hybrid": [], "vector": [], "overlap": []}
        for turn, i in enumerate(rng.integers(0, n, queries)):
            noise = rng.standard_normal(dim).astype(np.float32)
            q = vecs[i] + 0.45 * noise / np.linalg.norm(noise)
            q = (q / np.linalg.norm(q)).astype(np.float32)
            text = question(rng, *parts[i])
            runs = {"baseline": partial(baseline, store, q, limit, params.evidence_snippets),
                    "hybrid": partial(search, store, text, embedding=q, limit=limit, params=params)}
            results = {}
            # Alternate which goes first, so that neither always finds the other's pages cached.
            for name in sorted(runs, reverse=bool(turn % 2)):
                results[name], elapsed = timed(runs[name])
                ms[name].append(elapsed)
            got = {h.proposition.id for h in results["hybrid"]}
            with mock.patch.multiple(store, **exact):
                want = {h.proposition.id for h in search(store, text, embedding=q, limit=limit, params=params)}
            nearest = {pid for pid, _ in exact["vector_candidates"](q, limit)}
            path = store.vector_candidates(q, params.candidates, params.vector_oversample)
            recall["hybrid"].append(len(got & want) / max(1, len(want)))
            recall["vector"].append(len(nearest & {pid for pid, _ in path[:limit]}) / limit)
            recall["overlap"].append(len(nearest & got) / limit)
    return summary(n, dim, queries, ms, recall, insert_s)


def compare_encryption(n: int, dim: int, queries: int, quiet: bool) -> dict[str, Any]:
    """The same inserts and hybrid queries on an unencrypted and an encrypted store, interleaved.

    Each batch of inserts and each query runs on both stores, in alternating
    order, so that a busy machine slows both alike and the ratios hold.
    The encrypted store is the default kind (SQLCipher, raw 256-bit key),
    keyed from a file in the temp dir so that no real key is touched.
    Goals: insert rate ratio >= 0.75, hybrid p95 ratio <= 1.3.
    """
    texts, parts, vecs = synthetic(n, dim)
    with tempfile.TemporaryDirectory() as tmp:
        keys = KeySource(key_file=Path(tmp) / "bench.key", use_keyring=False, env={})
        stores = {"plain": Store(Path(tmp) / "plain.db", encrypt=False),
                  "encrypted": Store(Path(tmp) / "encrypted.db", keys=keys)}
        try:
            assert stores["encrypted"].encryption.encrypted and not stores["plain"].encryption.encrypted
            insert_s = {name: 0.0 for name in stores}
            for store in stores.values():
                store.ensure_vector_index("synthetic", dim)
            with Progress(disable=quiet, transient=True) as progress:
                task = progress.add_task("inserting", total=n)
                for turn, start in enumerate(range(0, n, 2000)):
                    batch = [(Proposition(text=texts[i], confidence=0.5 + 0.5 * (i % 7) / 6, source="llm"), (), vecs[i])
                             for i in range(start, min(n, start + 2000))]
                    for name in sorted(stores, reverse=bool(turn % 2)):
                        _, elapsed = timed(partial(stores[name].add_propositions, batch))
                        insert_s[name] += elapsed / 1000
                    progress.update(task, completed=min(n, start + 2000))
            params, rng = RetrievalParams(), np.random.default_rng(11)
            ms: dict[str, list[float]] = {name: [] for name in stores}
            for turn, i in enumerate(rng.integers(0, n, queries)):
                noise = rng.standard_normal(dim).astype(np.float32)
                q = vecs[i] + 0.45 * noise / np.linalg.norm(noise)
                q = (q / np.linalg.norm(q)).astype(np.float32)
                text = question(rng, *parts[i])
                for name in sorted(stores, reverse=bool(turn % 2)):
                    _, elapsed = timed(partial(search, stores[name], text, embedding=q, limit=10, params=params))
                    ms[name].append(elapsed)
            sizes = {name: store.path.stat().st_size for name, store in stores.items()}
        finally:
            for store in stores.values():
                store.close()
    per = {name: {"insert_per_s": round(n / insert_s[name], 1),
                  "hybrid_p50_ms": round(percentile(ms[name], 50), 2),
                  "hybrid_p95_ms": round(percentile(ms[name], 95), 2),
                  "file_mb": round(sizes[name] / 2**20, 1)} for name in stores}
    insert_ratio = per["encrypted"]["insert_per_s"] / per["plain"]["insert_per_s"]
    p95_ratio = percentile(ms["encrypted"], 95) / percentile(ms["plain"], 95)
    return {"n": n, "dim": dim, "queries": queries, **per,
            "insert_rate_ratio": round(insert_ratio, 3), "insert_rate_goal_min": 0.75,
            "hybrid_p95_ratio": round(p95_ratio, 3), "hybrid_p95_goal_max": 1.3,
            "goals_met": insert_ratio >= 0.75 and p95_ratio <= 1.3}


def summary(n: int, dim: int, queries: int, ms: dict[str, list[float]], recall: dict[str, list[float]],
            insert_s: float) -> dict[str, float | int]:
    p95 = {name: percentile(values, 95) for name, values in ms.items()}
    return {
        "n": n,
        "dim": dim,
        "queries": queries,
        "hybrid_p50_ms": round(percentile(ms["hybrid"], 50), 2),
        "hybrid_p95_ms": round(p95["hybrid"], 2),
        "baseline_p50_ms": round(percentile(ms["baseline"], 50), 2),
        "baseline_p95_ms": round(p95["baseline"], 2),
        "hybrid_vs_baseline_p95_ratio": round(p95["hybrid"] / p95["baseline"], 3),
        "hybrid_recall_at_10": round(float(np.mean(recall["hybrid"])), 4),
        "vector_recall_at_10": round(float(np.mean(recall["vector"])), 4),
        "hybrid_top10_overlap_with_nearest": round(float(np.mean(recall["overlap"])), 4),
        "insert_per_s": round(n / insert_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="propositions to insert")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    parser.add_argument("--encrypted", action="store_true",
                        help="instead: the same inserts and hybrid queries unencrypted and encrypted, and their ratios")
    args = parser.parse_args()
    if args.n < 10 or args.dim % 8:
        parser.error("--n must be ≥ 10 and --dim a multiple of 8")
    result = (compare_encryption if args.encrypted else run)(args.n, args.dim, args.queries, quiet=args.json)
    print(json.dumps(result, indent=None if args.json else 2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

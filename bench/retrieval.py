"""Retrieval benchmark: hybrid search against plain vec0 float KNN, same process, same data.

    python bench/retrieval.py --n 100000 --json

Fills a fresh store with N synthetic propositions (varied text, clustered
384-dim unit vectors, as real sentence embeddings are clustered by topic),
then times 200 queries through tacit's hybrid search and through a plain
vec0 `float[dim]` KNN over the same vectors. recall_at_10 compares tacit's
vector path (binary KNN + float rescoring) with exact brute-force search.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.progress import Progress

from tacitd.memory.retrieve import RetrievalParams, search
from tacitd.memory.store import Store
from tacitd.memory.types import Proposition

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


def synthetic(n: int, dim: int, seed: int = 7) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    n_topics = max(50, n // 100)
    centroids = rng.standard_normal((n_topics, dim)).astype(np.float32)
    topic = rng.integers(0, n_topics, n)
    vecs = centroids[topic] + 0.8 * rng.standard_normal((n, dim)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    texts = []
    for i in range(n):
        a, b = rng.choice(len(TOPICS), 2, replace=False)
        texts.append(f"{PEOPLE[0]} {VERBS[rng.integers(len(VERBS))]} {TOPICS[a]} and {TOPICS[b]} "
                     f"{QUALIFIERS[rng.integers(len(QUALIFIERS))]} (note {i})")
    return texts, vecs


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q))


def run(n: int, dim: int, queries: int, quiet: bool) -> dict[str, float | int]:
    texts, vecs = synthetic(n, dim)
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        store.ensure_vector_index("synthetic", dim)
        store.db.execute(f"CREATE VIRTUAL TABLE baseline_vec USING vec0(embedding float[{dim}])")
        t0 = time.perf_counter()
        batch = 2000
        with Progress(disable=quiet, transient=True) as progress:
            task = progress.add_task("inserting", total=n)
            for start in range(0, n, batch):
                end = min(n, start + batch)
                store.add_propositions(
                    (Proposition(text=texts[i], confidence=0.5 + 0.5 * (i % 7) / 6, source="llm"), (), vecs[i])
                    for i in range(start, end)
                )
                progress.update(task, completed=end)
        insert_s = time.perf_counter() - t0
        with store.transaction():
            store.db.conn.executemany(
                "INSERT INTO baseline_vec (rowid, embedding) VALUES (?, ?)",
                ((i + 1, vecs[i].tobytes()) for i in range(n)),
            )

        params = RetrievalParams()
        rng = np.random.default_rng(11)
        picks = rng.integers(0, n, queries)
        hybrid_ms, float_ms, recalls = [], [], []
        for i in picks:
            # A query near a stored proposition (cosine about 0.9), not a random direction.
            noise = rng.standard_normal(dim).astype(np.float32)
            q = vecs[i] + 0.45 * noise / np.linalg.norm(noise)
            q = (q / np.linalg.norm(q)).astype(np.float32)
            before, after = texts[i].split(" and ", 1)
            query_text = f"{before.split()[-1]} {after.split()[0]}"  # the two topics

            t = time.perf_counter()
            store.db.execute(
                "SELECT rowid, distance FROM baseline_vec WHERE embedding MATCH ? AND k = 10", [q.tobytes()]
            ).fetchall()
            float_ms.append((time.perf_counter() - t) * 1000)

            t = time.perf_counter()
            search(store, query_text, embedding=q, limit=10, params=params)
            hybrid_ms.append((time.perf_counter() - t) * 1000)

            exact = set((np.argsort(-(vecs @ q))[:10] + 1).tolist())
            # The vector path exactly as hybrid search runs it, cut to its top 10.
            path = store.vector_candidates(q, params.candidates, params.vector_oversample)
            approx = {pid for pid, _ in path[:10]}
            recalls.append(len(exact & approx) / 10)

    return {
        "n": n,
        "dim": dim,
        "queries": queries,
        "hybrid_p50_ms": round(percentile(hybrid_ms, 50), 2),
        "hybrid_p95_ms": round(percentile(hybrid_ms, 95), 2),
        "vec0_float_p50_ms": round(percentile(float_ms, 50), 2),
        "vec0_float_p95_ms": round(percentile(float_ms, 95), 2),
        "hybrid_vs_float_p95_ratio": round(percentile(hybrid_ms, 95) / percentile(float_ms, 95), 3),
        "recall_at_10": round(float(np.mean(recalls)), 4),
        "insert_per_s": round(n / insert_s, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000, help="propositions to insert")
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    if args.n < 10 or args.dim % 8:
        parser.error("--n must be ≥ 10 and --dim a multiple of 8")
    result = run(args.n, args.dim, args.queries, quiet=args.json)
    print(json.dumps(result, indent=None if args.json else 2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

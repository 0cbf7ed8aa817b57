"""Which embedder, and does hybrid retrieval beat BM25? Recall@5 and MRR on a labelled memory.

    python bench/embed_quality.py --json

300 propositions about a fictional user (bench/data/maya.py), 100 queries
each labelled with the one proposition that answers it. Reports BM25 alone,
each candidate embedder alone, and tacit's hybrid search with each.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import platformdirs

sys.path.insert(0, str(Path(__file__).parent / "data"))
import maya  # noqa: E402

from tacitd.memory.retrieve import RetrievalParams, search  # noqa: E402
from tacitd.memory.store import Store  # noqa: E402
from tacitd.memory.types import Proposition, SearchFilters  # noqa: E402
from tacitd.models import presets  # noqa: E402
from tacitd.models.embed import LlamaCppEmbedder  # noqa: E402

DEPTH = 50


def metrics(ranks: list[int | None]) -> dict[str, float]:
    return {
        "recall_at_5": round(sum(1 for r in ranks if r is not None and r <= 5) / len(ranks), 3),
        "mrr": round(sum(1 / r for r in ranks if r is not None) / len(ranks), 3),
    }


def rank_of(target: int, ids: list[int]) -> int | None:
    return ids.index(target) + 1 if target in ids else None


def candidates(cache: Path) -> dict[str, LlamaCppEmbedder]:
    found = {}
    minilm = cache / presets.get("all-minilm-l6-v2").filename
    if minilm.is_file():
        found["all-minilm-l6-v2"] = LlamaCppEmbedder(minilm, name="all-minilm-l6-v2")
    gemma = cache / presets.get("gemma3-270m").filename
    if gemma.is_file():
        found["gemma3-270m-mean"] = LlamaCppEmbedder(gemma, name="gemma3-270m-mean", mean_pooling=True)
    return found


def run(cache: Path) -> dict[str, object]:
    texts = [p for p, _ in maya.PAIRS] + maya.distractors()
    queries = [q for _, q in maya.PAIRS]
    result: dict[str, object] = {"propositions": len(texts), "queries": len(queries)}
    no_mmr = RetrievalParams(mmr_lambda=1.0, candidates=DEPTH)
    with tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "bm25.db") as store:
            ids = store.add_propositions((Proposition(text=t, confidence=0.8), (), None) for t in texts)
            result["bm25"] = metrics([rank_of(ids[i], store.text_candidates(q, DEPTH, SearchFilters()))
                                      for i, q in enumerate(queries)])
        for name, embedder in candidates(cache).items():
            start = time.perf_counter()
            vecs = embedder.embed(texts)
            qvecs = embedder.embed(queries)
            ms_per_text = (time.perf_counter() - start) * 1000 / (len(texts) + len(queries))
            with Store(Path(tmp) / f"{name}.db") as store:
                store.ensure_vector_index(name, vecs.shape[1] + (-vecs.shape[1]) % 8)
                pad = (-vecs.shape[1]) % 8
                vecs_p = np.pad(vecs, ((0, 0), (0, pad)))
                qvecs_p = np.pad(qvecs, ((0, 0), (0, pad)))
                ids = store.add_propositions((Proposition(text=t, confidence=0.8), (), v) for t, v in zip(texts, vecs_p))
                vector_only = [rank_of(ids[i], [pid for pid, _ in store.vector_candidates(qv, DEPTH, 8)])
                               for i, qv in enumerate(qvecs_p)]
                hybrid = [rank_of(ids[i], [h.proposition.id for h in search(store, q, embedding=qv, limit=DEPTH,
                                                                           params=no_mmr)])
                          for i, (q, qv) in enumerate(zip(queries, qvecs_p))]
            result[name] = {"ms_per_text": round(ms_per_text, 1), "dim": int(vecs.shape[1]),
                            "vector_only": metrics(vector_only), "hybrid": metrics(hybrid)}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=platformdirs.user_cache_path("tacit") / "models",
                        help="model cache holding the GGUFs (default: tacit's)")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    print(json.dumps(run(args.cache), indent=None if args.json else 2))


if __name__ == "__main__":
    main()

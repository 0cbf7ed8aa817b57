"""Which embedder, and does hybrid retrieval beat each of its signals? Recall@5 and MRR on a labelled memory.

    python bench/embed_quality.py --json

The memory is bench/data/sam.py: ~1,050 propositions about one user (facts,
six weeks of dated episodes, varied distractors), each with its evidence, and
300+ questions, some with several answers, some sharing no word with their
answer, some about time ("what was Sam doing last Tuesday"). For each
embedder whose GGUF is in the cache it reports, with bootstrap 95% intervals
over questions:

- bm25: FTS5 BM25 alone; vectors: the vec0 KNN alone; hybrid: tacit's
  `search` (fusion, time words, confidence and recency; MMR off so the ranking
  is the fused one), on the clock of the data set;
- the same three with each proposition's evidence indexed too (evidence text
  in the FTS `reasoning` column, and embedded with the proposition);
- per-text embedding cost, timed in this process on the same texts in
  alternating chunks (fastest of three tries each), and as a ratio to
  all-MiniLM-L6-v2 (the CPU is shared, so absolute times are noisy and the
  ratio is what to compare).

Every figure comes twice: on the held-out half of the questions (sam.split:
seeded, stratified by kind; no weight was chosen on it) and on all of them.
`paired` gives hybrid minus BM25 and hybrid minus vectors per question with a
paired bootstrap 95% interval; `text_no_priors` reruns hybrid with confidence
and recency weighing nothing (they cannot help here: answers and distractors
draw them from the same distributions), and the verdict asks for the held-out
paired interval to lie above 0.

    python bench/embed_quality.py --json --no-timing --only all-minilm-l6-v2

recall@5 counts the share of a question's relevant propositions in the top 5
(out of at most 5); MRR is the reciprocal rank of the first relevant one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import platformdirs

sys.path.insert(0, str(Path(__file__).parent / "data"))
import sam  # noqa: E402

from tacitd.daemon.config import ModelSettings  # noqa: E402
from tacitd.memory.retrieve import RetrievalParams, search  # noqa: E402
from tacitd.memory.store import Store  # noqa: E402
from tacitd.memory.types import Observation, Proposition, SearchFilters  # noqa: E402
from tacitd.models import presets  # noqa: E402
from tacitd.models.embed import LlamaCppEmbedder  # noqa: E402

DEPTH = 50
BOOTSTRAP = 2000
TIMING_TEXTS = 160


def recall_at(ranked: Sequence[str], relevant: Sequence[str], k: int = 5) -> float:
    return len(set(ranked[:k]) & set(relevant)) / min(k, len(relevant))


def reciprocal_rank(ranked: Sequence[str], relevant: Sequence[str]) -> float:
    return next((1 / (i + 1) for i, key in enumerate(ranked) if key in relevant), 0.0)


def interval(values: np.ndarray, rng: np.random.Generator) -> dict[str, object]:
    """Mean with a percentile-bootstrap 95% interval (resampling questions)."""
    means = values[rng.integers(0, len(values), (BOOTSTRAP, len(values)))].mean(axis=1)
    return {"mean": round(float(values.mean()), 3),
            "ci95": [round(float(np.percentile(means, 2.5)), 3), round(float(np.percentile(means, 97.5)), 3)]}


TIMED = ("time", "topic_time")  # questions whose answer needs the stored times
SIGNALS = ("bm25", "vectors", "hybrid")
NO_PRIORS = {"confidence_floor": 1.0, "recency_floor": 1.0}  # confidence and recency weigh nothing


def per_question(rankings: list[list[str]], queries: list[sam.Query]) -> dict[str, np.ndarray]:
    return {"recall_at_5": np.array([recall_at(r, q.relevant) for r, q in zip(rankings, queries, strict=True)]),
            "mrr": np.array([reciprocal_rank(r, q.relevant) for r, q in zip(rankings, queries, strict=True)])}


def score(rankings: list[list[str]], queries: list[sam.Query], seed: int = 0) -> dict[str, object]:
    """The given questions; those that name no time (what words and meaning alone can answer); each kind."""
    rng = np.random.default_rng(seed)
    values = per_question(rankings, queries)
    recall, rr = values["recall_at_5"], values["mrr"]
    untimed = np.array([q.kind not in TIMED for q in queries])
    kinds = sorted({q.kind for q in queries})
    by_kind = {kind: {"n": int(sum(q.kind == kind for q in queries)),
                      "recall_at_5": round(float(recall[[q.kind == kind for q in queries]].mean()), 3),
                      "mrr": round(float(rr[[q.kind == kind for q in queries]].mean()), 3)} for kind in kinds}
    return {"n": len(queries), "recall_at_5": interval(recall, rng), "mrr": interval(rr, rng),
            "untimed": {"n": int(untimed.sum()), "recall_at_5": interval(recall[untimed], rng),
                        "mrr": interval(rr[untimed], rng)},
            "by_kind": by_kind}


def paired(a: list[list[str]], b: list[list[str]], queries: list[sam.Query], seed: int = 0) -> dict[str, object]:
    """a - b per question, with a paired bootstrap 95% interval (both resampled on the same questions),
    over the given questions and over those that name no time."""
    rng = np.random.default_rng(seed)
    va, vb = per_question(a, queries), per_question(b, queries)
    untimed = np.array([q.kind not in TIMED for q in queries])
    out: dict[str, object] = {}
    for metric in ("recall_at_5", "mrr"):
        diff = va[metric] - vb[metric]
        out[metric] = interval(diff, rng)
        out[f"untimed_{metric}"] = interval(diff[untimed], rng)
    return out


def report(ranked: dict[str, list[list[str]]], queries: list[sam.Query], held_out: list[int]) -> dict[str, object]:
    """Each signal on the held-out half and on all questions; paired differences hybrid - each other signal."""
    held = [queries[i] for i in held_out]

    def pick(rankings: list[list[str]]) -> list[list[str]]:
        return [rankings[i] for i in held_out]

    out: dict[str, object] = {s: {"held_out": score(pick(ranked[s]), held), "all": score(ranked[s], queries)}
                              for s in SIGNALS if s in ranked}
    out["paired"] = {f"hybrid_minus_{other}": {"held_out": paired(pick(ranked["hybrid"]), pick(ranked[other]), held),
                                              "all": paired(ranked["hybrid"], ranked[other], queries)}
                     for other in ("bm25", "vectors") if other in ranked}
    return out


def evidence_text(item: sam.Item) -> str:
    return " ".join(f"{e.app} {e.title} {e.text}" for e in item.evidence)


def wordless(path: Path, items: list[sam.Item], queries: list[sam.Query]) -> dict[str, int]:
    """How many questions share no content word (FTS5 token, the user's name aside) with any answer."""
    text = {item.key: item.text for item in items}
    with Store(path) as store:
        shared = [bool((store.query_terms(q.text) - {"sam"}) & frozenset().union(*store.terms([text[k] for k in q.relevant])))
                  for q in queries]
    return {"all": shared.count(False), "blind": sum(1 for q, s in zip(queries, shared) if q.kind == "blind" and not s)}


def build_store(path: Path, items: list[sam.Item], vectors: np.ndarray | None, name: str,
                with_evidence: bool) -> dict[int, str]:
    """Store every item with its observations (and vectors); returns {proposition id: item key}."""
    with Store(path) as store:
        if vectors is not None:
            store.ensure_vector_index(name, vectors.shape[1])
        observations = store.add_observations(
            Observation(observer="screen", app=e.app, window_title=e.title, text=e.text, captured_at=e.captured_at)
            for item in items for e in item.evidence)
        obs_ids = iter(o.id for o in observations)
        rows = []
        for i, item in enumerate(items):
            links = [next(obs_ids) for _ in item.evidence]
            p = Proposition(text=item.text, confidence=item.confidence, half_life_days=item.half_life_days,
                            source=item.source, valid_from=item.valid_from, valid_to=item.valid_to,
                            created_at=item.valid_from, updated_at=item.updated_at,
                            reasoning=evidence_text(item) if with_evidence else "")
            rows.append((p, links, None if vectors is None else vectors[i]))
        ids = store.add_propositions(rows)
    return {pid: item.key for pid, item in zip(ids, items, strict=True)}


def rank_all(path: Path, keys: dict[int, str], queries: list[sam.Query],
             qvecs: np.ndarray | None, params: RetrievalParams, singles: bool = True) -> dict[str, list[list[str]]]:
    """Rankings of every question by hybrid search and (with `singles`) by BM25 alone and vectors alone."""
    out: dict[str, list[list[str]]] = {"bm25": [], "vectors": [], "hybrid": []}
    with Store(path) as store:
        for i, q in enumerate(queries):
            qv = None if qvecs is None else qvecs[i]
            if singles:
                out["bm25"].append([keys[pid] for pid in store.text_candidates(q.text, DEPTH, SearchFilters())])
            if singles and qv is not None:
                out["vectors"].append([keys[pid] for pid, _ in store.vector_candidates(qv, DEPTH)])
            hits = search(store, q.text, embedding=qv, limit=DEPTH, params=params, now=sam.NOW)
            out["hybrid"].append([keys[h.proposition.id] for h in hits])
    return {k: v for k, v in out.items() if v}


class VectorCache:
    """Embeddings by (embedder, text), kept in an .npz between runs when a path is given."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, np.ndarray] = dict(np.load(path)) if path and path.is_file() else {}

    def get(self, name: str, texts: Sequence[str], embed: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        keys = [hashlib.sha1(f"{name}\0{t}".encode()).hexdigest() for t in texts]
        missing = [t for t, k in zip(texts, keys) if k not in self.data]
        if missing:
            for k, v in zip([k for k in keys if k not in self.data], embed(missing)):
                self.data[k] = v
            if self.path:
                np.savez(self.path, **self.data)
        return np.stack([self.data[k] for k in keys])


def embedders(cache: Path) -> dict[str, tuple[LlamaCppEmbedder, float]]:
    """Every embedding preset whose GGUF is in the cache, with its cosine noise level."""
    found = {}
    for preset in presets.PRESETS.values():
        path = cache / preset.filename
        if preset.kind == "embedding" and path.is_file():
            noise = preset.similarity_noise if preset.similarity_noise is not None else 0.0
            found[preset.name] = (LlamaCppEmbedder(path, name=preset.name), noise)
    return found


def timings(found: dict[str, tuple[LlamaCppEmbedder, float]], texts: list[str]) -> dict[str, float]:
    """ms per text for each embedder, on the same chunks, interleaved, fastest of 3 tries per chunk.

    Other processes share the CPU; interleaving exposes every embedder to the
    same load, and the fastest try of each chunk is the one least disturbed.
    """
    best: dict[str, list[float]] = {name: [] for name in found}
    for embedder, _ in found.values():
        embedder.embed(texts[:4])  # load
    for start in range(0, len(texts), 16):
        chunk = texts[start : start + 16]
        tries: dict[str, list[float]] = {name: [] for name in found}
        for _ in range(3):
            for name, (embedder, _) in found.items():
                t0 = time.perf_counter()
                embedder.embed(chunk)
                tries[name].append(time.perf_counter() - t0)
        for name in found:
            best[name].append(min(tries[name]))
    return {name: 1000 * sum(b) / len(texts) for name, b in best.items()}


def run(cache: Path, vector_cache: Path | None = None, timing: bool = True,
        only: str | None = None) -> dict[str, object]:
    items, queries = sam.build()
    tuning, held_out = sam.split(queries)
    vcache = VectorCache(vector_cache)
    params = RetrievalParams(mmr_lambda=1.0, candidates=DEPTH)
    result: dict[str, object] = {"data": sam.summary(items, queries), "depth": DEPTH,
                                 "split": {"tuning": len(tuning), "held_out": len(held_out), "stratified_by": "kind",
                                           "note": "weights are tuned on the tuning half; held_out is the honest figure"}}
    found = {n: e for n, e in embedders(cache).items() if only in (None, n)}
    ms = timings(found, [item.text for item in items[:TIMING_TEXTS]]) if timing else {}
    base = ms.get("all-minilm-l6-v2")
    texts = [item.text for item in items]
    with_evidence = [f"{item.text}. {evidence_text(item)}" for item in items]
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "words.db"
        build_store(db, items, None, "none", False)
        result["data"]["questions_sharing_no_word"] = wordless(db, items, queries)  # type: ignore[index]
        for name, (embedder, noise) in found.items():
            out: dict[str, object] = {"dim": embedder.dim, "similarity_noise": noise}
            if name in ms:
                out |= {"ms_per_text": round(ms[name], 2), "cost_vs_minilm": round(ms[name] / base, 2) if base else None}
            tuned = params.model_copy(update={"similarity_noise": noise})
            qvecs = vcache.get(name + "/query", [q.text for q in queries], embedder.embed_query)
            for variant, passages in (("text", texts), ("text_and_evidence", with_evidence)):
                vecs = vcache.get(name, passages, embedder.embed)
                db = Path(tmp) / f"{name}-{variant}.db"
                keys = build_store(db, items, vecs, name, variant != "text")
                ranked = rank_all(db, keys, queries, qvecs, tuned)
                out[variant] = report(ranked, queries, held_out)
                if variant == "text":  # the same fusion with confidence and recency weighing nothing
                    bare = rank_all(db, keys, queries, qvecs, tuned.model_copy(update=NO_PRIORS), singles=False)
                    out["text_no_priors"] = report(ranked | bare, queries, held_out)
            result[name] = out
    result["default_embedder"] = default = ModelSettings().embedder
    if isinstance(result.get(default), dict):
        result["hybrid_beats_both_for_default"] = {
            key: verdict(result[default][key]) for key in ("text", "text_no_priors")}  # type: ignore[index]
    return result


WEIGHT_GRID = (0.4, 1.0, 2.5, 5.0)  # vector_weight, with bm25_weight 1


def tune(cache: Path, vector_cache: Path | None, name: str) -> dict[str, object]:
    """Hybrid (confidence and recency off) on the TUNING half for each vector_weight: how defaults are chosen."""
    items, queries = sam.build()
    tuning, _ = sam.split(queries)
    embedder, noise = embedders(cache)[name]
    vcache = VectorCache(vector_cache)
    qvecs = vcache.get(name + "/query", [q.text for q in queries], embedder.embed_query)[tuning]
    vecs = vcache.get(name, [item.text for item in items], embedder.embed)
    asked = [queries[i] for i in tuning]
    out: dict[str, object] = {"questions": len(asked)}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "tune.db"
        keys = build_store(db, items, vecs, name, False)
        base = RetrievalParams(mmr_lambda=1.0, candidates=DEPTH, similarity_noise=noise, **NO_PRIORS)
        out["vectors"] = score(rank_all(db, keys, asked, qvecs, base)["vectors"], asked)
        for weight in WEIGHT_GRID:
            params = base.model_copy(update={"vector_weight": weight})
            out[f"hybrid_vector_weight_{weight:g}"] = score(
                rank_all(db, keys, asked, qvecs, params, singles=False)["hybrid"], asked)
    return out


def verdict(rep: dict) -> dict[str, bool]:
    """On the held-out half: the paired 95% interval of hybrid - other lies above 0, for both other signals."""
    out = {}
    for metric in ("recall_at_5", "mrr", "untimed_recall_at_5", "untimed_mrr"):
        out[metric] = all(rep["paired"][f"hybrid_minus_{o}"]["held_out"][metric]["ci95"][0] > 0
                          for o in ("bm25", "vectors"))
    return out


def parser_for(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark on the labelled set takes (bench/context_floor.py too)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cache", type=Path, default=platformdirs.user_cache_path("tacit") / "models",
                        help="model cache holding the GGUFs (default: tacit's)")
    parser.add_argument("--vector-cache", type=Path, help="an .npz to keep embeddings in between runs")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    return parser


def main() -> None:
    parser = parser_for(__doc__)
    parser.add_argument("--no-timing", action="store_true", help="skip the per-text embedding cost")
    parser.add_argument("--only", help="measure only this embedder (preset name)")
    parser.add_argument("--tune", action="store_true",
                        help="instead: the weight grid on the tuning half only (default embedder or --only)")
    args = parser.parse_args()
    if args.tune:
        print(json.dumps(tune(args.cache, args.vector_cache, args.only or ModelSettings().embedder)))
        return
    result = run(args.cache, args.vector_cache, timing=not args.no_timing, only=args.only)
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()

"""Hybrid retrieval: BM25 and vector candidates, fused, weighted, diversified.

Steps (DESIGN.md):
1. candidates from FTS5 BM25 and from the vec0 index (binary KNN + float rescoring);
2. reciprocal-rank fusion in which each signal's reciprocal rank is scaled by
   an absolute match quality (share of query terms matched; cosine
   similarity), normalised to [0, 1], so scores compare across queries;
3. weighting by confidence and recency (half-life);
4. MMR over the embeddings (word overlap where a vector is missing).

Every hit carries its score parts and a short "why", so a caller can see
which signals brought it back and set a meaningful score floor.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .store import Store
from .text import words
from .types import Observation, Proposition, SearchFilters, utcnow


class RetrievalParams(BaseModel):
    """Tuning knobs; the defaults are what the benchmark and tests were run with."""

    model_config = ConfigDict(extra="forbid")

    candidates: int = Field(default=40, ge=1, le=500, description="per signal")
    vector_oversample: int = Field(
        default=3, ge=1, le=64, description="binary-KNN candidates per vector candidate kept"
    )
    vector_min_similarity: float = Field(
        default=0.25, ge=-1, le=1, description="vector candidates below this cosine are noise"
    )
    rrf_k: int = Field(default=60, ge=1)
    bm25_weight: float = Field(default=1.0, ge=0)
    vector_weight: float = Field(default=1.0, ge=0)
    confidence_floor: float = Field(default=0.5, ge=0, le=1, description="weight at confidence 0")
    recency_floor: float = Field(default=0.5, ge=0, le=1, description="weight when fully decayed")
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)
    evidence_snippets: int = Field(default=3, ge=0, le=20)


class ScoreParts(BaseModel):
    bm25_rank: int | None = Field(description="1-based rank among BM25 candidates")
    vector_rank: int | None = Field(description="1-based rank among vector candidates")
    similarity: float | None = Field(description="cosine similarity to the query vector")
    relevance: float = Field(description="fused, quality-scaled reciprocal rank in [0, 1]")
    recency: float = Field(description="exp(-ln2 * age / half_life)")
    confidence: float


class Hit(BaseModel):
    proposition: Proposition
    score: float
    parts: ScoreParts
    why: list[str]
    evidence: list[str]


def search(
    store: Store,
    text: str,
    *,
    embedding: np.ndarray | None = None,
    limit: int = 10,
    filters: SearchFilters | None = None,
    floor: float = 0.0,
    params: RetrievalParams | None = None,
    now: datetime | None = None,
) -> list[Hit]:
    """Best `limit` propositions for a query, most useful first."""
    params = params or RetrievalParams()
    filters = filters or SearchFilters()
    now = now or utcnow()
    bm25 = store.text_candidates(text, params.candidates, filters)
    raw_vector = (
        store.vector_candidates(embedding, params.candidates, params.vector_oversample, filters)
        if embedding is not None
        else []
    )
    bm25_set = set(bm25)
    props = store.get_many(list(dict.fromkeys(bm25 + [pid for pid, _ in raw_vector])), filters)
    vector = [(pid, sim) for pid, sim in raw_vector if pid in props and sim >= params.vector_min_similarity]
    kept = bm25_set | {pid for pid, _ in vector}
    props = {pid: p for pid, p in props.items() if pid in kept}
    # FTS5's own tokens, so "matched" agrees with what BM25 matched.
    terms = store.query_terms(text)
    doc_terms = dict(zip(props, store.terms([f"{p.text} {p.reasoning}" for p in props.values()])))
    hits = _score(props, bm25, vector, terms, doc_terms, params, now, use_vector=embedding is not None)
    hits = [h for h in hits if h.score >= floor]
    chosen = _mmr(store, hits, limit, params.mmr_lambda)
    for hit in chosen:
        hit.evidence = [_snippet(o) for o in store.evidence_for(hit.proposition.id, params.evidence_snippets)]
    return chosen


def _score(
    props: dict[int, Proposition],
    bm25: list[int],
    vector: list[tuple[int, float]],
    terms: frozenset[str],
    doc_terms: dict[int, frozenset[str]],
    params: RetrievalParams,
    now: datetime,
    use_vector: bool,
) -> list[Hit]:
    bm25_rank = {pid: i + 1 for i, pid in enumerate(bm25)}
    vec_rank = {pid: i + 1 for i, (pid, _) in enumerate(vector)}
    sims = dict(vector)
    total_weight = params.bm25_weight + (params.vector_weight if use_vector else 0.0)
    hits = []
    for pid, p in props.items():
        matched = terms & doc_terms[pid]
        # Each signal contributes its reciprocal rank (1.0 at rank 1) scaled by an
        # absolute match quality, so a lone weak match never scores like a strong one.
        signals = [
            (params.bm25_weight, bm25_rank.get(pid), len(matched) / len(terms) if terms else 0.0),
            (params.vector_weight, vec_rank.get(pid), max(0.0, sims.get(pid, 0.0))),
        ]
        fused = sum(w * q * (params.rrf_k + 1) / (params.rrf_k + r) for w, r, q in signals if r)
        relevance = fused / total_weight if total_weight else 0.0
        recency = p.recency(now)
        conf_w = params.confidence_floor + (1 - params.confidence_floor) * p.confidence
        rec_w = params.recency_floor + (1 - params.recency_floor) * recency
        parts = ScoreParts(
            bm25_rank=bm25_rank.get(pid),
            vector_rank=vec_rank.get(pid),
            similarity=sims.get(pid),
            relevance=relevance,
            recency=recency,
            confidence=p.confidence,
        )
        why = _why(parts, matched, len(terms), p, now)
        hits.append(Hit(proposition=p, score=relevance * conf_w * rec_w, parts=parts, why=why, evidence=[]))
    hits.sort(key=lambda h: (-h.score, -(h.proposition.id or 0)))
    return hits


def _why(parts: ScoreParts, matched: set[str], n_terms: int, p: Proposition, now: datetime) -> list[str]:
    why = []
    if parts.bm25_rank is not None:
        terms = ", ".join(sorted(matched)[:5]) or "stemmed terms"
        why.append(f"words matched {len(matched)}/{n_terms} ({terms}), BM25 #{parts.bm25_rank}")
    if parts.vector_rank is not None:
        why.append(f"similar meaning (cosine {parts.similarity:.2f}), vector #{parts.vector_rank}")
    why.append(f"confidence {p.confidence:.2f} ({p.source})")
    age_days = (now - p.updated_at).total_seconds() / 86400
    why.append(f"last supported {age_days:.1f} days ago, half-life {p.half_life_days:g} days")
    return why


def _mmr(store: Store, hits: list[Hit], limit: int, lam: float) -> list[Hit]:
    """Maximal marginal relevance: trade a little score for less repetition."""
    pool = hits[: max(3 * limit, 30)]
    if len(pool) <= 1 or lam >= 1.0:
        return pool[:limit]
    sim = _similarities(store, pool)
    rel = np.array([h.score for h in pool]) / (pool[0].score or 1.0)
    chosen = [0]
    max_sim = sim[0].copy()
    open_ = np.ones(len(pool), dtype=bool)
    open_[0] = False
    while len(chosen) < min(limit, len(pool)):
        gain = np.where(open_, lam * rel - (1 - lam) * max_sim, -np.inf)
        j = int(np.argmax(gain))
        chosen.append(j)
        open_[j] = False
        max_sim = np.maximum(max_sim, sim[j])
    return [pool[i] for i in chosen]


def _similarities(store: Store, pool: list[Hit]) -> np.ndarray:
    """Cosine between stored vectors; word-set Jaccard where a vector is missing."""
    ids = [h.proposition.id for h in pool]
    vectors = store.embeddings(ids)
    if len(vectors) == len(ids):
        matrix = np.stack([vectors[i] for i in ids])
        return matrix @ matrix.T
    bags = [set(words(h.proposition.text)) for h in pool]
    n = len(pool)
    sim = np.zeros((n, n))
    for a in range(n):
        for b in range(a + 1, n):
            if ids[a] in vectors and ids[b] in vectors:
                value = float(vectors[ids[a]] @ vectors[ids[b]])
            else:
                union = bags[a] | bags[b]
                value = len(bags[a] & bags[b]) / len(union) if union else 0.0
            sim[a, b] = sim[b, a] = value
    return sim


def _snippet(o: Observation, width: int = 160) -> str:
    where = " — ".join(x for x in (o.app, o.window_title) if x)
    text = " ".join(o.text.split())
    text = text if len(text) <= width else text[: width - 1] + "…"
    return f"[{o.captured_at:%Y-%m-%d %H:%M}] {where}: {text}" if where else f"[{o.captured_at:%Y-%m-%d %H:%M}] {text}"

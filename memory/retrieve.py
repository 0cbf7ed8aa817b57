"""Hybrid retrieval: BM25, vector and time candidates, fused on absolute match qualities.

Steps (DESIGN.md):
1. candidates: FTS5 BM25, the vec0 index (binary KNN + float rescoring), and,
   when the query names a time ("last Tuesday", see timewords.py), what was
   last supported inside that window;
2. each candidate gets absolute qualities in [0, 1], computed for every
   candidate whichever signal found it: lexical (the IDF-weighted share of the
   query's terms it contains, with FTS5's own tokens), semantic (its cosine to
   the query, mapped linearly from the embedder's noise level to 1) and, for
   a time query, the share of it that happened inside the window;
3. relevance is their weighted mean where the words match better than the
   meaning, else the semantic quality (`_fuse`): scores stay absolute in
   [0, 1], so they compare across queries and `--floor` keeps its meaning, and
   a weak word match never drags a good semantic match down;
4. weighting by confidence and recency (half-life; measured from the end of a
   queried window, since "last Tuesday" asks about then, not now);
5. MMR over the embeddings (word overlap where a vector is missing).

Every hit carries its score parts and a short "why", so a caller can see
which signals brought it back and set a meaningful score floor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from .store import Store
from .text import words
from .timewords import TimeWindow, find_window, local_now
from .types import Hit, Observation, Proposition, ScoreParts, SearchFilters


class RetrievalParams(BaseModel):
    """Tuning knobs; weights as chosen on the tuning half of bench/embed_quality.py's questions."""

    model_config = ConfigDict(extra="forbid")

    candidates: int = Field(default=40, ge=1, le=500, description="per signal")
    vector_oversample: int = Field(
        default=3, ge=1, le=64, description="binary-KNN candidates per vector candidate kept"
    )
    similarity_noise: float = Field(
        default=0.1, ge=-1, lt=1,
        description="the embedder's cosine between unrelated texts: semantic quality 0 there, 1 at cosine 1",
    )
    bm25_weight: float = Field(default=1.0, ge=0, description="weight of the lexical quality")
    vector_weight: float = Field(default=1.0, ge=0, description="weight of the semantic quality")
    time_weight: float = Field(default=0.5, ge=0, le=1, description="share of relevance a time phrase decides")
    confidence_floor: float = Field(default=0.5, ge=0, le=1, description="weight at confidence 0")
    recency_floor: float = Field(default=0.5, ge=0, le=1, description="weight when fully decayed")
    mmr_lambda: float = Field(default=0.7, ge=0, le=1)
    evidence_snippets: int = Field(default=3, ge=0, le=20)


@dataclass
class _Signals:
    """What the candidate generators found, for scoring."""

    bm25: list[int]
    vector: list[tuple[int, float]]
    cosines: dict[int, float]  # every candidate with a stored vector, not only the vector hits
    terms: frozenset[str]
    doc_terms: dict[int, frozenset[str]]
    idf: dict[str, float]
    window: TimeWindow | None


@dataclass
class _Scored:
    """One candidate's score and the qualities behind it; a `Hit` is made only for those returned."""

    p: Proposition
    score: float
    lexical: float
    semantic: float | None
    cosine: float | None
    time_match: float | None
    relevance: float
    recency: float
    matched: frozenset[str]


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
    """Best `limit` propositions for a query, most useful first.

    `now` sets the clock and the zone time words are read in (default: the
    local time); `embedding` is the query's vector, from `embed_query`.
    """
    params = params or RetrievalParams()
    filters = filters or SearchFilters()
    now = now or local_now()  # the zone's rules, not today's offset: "last week" may span a DST change
    window = find_window(text, now) if params.time_weight > 0 else None
    words_text = window.rest if window else text  # "last Tuesday" is matched by time, not by words
    bm25 = store.text_candidates(words_text, params.candidates, filters)
    vector = (
        store.vector_candidates(embedding, params.candidates, params.vector_oversample, filters)
        if embedding is not None
        else []
    )
    timed = [p.id for p in store.recent(params.candidates, _within(filters, window))] if window else []
    props = store.get_many(list(dict.fromkeys(bm25 + [pid for pid, _ in vector] + timed)), filters)
    # FTS5's own tokens, so "matched" agrees with what BM25 matched.
    terms = store.query_terms(words_text)
    doc_terms = dict(zip(props, store.terms([f"{p.text} {p.reasoning}" for p in props.values()])))
    vectors = store.embeddings(list(props))  # read once: for the cosines and for MMR
    signals = _Signals(bm25, vector, _cosines(vectors, embedding), terms, doc_terms, _idf(store, terms), window)
    scored = [s for s in _score(props, signals, params, now) if s.score >= floor]
    chosen = _mmr(scored, vectors, limit, params.mmr_lambda)
    hits = [_hit(s, signals, now) for s in chosen]
    for hit in hits:
        hit.evidence = [_snippet(o) for o in store.evidence_for(hit.proposition.id, params.evidence_snippets)]
    return hits


def _within(filters: SearchFilters, window: TimeWindow) -> SearchFilters:
    """The caller's filters, narrowed to propositions last supported inside the window."""
    since = max(filters.since, window.start) if filters.since else window.start
    until = min(filters.until, window.end) if filters.until else window.end
    return filters.model_copy(update={"since": since, "until": until})


def _cosines(vectors: dict[int, np.ndarray], embedding: np.ndarray | None) -> dict[int, float]:
    if embedding is None or not vectors:
        return {}
    query = np.asarray(embedding, dtype=np.float32)
    query = query / (np.linalg.norm(query) or 1.0)
    return dict(zip(vectors, (np.stack(list(vectors.values())) @ query).tolist()))


def _idf(store: Store, terms: frozenset[str]) -> dict[str, float]:
    """BM25's inverse document frequency, so a rare word counts for more than "Sam"."""
    total, counts = store.term_stats(sorted(terms))
    return {t: math.log(1 + (total - n + 0.5) / (n + 0.5)) for t, n in counts.items()}


def _fuse(lexical: float, semantic: float | None, params: RetrievalParams) -> float:
    """The semantic quality, lifted towards the lexical one where the words match better than the meaning.

    The weighted mean of the two, but never below the semantic quality alone:
    a strong IDF-weighted word match (rare words) lifts a candidate, while a
    weak or absent one never drags a good semantic match down (on the
    benchmark's tuning half a plain mean scored below vectors alone on
    questions naming no time). Lexical alone without a query vector.
    """
    if semantic is None:
        return lexical
    total = params.bm25_weight + params.vector_weight
    mean = (params.bm25_weight * lexical + params.vector_weight * semantic) / total if total else 0.0
    return max(semantic, mean)


def _score(props: dict[int, Proposition], signals: _Signals, params: RetrievalParams,
           now: datetime) -> list[_Scored]:
    """Every candidate's score, best first (newest first on ties)."""
    weight_all = sum(signals.idf.values())
    clock = signals.window.end if signals.window else now
    span = 1.0 - params.similarity_noise
    scored = []
    for pid, p in props.items():
        matched = signals.terms & signals.doc_terms[pid]
        lexical = sum(signals.idf[t] for t in matched) / weight_all if weight_all else 0.0
        cosine = signals.cosines.get(pid)
        # No vector stored for it (added while no embedder ran): judged on its words alone.
        semantic = None if cosine is None else min(1.0, max(0.0, (cosine - params.similarity_noise) / span))
        relevance = _fuse(lexical, semantic, params)
        time_match = None
        if signals.window:
            time_match = _time_match(signals.window, p)
            relevance = (1 - params.time_weight) * relevance + params.time_weight * time_match
        recency = p.recency(max(clock, p.updated_at))
        conf_w = params.confidence_floor + (1 - params.confidence_floor) * p.confidence
        rec_w = params.recency_floor + (1 - params.recency_floor) * recency
        scored.append(_Scored(p, relevance * conf_w * rec_w, lexical, semantic, cosine, time_match,
                              relevance, recency, matched))
    scored.sort(key=lambda s: (-s.score, -(s.p.id or 0)))
    return scored


def _hit(s: _Scored, signals: _Signals, now: datetime) -> Hit:
    pid = s.p.id
    parts = ScoreParts(
        bm25_rank=signals.bm25.index(pid) + 1 if pid in signals.bm25 else None,
        vector_rank=next((i + 1 for i, (v, _) in enumerate(signals.vector) if v == pid), None),
        similarity=s.cosine,
        lexical=s.lexical,
        semantic=s.semantic,
        time_match=s.time_match,
        relevance=s.relevance,
        recency=s.recency,
        confidence=s.p.confidence,
    )
    why = _why(parts, s.matched, len(signals.terms), s.p, now, signals.window)
    return Hit(proposition=s.p, score=s.score, parts=parts, why=why, evidence=[])


def _time_match(window: TimeWindow, p: Proposition) -> float:
    """How much of a bounded event lies in the window; an open-ended fact seen in it counts half."""
    if p.valid_to is not None:
        return window.share_inside(p.valid_from, p.valid_to)
    return 0.5 if window.contains(p.updated_at) else 0.0


def _why(parts: ScoreParts, matched: frozenset[str], n_terms: int, p: Proposition, now: datetime,
         window: TimeWindow | None) -> list[str]:
    why = []
    if matched:
        rank = f", BM25 #{parts.bm25_rank}" if parts.bm25_rank is not None else ""
        why.append(f"words matched {len(matched)}/{n_terms} ({', '.join(sorted(matched)[:5])}){rank}")
    if parts.similarity is not None and parts.semantic:
        rank = f", vector #{parts.vector_rank}" if parts.vector_rank is not None else ""
        why.append(f"similar meaning (cosine {parts.similarity:.2f}){rank}")
    if window is not None and parts.time_match:
        why.append(f"{parts.time_match:.0%} inside {window.phrase!r}")
    why.append(f"confidence {p.confidence:.2f} ({p.source})")
    age_days = (now - p.updated_at).total_seconds() / 86400
    why.append(f"last supported {age_days:.1f} days ago, half-life {p.half_life_days:g} days")
    return why


def _mmr(scored: list[_Scored], vectors: dict[int, np.ndarray], limit: int, lam: float) -> list[_Scored]:
    """Maximal marginal relevance: trade a little score for less repetition."""
    pool = scored[: max(3 * limit, 30)]
    if len(pool) <= 1 or lam >= 1.0:
        return pool[:limit]
    sim = _similarities(pool, vectors)
    rel = np.array([s.score for s in pool]) / (pool[0].score or 1.0)
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


def _similarities(pool: list[_Scored], vectors: dict[int, np.ndarray]) -> np.ndarray:
    """Cosine between stored vectors; word-set Jaccard where a vector is missing."""
    ids = [s.p.id for s in pool]
    if all(i in vectors for i in ids):
        matrix = np.stack([vectors[i] for i in ids])
        return matrix @ matrix.T
    bags = [set(words(s.p.text)) for s in pool]
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
    when = o.captured_at.astimezone().isoformat(" ", "minutes")  # the reader's local time, with its offset
    return f"[{when}] {where}: {text}" if where else f"[{when}] {text}"

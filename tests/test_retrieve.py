"""Hybrid retrieval: BM25 + vectors fused, weighted by confidence and recency, diversified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from helpers import unit
from tacitd.memory.retrieve import RetrievalParams, search
from tacitd.memory.types import Observation, Proposition, SearchFilters


def add(store, text, confidence=0.7, vec=None, days_ago=0.0, **kw):
    when = datetime.now(UTC) - timedelta(days=days_ago)
    p = Proposition(text=text, confidence=confidence, valid_from=when, created_at=when, updated_at=when, **kw)
    return store.add_proposition(p, embedding=vec, evidence=kw.pop("evidence", ()))


def test_bm25_alone_finds_and_explains(store):
    target = add(store, "Sam prefers dark mode in every editor")
    add(store, "Sam runs on Sunday mornings")
    hits = search(store, "dark mode")
    assert [h.proposition.id for h in hits] == [target.id]
    parts = hits[0].parts
    assert parts.bm25_rank == 1 and parts.vector_rank is None
    assert parts.relevance == pytest.approx(1.0)
    assert any("dark" in w and "mode" in w for w in hits[0].why)


MEMORIES = [
    "Sam fine-tunes language models on a GPU",
    "Sam bakes sourdough bread on weekends",
    "Sam walks the dog in the park every evening",
    "Sam pays the electricity bill online",
    "Sam is planning a trip to Lisbon in March",
    "Sam plays chess at a club on Thursdays",
]


@pytest.mark.parametrize("query, expected", [
    ("machine learning hardware", 0),
    ("household utilities", 3),
    ("vacation abroad in Portugal", 4),
    ("board games", 5),
])
def test_the_real_embedder_finds_meaning_without_shared_words(store, minilm, query, expected):
    store.ensure_vector_index(minilm.name, minilm.dim)
    ids = store.add_propositions((Proposition(text=t, confidence=0.7), (), v)
                                 for t, v in zip(MEMORIES, minilm.embed(MEMORIES)))
    hits = search(store, query, embedding=minilm.embed([query])[0])
    assert hits[0].proposition.id == ids[expected]
    assert hits[0].parts.bm25_rank is None  # no word in common: the vectors alone found it


def test_filters_hold_inside_the_vector_search(store):
    """300 nearer vectors that fail the filter must not crowd out the one that passes."""
    dim = 384
    rng = np.random.default_rng(7)
    query = rng.standard_normal(dim).astype(np.float32)
    query /= np.linalg.norm(query)

    def at(cosine: float) -> np.ndarray:
        noise = rng.standard_normal(dim).astype(np.float32)
        noise -= (noise @ query) * query
        return cosine * query + np.sqrt(1 - cosine**2) * noise / np.linalg.norm(noise)

    store.ensure_vector_index("test", dim)
    store.add_propositions((Proposition(text=f"Sam note {i}", confidence=0.2), (), at(0.9)) for i in range(300))
    match = store.add_proposition(Proposition(text="Sam keeps a diary", confidence=0.8), embedding=at(0.74))

    hits = search(store, "journal entries", embedding=query, filters=SearchFilters(min_confidence=0.5))

    assert [h.proposition.id for h in hits] == [match.id]
    assert hits[0].parts.similarity == pytest.approx(0.74, abs=0.01)


def test_both_signals_beat_one(store):
    store.ensure_vector_index("test", 16)
    both = add(store, "Sam writes Rust services", vec=unit(1, 0))
    words_only = add(store, "Rust belt travel notes", vec=unit(0, 1))
    hits = search(store, "Rust", embedding=unit(1, 0.05))
    assert hits[0].proposition.id == both.id
    assert hits[0].score > next(h.score for h in hits if h.proposition.id == words_only.id)


def test_scores_compare_across_queries(store):
    add(store, "Sam is learning Japanese with flashcards")
    full = search(store, "learning Japanese flashcards")[0].score
    partial = search(store, "Japanese opera tickets")[0].score
    assert full > 0.8 and partial < 0.4  # 3 of 3 terms against 1 of 3, same confidence


def test_confidence_and_recency_weigh_in(store):
    sure = add(store, "Sam plays chess online", confidence=0.95)
    unsure = add(store, "Sam plays chess in a club", confidence=0.2)
    hits = search(store, "plays chess", params=RetrievalParams(mmr_lambda=1.0))
    assert [h.proposition.id for h in hits] == [sure.id, unsure.id]

    stale = add(store, "Sam is reading about volcanoes", days_ago=60, half_life_days=7)
    lasting = add(store, "Sam is reading about volcanoes at home", days_ago=60, half_life_days=3650)
    hits = search(store, "reading volcanoes", params=RetrievalParams(mmr_lambda=1.0))
    assert hits[0].proposition.id == lasting.id
    assert hits[1].proposition.id == stale.id and hits[1].parts.recency < 0.01


@pytest.mark.parametrize("path", ["words", "vectors"])
def test_filters(store, path):
    """Each filter holds on both paths: BM25 alone, and the vector index alone."""
    store.ensure_vector_index("test", 16)
    vec = unit(1, 0.1)
    obs = store.add_observation(Observation(observer="window", app="firefox", text="x"))
    low = add(store, "Sam reads Hacker News", confidence=0.3, vec=vec)
    old = add(store, "Sam reads the Economist", days_ago=10, vec=vec)
    user = add(store, "Sam reads novels", source="user", vec=vec)
    from_firefox = store.add_proposition(Proposition(text="Sam reads blogs", confidence=0.8), evidence=[obs.id],
                                         embedding=vec)
    rejected = store.reject(add(store, "Sam reads comics", vec=vec).id)
    text, embedding = ("reads", None) if path == "words" else ("zzz", unit(1))

    def ids(**kw):
        hits = search(store, text, embedding=embedding, filters=SearchFilters(**kw))
        assert all((h.parts.bm25_rank is None) == (path == "vectors") for h in hits)
        return {h.proposition.id for h in hits}

    assert ids() == {low.id, old.id, user.id, from_firefox.id}
    assert low.id not in ids(min_confidence=0.5)
    assert old.id not in ids(since=datetime.now(UTC) - timedelta(days=1))
    assert ids(until=datetime.now(UTC) - timedelta(days=5)) == {old.id}
    assert ids(source=("user",)) == {user.id}
    assert ids(app="firefox") == {from_firefox.id}
    assert ids(status=("rejected",)) == {rejected.id}


def test_match_quality_uses_the_index_stemmer(store):
    """BM25 matches "running" to "runs" (porter); the score must agree, or a floor drops the best hit."""
    runs = add(store, "Sam runs along the river every morning")
    add(store, "Sam cooks dinner for friends")
    hits = search(store, "running", floor=0.5)
    assert [h.proposition.id for h in hits] == [runs.id]
    assert hits[0].parts.bm25_rank == 1
    assert "1/1 (run)" in hits[0].why[0]


def test_score_floor_drops_weak_matches(store):
    add(store, "Sam climbs at the bouldering gym")
    add(store, "Sam visits the gym", confidence=0.1)
    assert len(search(store, "bouldering gym")) == 2
    kept = search(store, "bouldering gym", floor=0.6)
    assert [h.proposition.text for h in kept] == ["Sam climbs at the bouldering gym"]


def test_mmr_prefers_a_different_fact_over_a_near_duplicate(store):
    store.ensure_vector_index("test", 16)
    a = add(store, "Sam uses Python for data analysis", vec=unit(1, 0, 0))
    add(store, "Sam uses Python for data analysis work", vec=unit(1, 0.01, 0))
    c = add(store, "Sam uses Python for home automation", vec=unit(0, 0, 1))
    plain = search(store, "Python data", embedding=unit(1, 0, 0), limit=2, params=RetrievalParams(mmr_lambda=1.0))
    diverse = search(store, "Python data", embedding=unit(1, 0, 0), limit=2, params=RetrievalParams(mmr_lambda=0.5))
    assert plain[0].proposition.id == diverse[0].proposition.id == a.id
    assert plain[1].proposition.id != c.id and diverse[1].proposition.id == c.id


def test_hits_carry_evidence_snippets(store):
    obs = store.add_observation(Observation(observer="screen", app="kitty", window_title="nvidia-smi",
                                            text="GPU 0: 21GiB used by python train.py"))
    store.add_proposition(Proposition(text="Sam trains models on a GPU", confidence=0.8), evidence=[obs.id])
    hit = search(store, "GPU training")[0]
    assert len(hit.evidence) == 1 and "kitty — nvidia-smi" in hit.evidence[0] and "21GiB" in hit.evidence[0]


def test_fts_syntax_in_queries_is_just_text(store):
    add(store, "Sam likes C++ and OR gates")
    assert search(store, 'NEAR("c" OR) * ^ -gates"')[0].proposition.text == "Sam likes C++ and OR gates"
    assert search(store, "and the of") == []

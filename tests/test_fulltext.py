"""BM25 candidates: the shortcuts for common words keep the exact order where they claim to.

`max_scored` is lowered so that a few hundred rows take the paths that 100k
propositions take (bench/retrieval.py measures those at full size).
"""

from __future__ import annotations

import random

import pytest

from tacitd.memory.sql import filter_sql
from tacitd.memory.store import Store
from tacitd.memory.types import Proposition, SearchFilters

TOPICS = ["kafka", "rust", "cello", "sourdough", "tokyo", "chess", "yoga", "terraform", "jazz", "kayak"]
VERBS = ["writes about", "reads about", "practises", "plans", "reviews"]


@pytest.fixture
def memory(store):
    """300 propositions, all about Sam; each topic in about 60 of them."""
    rng = random.Random(3)
    rows = []
    for i in range(300):
        a, b = rng.sample(TOPICS, 2)
        text = f"Sam {rng.choice(VERBS)} {a} and {b}" + " again" * rng.randrange(3)
        rows.append((Proposition(text=text, confidence=round(0.1 + 0.9 * rng.random(), 2)), (), None))
    store.add_propositions(rows)
    store.fulltext.max_scored = 100
    return store


def exact(store, words: str, k: int, filters: SearchFilters = SearchFilters()) -> list[int]:
    """Every row matching any word scored by BM25; ties newest first, as the store ranks."""
    where, params = filter_sql(filters)
    match = " OR ".join(f'"{w}"' for w in words.split())
    return [r[0] for r in store.db.execute(
        "SELECT p.id FROM propositions_fts f JOIN propositions p ON p.id = f.rowid "
        f"WHERE propositions_fts MATCH ? AND {where} ORDER BY bm25(propositions_fts, 1.0, 0.3), p.id DESC LIMIT ?",
        [match, *params, k]).fetchall()]


def test_a_word_in_every_row_is_left_out_without_changing_the_order(memory):
    # "Sam" (300 rows) puts the query past max_scored; "kafka" alone matches about 60.
    found = memory.text_candidates("what is Sam doing with kafka", 20, SearchFilters())
    assert len(found) == 20
    assert found == exact(memory, "sam kafka", 20)


def test_rows_with_every_word_come_first_and_match_the_exact_order(memory):
    found = memory.text_candidates("Sam kafka rust", 5, SearchFilters())
    assert found == exact(memory, "sam kafka rust", 5)
    texts = [memory.get(pid).text for pid in found]
    assert all("kafka" in t and "rust" in t for t in texts)


def test_filters_hold_when_too_few_rows_with_every_word_pass_them(memory):
    strict = SearchFilters(min_confidence=0.9)
    found = memory.text_candidates("Sam kafka rust", 12, strict)
    assert found == exact(memory, "sam kafka rust", 12, strict)
    assert all(memory.get(pid).confidence >= 0.9 for pid in found)
    # Fewer than 12 confident rows hold both words, so rows with one of them fill the list.
    assert any(not ("kafka" in t and "rust" in t) for t in (memory.get(pid).text for pid in found))


def test_only_the_newest_max_scored_matches_are_scored(memory):
    memory.fulltext.max_scored = 30
    found = memory.text_candidates("kafka", 10, SearchFilters())
    newest = exact(memory, "kafka", 300)
    newest = sorted(newest, reverse=True)[:30]
    assert len(found) == 10 and set(found) <= set(newest)


def test_when_every_word_is_in_most_rows_the_newest_matches_come_first(memory):
    rejected = memory.recent(1)[0]
    memory.reject(rejected.id)
    found = memory.text_candidates("what is Sam doing", 5, SearchFilters())
    current = [p.id for p in memory.recent(300)]
    assert found == sorted(current, reverse=True)[:5]
    assert rejected.id not in found


def test_a_small_memory_is_ranked_exactly(store):
    store.add_propositions([(Proposition(text=t, confidence=0.5), (), None)
                            for t in ("Sam runs on Sundays", "Sam runs a small bakery and runs marathons")])
    # Both rows hold "runs": FTS5 cannot weigh it, but in a small memory every match is still found.
    assert sorted(store.text_candidates("running", 10, SearchFilters())) == [1, 2]


def test_word_counts_follow_every_change_to_the_index(store, db_path):
    def add(s, text):
        return s.add_proposition(Proposition(text=text, confidence=0.5))

    tea = add(store, "Sam drinks tea")
    assert store.term_stats(["tea"]) == (1, {"tea": 1})
    with Store(db_path) as other:  # another connection writes
        add(other, "Sam brews tea at work")
    assert store.term_stats(["tea"]) == (2, {"tea": 2})
    store.forget(tea.id)  # a secure delete
    assert store.term_stats(["tea"]) == (1, {"tea": 1})
    with pytest.raises(RuntimeError), store.transaction():
        add(store, "Sam spills tea")
        assert store.term_stats(["tea"]) == (2, {"tea": 2})  # uncommitted rows count inside
        raise RuntimeError("roll back")
    assert store.term_stats(["tea"]) == (1, {"tea": 1})
    store.revise(store.text_candidates("tea", 1, SearchFilters())[0], text="Sam brews green tea at work")
    assert store.term_stats(["tea", "green"]) == (2, {"tea": 2, "green": 1})  # both versions are indexed

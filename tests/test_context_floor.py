"""The context block's relevance floor, on a real store with the real MiniLM embedder.

A question tacit knows nothing about must get "Nothing relevant is known.",
not the nearest beliefs labelled relevant (an assistant trusts them), while a
question it can answer still gets its line. The floor and the name-free query
were chosen by bench/context_floor.py; each unanswerable case here showed
lines before (MIN_RELEVANCE 0.05, RELATIVE_RELEVANCE 0.3, the user's name in
the embedded query: 1 to 38 lines each).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api_server import ApiServer, TestServices
from tacitd.daemon import ops
from tacitd.daemon.api.client import TacitClient
from tacitd.daemon.config import DaemonSettings, Settings
from tacitd.memory.store import Store
from tacitd.memory.types import Proposition

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "data"))
import sam_facts  # noqa: E402

BELIEFS = [text for _, text, _, _ in sam_facts.FACTS[:40]] + [
    "Priya is learning German on Duolingo", "Kofi plays football at weekends", "Mei manages the payments team"]
NOTHING = "Nothing relevant is known."
UNANSWERABLE = ("what is Sam's blood type", "does Sam collect stamps", "does Sam have a pilot's licence",
                "how many moons does Jupiter have", "what is the capital of Peru")
ANSWERABLE = (("which language is Sam studying", "Sam is learning Japanese with Anki flashcards every evening"),
              ("which dataframe library does Sam prefer",
               "Sam writes most data pipelines in Python with Polars instead of pandas"),
              ("what exercise does Sam do", "Sam climbs at a bouldering gym twice a week with friends"))


@pytest.fixture(scope="module")
def sam_store(minilm) -> Iterator[tuple[Store, Settings]]:
    data = Path(tempfile.mkdtemp(prefix="tacit-floor-"))
    store = Store(data / "tacit.db")
    for text in BELIEFS:
        store.add_proposition(Proposition(text=text, confidence=0.8, source="llm"),
                              embedding=ops.embed_for(store, minilm, text))
    yield store, Settings(data_dir=data, daemon=DaemonSettings(user_name="Sam"))
    store.close()
    shutil.rmtree(data, ignore_errors=True)


def block_for(sam_store: tuple[Store, Settings], minilm: Any, query: str) -> Any:
    store, settings = sam_store
    return ops.context(store, settings, query, 1000, lambda text: ops.embed_for(store, minilm, text, query=True))


@pytest.mark.parametrize("query", UNANSWERABLE)
def test_a_question_about_nothing_tacit_knows_gets_nothing_relevant(sam_store, minilm, query):
    block = block_for(sam_store, minilm, query)
    assert [i.text for i in block.items if i.section == "relevant"] == []
    assert NOTHING in block.markdown
    assert len([i for i in block.items if i.section == "profile"]) == ops.PROFILE_WITH_QUERY  # labelled, apart


@pytest.mark.parametrize(("query", "answer"), ANSWERABLE)
def test_an_answerable_question_gets_its_line_among_a_few(sam_store, minilm, query, answer):
    block = block_for(sam_store, minilm, query)
    relevant = [i.text for i in block.items if i.section == "relevant"]
    assert answer in relevant
    assert len(relevant) <= 3  # not the 22 to 37 lines the name in the query brought before
    assert NOTHING not in block.markdown


def test_the_api_route_leaves_the_configured_name_out_of_the_query(tmp_path, minilm):
    """/v1/context (what assistants call) embeds the query as ops.context does: without the user's name."""
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.toml").write_text('[daemon]\nuser_name = "Sam"\n')
    services = TestServices(data, embedder=minilm)
    store = services.store()
    for text in BELIEFS:
        store.add_proposition(Proposition(text=text, confidence=0.8, source="llm"), embedding=services.embed(text))
    server = ApiServer(services).start()
    try:
        with TacitClient(server.socket_path) as client:
            assert NOTHING in client.context("does Sam collect stamps").markdown
            answered = client.context("which language is Sam studying")
            assert ANSWERABLE[0][1] in [i.text for i in answered.items if i.section == "relevant"]
    finally:
        server.stop()
        services.stores.close()


@pytest.mark.parametrize(("query", "name", "expected"), [
    ("does Sam collect stamps", "Sam", "does collect stamps"),
    ("what is Sam's shoe size", "Sam", "what is shoe size"),
    ("SAM’s editor", "Sam", "editor"),  # in capitals, a typographic apostrophe
    ("what does the user like", "the user", "what does like"),
    ("What does The User like", "the user", "What does like"),  # a name with no capital: any case
    ("what will Sam do", "Will", "what will Sam do"),  # a name that is also a word: only as written
    ("did Mark mark the exam", "Mark", "did mark the exam"),
    ("does Sam collect stamps", "Sam Rivera", "does collect stamps"),  # a part of a longer name
    ("is Rivera’s car red", "Sam Rivera", "is car red"),
    ("what does Sam Rivera like", "Sam  Rivera", "what does like"),
    ("does Jo\u0308rg run", "Jörg", "does run"),  # decomposed and composed umlauts are one name
    ("Samuel and samsung phones", "Sam", "Samuel and samsung phones"),  # a whole word only
    ("Sam", "Sam", "Sam"),  # nothing else left: kept whole
    ("Sam's", "Sam", "Sam's"),
    ("what does J.R. like", "J.R.", "what does like"),
    ("what does JxR like", "J.R.", "what does JxR like"),  # the name is literal text, not a pattern
    ("does Sam run", "", "does Sam run"),
    ("does Sam run", "  ", "does Sam run"),
])
def test_without_name(query, name, expected):
    assert ops.without_name(query, name) == expected


def _hit(pid: int, relevance: float) -> Any:
    from tacitd.memory.types import Hit, ScoreParts

    parts = ScoreParts(bm25_rank=None, vector_rank=pid, similarity=None, lexical=0.0, semantic=None, time_match=None,
                       relevance=relevance, recency=1.0, confidence=0.8)
    return Hit(proposition=Proposition(id=pid, text=f"belief {pid}", confidence=0.8), score=relevance, parts=parts,
               why=[], evidence=[])


def test_relevant_keeps_hits_over_the_absolute_and_the_relative_floor():
    hits = [_hit(1, 0.60), _hit(2, 0.31), _hit(3, 0.29), _hit(4, 0.12), _hit(5, 0.0)]
    assert [h.proposition.id for h in ops.relevant(hits, min_relevance=0.0, relative=0.5)] == [1, 2]
    assert [h.proposition.id for h in ops.relevant(hits, min_relevance=0.2, relative=0.0)] == [1, 2, 3]
    assert [h.proposition.id for h in ops.relevant(hits[3:], min_relevance=0.125, relative=0.4)] == []
    assert ops.relevant(hits, min_relevance=0.61, relative=0.0) == []
    assert ops.relevant([], min_relevance=0.0, relative=0.0) == []

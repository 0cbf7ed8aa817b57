"""Revise: drafts against stored propositions, on a real store with the real default embedder.

A stand-in decides the middle band here (the pipeline's logic); the real
model's decisions are tested at the end, on a contradiction and a rejected claim.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from tacitd.daemon.pipeline.queue import Add, Link, Revise, apply, enqueue
from tacitd.daemon.pipeline.revise import (
    Relation, ReviseParams, cosine, decide, raised_support, related, revise, specific_difference,
)
from tacitd.memory.types import Observation, Proposition
from tacitd.models.llm import Usage

DAY1 = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


ANSWERS = {  # the three answers that give each relation
    "identical": {"same_subject": True, "both_true_now": True, "new_adds_detail": False},
    "refines": {"same_subject": True, "both_true_now": True, "new_adds_detail": True},
    "contradicts": {"same_subject": True, "both_true_now": False, "new_adds_detail": True},
    "unrelated": {"same_subject": False, "both_true_now": True, "new_adds_detail": True},
}


class Judge:
    """Stand-in for the middle band: answers one fixed relation and records the pairs it was asked about."""

    name = "stand-in"

    def __init__(self, relation: str = "unrelated"):
        self.relation, self.usage, self.asked = relation, Usage(), []

    def complete_json(self, prompt, schema, *, max_tokens=512):
        assert schema is Relation
        self.asked.append(prompt[-1]["content"])
        return Relation(reason="stand-in", **ANSWERS[self.relation])


@pytest.fixture
def embed(store, minilm):
    store.ensure_vector_index(minilm.name, minilm.dim)
    return lambda text: minilm.embed([text])[0]


def observe(store, when: datetime, text: str = "reward_model.py") -> list[int]:
    o = Observation(observer="screen", app="code", window_title="reward_model.py — rlhf-lab", text=text,
                    captured_at=when)
    return enqueue(store, [o])


def stored(store, embed, text: str, when: datetime = DAY1, confidence: float = 0.5) -> Proposition:
    ids = observe(store, when)
    [pid] = store.add_propositions([(Proposition(text=text, confidence=confidence), ids, embed(text))])
    return store.get(pid)


def draft(text: str, confidence: float = 0.9) -> Proposition:
    return Proposition(text=text, reasoning="seen in the editor", confidence=confidence, half_life_days=14)


@pytest.mark.parametrize(("a", "b", "band"), [
    ("Sam is training a reward model in PyTorch", "Sam trains a PyTorch reward model", "identical"),
    ("Sam is training a reward model in PyTorch", "Sam is building a reward model with PyTorch", "identical"),
    ("Sam is planning a trip to Osaka in March", "Sam is looking at flights from London to Osaka", "middle"),
    ("Sam is training a reward model in PyTorch",
     "Sam is training a reward model on Anthropic HH preference pairs", "middle"),
    ("Sam is planning a trip to Osaka in March", "Sam is training a reward model in PyTorch", "unrelated"),
    ("Sam's bank password is hunter2", "Sam is planning a trip to Osaka in March", "unrelated"),
])
def test_thresholds_sort_the_calibration_pairs_into_their_bands(minilm, a, b, band):
    p = ReviseParams()
    sim = cosine(*minilm.embed([a, b]))
    got = "identical" if sim >= p.identical_at else "middle" if sim >= p.related_at else "unrelated"
    assert got == band, f"cosine {sim:.3f}"


def test_a_changed_date_or_a_negation_is_specific_even_when_the_vectors_agree(minilm):
    a, b = "Sam is planning a trip to Osaka in March", "Sam is planning a trip to Osaka in April"
    assert cosine(*minilm.embed([a, b])) >= ReviseParams().identical_at  # why the word check exists
    assert specific_difference(a, b) == {"march", "april"}
    assert specific_difference("Sam uses Vim", "Sam no longer uses Vim") == {"no", "longer"}
    assert specific_difference("Sam is training a reward model in PyTorch", "Sam trains a PyTorch reward model") \
        == frozenset()


def test_a_paraphrase_links_evidence_without_a_model_call(store, embed):
    old = stored(store, embed, "Sam is training a reward model in PyTorch")
    judge = Judge()
    ids = observe(store, DAY1 + timedelta(hours=2), "class RewardModel")
    out = revise(store, judge, [draft("Sam trains a PyTorch reward model")], ids, embed, DAY1 + timedelta(hours=2))
    assert judge.asked == [] and out.llm_calls == 0
    [d] = out.decisions
    assert (d.relation, d.by, d.target.id) == ("identical", "embedding", old.id)
    [action] = out.actions
    assert isinstance(action, (Link, Revise)) and action.proposition_id == old.id


def test_a_changed_date_goes_to_the_model_and_a_contradiction_supersedes_with_history(store, embed):
    old = stored(store, embed, "Sam is planning a trip to Osaka in March", confidence=0.65)
    judge = Judge("contradicts")
    ids = observe(store, DAY1 + timedelta(days=1))
    out = revise(store, judge, [draft("Sam is planning a trip to Osaka in April")], ids, embed,
                 DAY1 + timedelta(days=1))
    assert len(judge.asked) == 1 and "Osaka in March" in judge.asked[0]
    [action] = out.actions
    assert isinstance(action, Revise) and action.changes["text"].endswith("in April")
    assert action.changes["confidence"] == 0.5  # the old claim's support does not back the new one
    old_evidence = {o.id for o in store.evidence_for(old.id)}
    with store.transaction():
        [new_id] = apply(store, out.actions)
    assert {p.text for p in store.history(new_id)} == {"Sam is planning a trip to Osaka in March",
                                                         "Sam is planning a trip to Osaka in April"}
    before = store.get(old.id)
    assert before.status == "superseded" and before.valid_to is not None
    assert store.get(new_id).status == "current" and store.get(new_id).version == 2
    # the new claim carries only the evidence that contradicted the old one; the old version keeps its own
    assert {o.id for o in store.evidence_for(new_id)} == set(ids)
    assert {o.id for o in store.evidence_for(old.id)} == old_evidence and not old_evidence & set(ids)
    assert store.queue.support([new_id])[new_id].sessions == 1


def test_a_refinement_is_a_new_version_that_keeps_the_support(store, embed):
    old = stored(store, embed, "Sam is training a reward model in PyTorch")
    ids = observe(store, DAY1 + timedelta(days=1))
    text = "Sam is training a reward model on Anthropic HH preference pairs"
    out = revise(store, Judge("refines"), [draft(text)], ids, embed, DAY1 + timedelta(days=1))
    with store.transaction():
        [new_id] = apply(store, out.actions)
    new = store.get(new_id)
    assert new.text == text and new.revision_group == old.revision_group
    assert store.queue.support([new_id])[new_id].days == 2  # old evidence kept, new day added
    assert new.confidence > old.confidence


@pytest.mark.parametrize("relation", ["identical", "refines"])
def test_a_draft_matching_a_rejected_claim_is_not_stored(store, embed, relation):
    old = stored(store, embed, "Sam is training a reward model in PyTorch")
    store.reject(old.id, note="that was a colleague's laptop")
    text = "Sam trains a PyTorch reward model" if relation == "identical" else \
        "Sam is training a reward model on Anthropic HH preference pairs"
    out = revise(store, Judge(relation), [draft(text)], observe(store, DAY1 + timedelta(days=2)), embed,
                 DAY1 + timedelta(days=2))
    [d] = out.decisions
    assert d.blocked and d.target.id == old.id and out.actions == []


@pytest.mark.parametrize(("text", "stored_again"), [
    ("Sam is training a PyTorch reward model on preference pairs", False),  # cosine 0.86: blocked
    ("Sam is training a reward model on Anthropic HH preference pairs", True),  # cosine 0.56: a new claim
])
def test_a_contradiction_of_a_rejected_claim_is_blocked_only_while_close_to_it(store, embed, text, stored_again):
    old = stored(store, embed, "Sam is training a reward model in PyTorch")
    store.reject(old.id)
    out = revise(store, Judge("contradicts"), [draft(text)], observe(store, DAY1 + timedelta(days=2)), embed,
                 DAY1 + timedelta(days=2))
    [d] = out.decisions
    assert d.target.id == old.id and d.blocked is not stored_again
    assert [type(a) for a in out.actions] == ([Add] if stored_again else [])


def test_an_unrelated_draft_is_added_with_the_single_session_prior(store, embed):
    stored(store, embed, "Sam is training a reward model in PyTorch")
    judge = Judge()
    out = revise(store, judge, [draft("Sam is planning a trip to Osaka in March", confidence=1.0)],
                 observe(store, DAY1), embed, DAY1)
    [action] = out.actions
    assert isinstance(action, Add) and action.proposition.confidence == 0.5 and judge.asked == []


@pytest.mark.parametrize("second", [
    "Sam trains a PyTorch reward model",  # a paraphrase (cosine 0.95)
    "Sam is training a reward model in PyTorch",  # word for word
    "Sam writes a pairwise loss for a reward model",  # the same activity from another side (0.70)
])
def test_drafts_of_one_segment_that_say_one_thing_are_stored_once(store, embed, second):
    judge = Judge()
    out = revise(store, judge, [draft("Sam is training a reward model in PyTorch"), draft(second)],
                 observe(store, DAY1), embed, DAY1)
    assert [type(a) for a in out.actions] == [Add] and judge.asked == []
    assert [d.by for d in out.decisions] == ["embedding", "batch"]
    assert out.decisions[1].relation == "identical" and "in PyTorch" in out.decisions[1].reason


def test_drafts_of_one_segment_about_different_aspects_are_each_stored(store, embed):
    texts = ["Sam is planning a trip to Osaka in March", "Sam is booking a ryokan in Kyoto near Gion"]  # 0.62
    out = revise(store, Judge(), [draft(t) for t in texts], observe(store, DAY1), embed, DAY1)
    assert [a.proposition.text for a in out.actions] == texts


def test_without_vectors_only_equal_drafts_are_merged(store):
    texts = ["Sam is training a reward model in PyTorch", "Sam  is training a reward model in pytorch",
             "Sam trains a PyTorch reward model"]
    out = revise(store, Judge(), [draft(t) for t in texts], observe(store, DAY1), None, DAY1)
    assert [a.proposition.text for a in out.actions] == [texts[0], texts[2]]


def test_stats_propositions_are_never_candidates(store, embed):
    ids = observe(store, DAY1)
    text = "Sam works on the projects rlhf-lab"
    store.add_propositions([(Proposition(text=text, confidence=0.6, source="stats"), ids, embed(text))])
    assert related(store, draft(text), embed(text), ReviseParams()) == []


def test_without_a_model_the_middle_band_counts_as_unrelated(store, embed):
    old = stored(store, embed, "Sam is planning a trip to Osaka in March")
    text = "Sam is looking at flights from London to Osaka"
    d, calls = decide(None, draft(text), related(store, draft(text), embed(text), ReviseParams()), ReviseParams())
    assert (d.relation, calls, d.target.id) == ("unrelated", 0, old.id)


@pytest.mark.parametrize("relation", sorted(ANSWERS))
def test_the_three_answers_give_the_relation(relation):
    assert Relation(reason="why", **ANSWERS[relation]).relation == relation


def test_bad_thresholds_are_refused():
    with pytest.raises(ValueError, match="related_at"):
        ReviseParams(identical_at=0.5, related_at=0.8)
    with pytest.raises(ValueError, match="same_segment_at"):
        ReviseParams(same_segment_at=1.5)


# -- the real default model on the middle band ------------------------------------------------


def test_real_model_supersedes_a_contradicted_claim_and_keeps_its_history(store, embed, qwen):
    old = stored(store, embed, "Sam writes Python in Vim")
    when = DAY1 + timedelta(days=3)
    ids = observe(store, when)
    out = revise(store, qwen, [draft("Sam switched from Vim to VS Code for writing Python")], ids, embed, when)
    [d] = out.decisions
    assert d.by == "model" and d.relation == "contradicts", d.reason
    with store.transaction():
        [new_id] = apply(store, out.actions)
    assert store.get(old.id).status == "superseded" and store.get(old.id).valid_to is not None
    assert {p.text: p.status for p in store.history(new_id)} == {
        "Sam writes Python in Vim": "superseded", "Sam switched from Vim to VS Code for writing Python": "current"}
    assert np.isclose(store.get(new_id).confidence, 0.5)
    assert [o.id for o in store.evidence_for(new_id)] == ids and store.evidence_for(old.id)  # history keeps its own


def test_real_model_does_not_store_again_a_claim_the_user_rejected(store, embed, qwen):
    old = stored(store, embed, "Sam is training a reward model in PyTorch")
    store.reject(old.id, note="that was a colleague's code")
    when = DAY1 + timedelta(days=2)
    text = "Sam is training a PyTorch reward model on preference pairs"  # the middle band: the model decides
    out = revise(store, qwen, [draft(text)], observe(store, when), embed, when)
    [d] = out.decisions
    assert d.by == "model" and d.target.id == old.id
    assert d.blocked and out.actions == [], (d.relation, d.reason)


def test_a_refinement_of_a_confirmed_claim_does_not_inherit_the_confirm(store, embed):
    old = stored(store, embed, "Sam is training a reward model in PyTorch")
    store.confirm(old.id)
    text = "Sam is training a reward model on Anthropic HH preference pairs"
    out = revise(store, Judge("refines"), [draft(text)], observe(store, DAY1 + timedelta(days=1)), embed,
                 DAY1 + timedelta(days=1))
    [action] = out.actions
    assert action.changes["text"] == text and action.changes["confidence"] == 0.65  # two days, not 1.0


@pytest.mark.parametrize("relation", ["refines", "contradicts"])
def test_the_model_never_rewrites_what_the_user_said(store, embed, relation):
    said = "Sam is training a reward model in PyTorch"
    ids = observe(store, DAY1)
    [pid] = store.add_propositions([(Proposition(text=said, confidence=1.0, source="user"), ids, embed(said))])
    later = observe(store, DAY1 + timedelta(days=1))
    out = revise(store, Judge(relation), [draft("Sam is training a reward model on Anthropic HH preference pairs")],
                 later, embed, DAY1 + timedelta(days=1))
    with store.transaction():
        apply(store, out.actions)
    [current] = [p for p in store.history(pid) if p.status == "current"]
    assert current.text == said and current.source == "user" and current.version == 1
    linked = {o.id for o in store.evidence_for(pid)}
    assert (set(later) <= linked) == (relation == "refines")  # a refinement supports it; a contradiction does not


@pytest.mark.parametrize(("zone", "days"), [("America/Los_Angeles", 1), ("UTC", 2)])
def test_support_days_are_the_users_calendar_days(store, embed, monkeypatch, zone, days):
    """15:00 and 19:00 on one Los Angeles afternoon are 23:00Z and 03:00Z: two UTC days, one day for the user,
    so seeing it again that evening must not raise confidence as if on another day."""
    first = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    old = stored(store, embed, "Sam is training a reward model in PyTorch", when=first)
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        support = raised_support(store, old.id, first + timedelta(hours=4))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert (support.sessions, support.days) == (2, days)

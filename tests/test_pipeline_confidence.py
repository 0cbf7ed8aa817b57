"""Confidence comes from evidence: sessions and days of support, not the model's own number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tacitd.daemon.pipeline.confidence import ConfidenceParams, confidence
from tacitd.daemon.pipeline.queue import Add, Link, Outcome, run
from tacitd.memory.types import Proposition, Support

from pipeline_helpers import DAY1, add_records, workday


@pytest.mark.parametrize(("model", "sessions", "days", "expected"), [
    (1.0, 1, 1, 0.5),  # one session: capped, whatever the model says
    (0.3, 1, 1, 0.3),  # a model less sure than the cap is believed
    (0.9, 2, 1, 0.55),  # two sessions on one day
    (0.9, 2, 2, 0.65),  # two days: more than two sessions on one day
    (0.9, 5, 3, 0.8015),
    (0.9, 7, 7, 0.9412),
    (0.9, 60, 30, 0.95),  # never certain without the user
    (0.8, 0, 0, 0.5),  # no evidence at all: the capped prior
])
def test_the_formula(model, sessions, days, expected):
    assert confidence(model, Support(sessions=sessions, days=days)) == pytest.approx(expected, abs=1e-4)


def test_support_raises_it_more_across_days_than_within_one_and_a_confirm_sets_one():
    values = [confidence(0.9, Support(sessions=s, days=d)) for s, d in [(1, 1), (2, 1), (3, 1), (3, 2), (3, 3)]]
    assert values == sorted(values) and len(set(values)) == len(values)
    assert confidence(0.9, Support(sessions=2, days=2)) > confidence(0.9, Support(sessions=3, days=1))
    assert confidence(0.1, Support(sessions=1, days=1, confirmed=True)) == 1.0


def test_bad_input_is_refused():
    with pytest.raises(ValueError):
        confidence(1.2, Support())
    with pytest.raises(ValueError):
        ConfidenceParams(day_gain=1.5)


def test_the_store_counts_distinct_sessions_and_days_behind_a_proposition(store):
    add_records(store, workday())  # three segments on day 1
    add_records(store, workday(DAY1 + timedelta(hours=15, minutes=30))[:2])  # one more at 00:30 UTC on day 2
    target: list[int] = []

    def same_claim(screened):
        ids = screened.segment.observation_ids
        if not target:
            return Outcome([Add(Proposition(text="Sam fine-tunes models with LoRA", confidence=0.9), ids)])
        return Outcome([Link(target[0], ids)])

    def remember(key, state):
        if not target:
            target.extend(p.id for p in store.all_propositions())

    run(store, same_claim, on_segment=remember)
    (pid,) = target
    support = store.queue.support([pid])[pid]
    assert (support.sessions, support.days, support.confirmed) == (4, 2, False)
    assert confidence(0.9, support) == pytest.approx(1 - 0.5 * 0.7 * 0.9 ** 2, abs=1e-4)
    # 00:30 UTC is still the evening before in UTC-1: one day there
    assert store.queue.support([pid], utc_offset_minutes=-60)[pid].days == 1

    store.confirm(pid)
    assert store.queue.support([pid])[pid].confirmed
    same_text = store.revise(pid, confidence=0.9)
    assert store.queue.support([same_text.id])[same_text.id].confirmed  # confirmed this text
    reworded = store.revise(same_text.id, text="Sam fine-tunes language models with LoRA adapters")
    assert not store.queue.support([reworded.id])[reworded.id].confirmed
    assert store.queue.support([reworded.id])[reworded.id].sessions == 4  # the evidence came along

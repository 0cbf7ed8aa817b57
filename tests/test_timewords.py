"""Time words in queries: windows in the user's zone, and retrieval that answers "what did Sam do then"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tacitd.memory.retrieve import RetrievalParams, search
from tacitd.memory.timewords import find_window
from tacitd.memory.types import Proposition

INDIA = timezone(timedelta(hours=5, minutes=30))
FRIDAY = datetime(2026, 11, 20, 18, 0, tzinfo=INDIA)  # a Friday evening, local time


def local(day: int, hour: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, tzinfo=INDIA)


@pytest.mark.parametrize(("query", "start", "end", "rest"), [
    ("what was Sam doing last Tuesday", local(17), local(18), "what was Sam doing"),
    ("what did Sam do yesterday evening", local(19, 18), local(20), "what did Sam do"),
    ("Friday", local(13), local(14), ""),  # today is "today", so a bare weekday is last week's
    ("last Friday morning", local(13, 5), local(13, 12), ""),
    ("who called 3 days ago", local(17), local(18), "who called"),
    ("what happened two weeks ago", local(6), local(7), "what happened"),
    ("notes from this week", local(16), FRIDAY, "notes from"),
    ("gym last week", local(9), local(16), "gym"),
    ("what did I cook last weekend", local(14), local(16), "what did I cook"),
    ("activities on 18 October", local(18, month=10), local(19, month=10), "activities"),
    ("meeting on the 3rd of November", local(3), local(4), "meeting"),
    ("dinner November 1st", local(1), local(2), "dinner"),
    ("party on 25 December", local(25, month=12, year=2025), local(26, month=12, year=2025), "party"),
    ("log 2026-11-03", local(3), local(4), "log"),
    ("what has Sam been doing today", local(20), FRIDAY, "what has Sam been doing"),
])
def test_phrases_become_local_windows(query, start, end, rest):
    window = find_window(query, FRIDAY)
    assert window is not None
    assert (window.start, window.end, window.rest) == (start, end, rest)
    assert window.start.utcoffset() == timedelta(hours=5, minutes=30)  # the user's midnight, not UTC's


@pytest.mark.parametrize("query", [
    "what does Sam do on Sundays",  # a habit, not a date
    "weekday mornings",
    "Sam may go running",
    "meeting on 31 February",  # no such day
    "dark mode",
])
def test_habits_and_non_dates_name_no_window(query):
    assert find_window(query, FRIDAY) is None


def test_a_naive_clock_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        find_window("yesterday", datetime(2026, 11, 20, 18))


def test_share_inside_counts_the_part_of_an_event_in_the_window():
    window = find_window("yesterday", FRIDAY)
    assert window.share_inside(local(19, 10), local(19, 12)) == 1.0
    assert window.share_inside(local(18, 23), local(19, 1)) == pytest.approx(0.5)
    assert window.share_inside(local(17, 10), local(17, 12)) == 0.0


def add(store, text, start, end=None, confidence=0.8):
    p = Proposition(text=text, confidence=confidence, half_life_days=14, valid_from=start, valid_to=end,
                    created_at=start, updated_at=end or start)
    return store.add_proposition(p)


def test_a_time_question_finds_what_happened_then(store):
    now = FRIDAY.astimezone(UTC)
    tuesday = add(store, "Sam cooked a mushroom risotto", local(17, 19), local(17, 20))
    add(store, "Sam cooked a Thai green curry", local(18, 19), local(18, 20))
    add(store, "Sam debugged the Kafka consumer", local(16, 10), local(16, 12))
    add(store, "Sam prefers dark mode", local(17, 9), confidence=0.95)  # a lasting fact, seen on Tuesday

    hits = search(store, "what did Sam cook last Tuesday", now=FRIDAY, params=RetrievalParams(mmr_lambda=1.0))
    assert hits[0].proposition.id == tuesday.id
    assert hits[0].parts.time_match == 1.0 and any("last Tuesday" in w for w in hits[0].why)

    hits = search(store, "what was Sam doing on Tuesday", now=now.astimezone(INDIA),
                  params=RetrievalParams(mmr_lambda=1.0))
    assert hits[0].proposition.id == tuesday.id  # the event that day outranks a fact merely seen then
    assert hits[1].proposition.text == "Sam prefers dark mode" and hits[1].parts.time_match == 0.5
    assert all(h.parts.time_match == 0.0 for h in hits[2:])  # other days, found by the word "Sam" only


def test_without_time_words_the_times_do_not_matter(store):
    old = add(store, "Sam cooked a mushroom risotto", local(3, 19), local(3, 20))
    hits = search(store, "mushroom risotto", now=FRIDAY)
    assert [h.proposition.id for h in hits] == [old.id] and hits[0].parts.time_match is None


def test_a_time_question_honours_the_callers_filters(store):
    from tacitd.memory.types import SearchFilters

    add(store, "Sam went bouldering", local(17, 19), local(17, 21), confidence=0.3)
    sure = add(store, "Sam swam 40 lengths", local(17, 7), local(17, 8), confidence=0.9)
    hits = search(store, "what did Sam do last Tuesday", now=FRIDAY, filters=SearchFilters(min_confidence=0.5))
    assert [h.proposition.id for h in hits] == [sure.id]

"""Time words in queries: windows in the user's zone, and retrieval that answers "what did Sam do then"."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


DST_PROBE = """
import json, sys
from datetime import datetime
from zoneinfo import ZoneInfo
from tacitd.memory.timewords import find_window, local_now

zone, stamp = sys.argv[1], sys.argv[2]
now_local = local_now()  # what retrieve.search reads time words in by default
now = datetime.fromisoformat(stamp).replace(tzinfo=now_local.tzinfo)
zoned = datetime.fromisoformat(stamp).replace(tzinfo=ZoneInfo(zone))
out = {}
for q in ("last Saturday", "yesterday", "last week", "3 days ago", "2026-10-24", "last month"):
    a, b = find_window(q, now), find_window(q, zoned)
    assert (a.start, a.end) == (b.start, b.end), (q, a, b)
    out[q] = [a.start.isoformat(), a.end.isoformat(), (b.end - b.start).total_seconds() / 3600]
out["now"] = [now.isoformat(), now_local.tzinfo is not None]
print(json.dumps(out))
"""


def dst_windows(zone: str, stamp: str) -> dict:
    """Windows read in a process whose system zone is `zone` (TZ), at the local time `stamp`."""
    env = {**os.environ, "TZ": zone}
    done = subprocess.run([sys.executable, "-c", DST_PROBE, zone, stamp], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_windows_across_the_end_of_summer_time_start_at_real_local_midnight_in_berlin():
    w = dst_windows("Europe/Berlin", "2026-10-28T10:00")  # a Wednesday; summer time ended Sunday 25 October
    assert w["now"][0] == "2026-10-28T10:00:00+01:00"
    assert w["last Saturday"] == ["2026-10-24T00:00:00+02:00", "2026-10-25T00:00:00+02:00", 24]
    assert w["2026-10-24"] == w["last Saturday"]
    assert w["yesterday"] == ["2026-10-27T00:00:00+01:00", "2026-10-28T00:00:00+01:00", 24]
    assert w["last week"] == ["2026-10-19T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 7 * 24 + 1]
    assert w["3 days ago"] == ["2026-10-25T00:00:00+02:00", "2026-10-26T00:00:00+01:00", 25]
    assert w["last month"] == ["2026-09-01T00:00:00+02:00", "2026-10-01T00:00:00+02:00", 30 * 24]


def test_windows_across_the_end_and_start_of_summer_time_in_new_york():
    w = dst_windows("America/New_York", "2026-11-04T10:00")  # summer time ended Sunday 1 November
    assert w["last Saturday"] == ["2026-10-31T00:00:00-04:00", "2026-11-01T00:00:00-04:00", 24]
    assert w["last week"] == ["2026-10-26T00:00:00-04:00", "2026-11-02T00:00:00-05:00", 7 * 24 + 1]
    spring = dst_windows("America/New_York", "2026-03-10T09:00")  # it began Sunday 8 March
    assert spring["now"][0] == "2026-03-10T09:00:00-04:00"
    assert spring["3 days ago"] == ["2026-03-07T00:00:00-05:00", "2026-03-08T00:00:00-05:00", 24]
    assert spring["last week"] == ["2026-03-02T00:00:00-05:00", "2026-03-09T00:00:00-04:00", 7 * 24 - 1]

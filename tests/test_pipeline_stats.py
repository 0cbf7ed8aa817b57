"""Stats propositions, measured without a model, revised as the numbers change and never duplicated."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tacitd.daemon.pipeline import stats
from tacitd.memory.types import Observation, SearchFilters

from pipeline_helpers import DAY1, add_records, frame


def at(start: datetime, minute: float) -> str:
    return (start + timedelta(minutes=minute)).isoformat()


def day(start: datetime = DAY1, firefox_visits: int = 1) -> list[dict]:
    """09:00–10:00 code (10 min of it idle), 10:00–10:12 the PEFT docs, 10:12–10:32 a terminal, file events.

    Active: code 50 min, kitty 20, firefox 12 per visit (a second visit comes after the terminal).
    """
    records = [
        {"observer": "window", "app": "code", "window_title": "train_lora.py — finetune",
         "captured_at": at(start, 0), "duration_s": 3600},
        frame(10, "code", "train_lora.py — finetune", "trainer.train()", start),  # inside the window record
        frame(20, "code", "train_lora.py — finetune", "model.save_pretrained('out')", start),
        {"observer": "input", "captured_at": at(start, 30), "duration_s": 600, "meta": {"active_s": 0, "idle_s": 600}},
    ]
    for minute in (60, 64, 68):
        records.append(frame(minute, "firefox", "LoRA — PEFT documentation", "LoRA", start,
                             url="https://huggingface.co/docs/peft"))
    records.append({"observer": "window", "app": "kitty", "window_title": "nvidia-smi", "captured_at": at(start, 72),
                    "duration_s": 1200})
    for visit in range(1, firefox_visits):
        for minute in (92, 96, 100):
            records.append(frame(minute + 12 * (visit - 1), "firefox", "LoRA — PEFT documentation", "LoRA", start,
                                 url="https://huggingface.co/docs/peft"))
        records.append({"observer": "window", "app": "kitty", "window_title": "htop",
                        "captured_at": at(start, 104 + 12 * (visit - 1)), "duration_s": 60})
    for minute in range(6):
        records.append({"observer": "files", "captured_at": at(start, 40 + minute), "text": "modified",
                        "meta": {"path": "/home/sam/projects/thesis/ch3.tex"}})
    records.append({"observer": "files", "captured_at": at(start, 50), "meta": {"path": "/home/sam/projects/finetune/data.py"}})
    return records


def observations(records: list[dict]) -> list[Observation]:
    return [Observation.model_validate({**r, "id": i + 1}) for i, r in enumerate(records)]


def by_key(facts: list[stats.Fact]) -> dict[str, str]:
    return {f.key: f.text for f in facts}


def test_one_day_measured_idle_left_out_and_no_minute_counted_twice():
    facts = by_key(stats.measure(observations(day()), "Sam", UTC))
    assert facts == {
        "app_time": "Sam spends most of their computer time in code (60%), kitty (25%) and firefox (15%)",
        "projects": "Sam works on the projects finetune and thesis",
        "files": "Sam works most often on the files train_lora.py and ch3.tex",
    }  # no working hours from one day; one long look at a site is not "often"


def test_working_hours_need_several_days_and_are_in_local_time():
    two_days = observations(day() + day(DAY1 + timedelta(days=1)))
    assert by_key(stats.measure(two_days, "Sam", UTC))["working_hours"] == \
        "Sam usually works between 09:00 and 10:30 (local time)"
    assert by_key(stats.measure(two_days, "Sam", ZoneInfo("Europe/Berlin")))["working_hours"] == \
        "Sam usually works between 10:00 and 11:30 (local time)"


def test_a_site_visited_several_times_is_frequent():
    facts = stats.measure(observations(day(firefox_visits=2)), "Sam", UTC)
    (sites,) = [f for f in facts if f.key == "sites"]
    assert sites.text == "Sam often uses huggingface.co" and "in 2" in sites.reasoning


def current_stats(store) -> list:
    return store.recent(100, SearchFilters(source=("stats",)))


def test_running_twice_changes_nothing_and_new_numbers_revise_instead_of_duplicating(store):
    add_records(store, day())
    evening = DAY1 + timedelta(hours=12)
    first = stats.update(store, "Sam", UTC, now=evening)
    assert len(first.added) == 3
    before = sorted((p.id, p.text) for p in current_stats(store))

    again = stats.update(store, "Sam", UTC, now=evening)
    assert again.added == again.revised == [] and sorted(again.unchanged) == sorted(first.added)
    assert sorted((p.id, p.text) for p in current_stats(store)) == before

    add_records(store, day(DAY1 + timedelta(days=1), firefox_visits=3))  # a second day, more time in the docs
    later = stats.update(store, "Sam", UTC, now=evening + timedelta(days=1))
    current = current_stats(store)
    kinds = [p.reasoning.rsplit("(stats: ", 1)[1] for p in current]
    assert len(kinds) == len(set(kinds)) == 5  # one current proposition per measurement
    assert len(later.added) == 2 and len(later.revised) == 3  # working hours and sites are new
    app_time = next(p for p in current if p.reasoning.endswith("(stats: app_time)"))
    old, new = store.history(app_time.id)
    assert old.status == "superseded" and old.valid_to is not None and new.status == "current"
    assert old.text != new.text and new.confidence > old.confidence  # two days of support, not one
    assert store.evidence_for(app_time.id)


def test_a_rejected_measurement_is_not_written_again(store):
    add_records(store, day())
    stats.update(store, "Sam", UTC, now=DAY1 + timedelta(hours=12))
    app_time = next(p for p in current_stats(store) if p.reasoning.endswith("(stats: app_time)"))
    store.reject(app_time.id, "I share this laptop")
    add_records(store, day(DAY1 + timedelta(days=1), firefox_visits=3))
    report = stats.update(store, "Sam", UTC, now=DAY1 + timedelta(days=1, hours=12))
    assert report.rejected_kept == ["app_time"]
    assert not any(p.reasoning.endswith("(stats: app_time)") for p in current_stats(store))


def test_too_little_activity_says_nothing():
    assert stats.measure(observations([frame(0, "code", "a.py — x", "x")]), "Sam", UTC) == []


def test_an_empty_store_or_only_idle_time_measures_nothing(store):
    """A fresh data dir: the daemon measures at start, before anything was seen (this raised ValueError)."""
    assert stats.update(store, "Sam", UTC, now=DAY1).added == []
    idle = Observation(observer="input", captured_at=DAY1, duration_s=600, meta={"active_s": 0, "idle_s": 600})
    assert stats.timeline([idle], stats.StatsParams()) == {}

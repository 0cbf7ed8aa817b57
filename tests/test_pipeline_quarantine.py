"""Quarantine: failed segments keep their error and raw output, retry with backoff, never loop forever."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tacitd.daemon.pipeline.quarantine import RetryPolicy
from tacitd.daemon.pipeline.queue import PipelineParams, run
from tacitd.memory.db import NotFound
from tacitd.memory.store import Store
from tacitd.models.errors import SchemaError

from pipeline_helpers import add_records, failing, learn_one_per_segment, workday

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
PARAMS = PipelineParams(retry=RetryPolicy(max_tries=3, base_delay_s=60, max_delay_s=3600))
RAW = '{"propositions": [{"text": "Sam'


def at(t: datetime):
    return lambda: t


def test_backoff_doubles_is_capped_and_ends():
    policy = RetryPolicy(max_tries=5, base_delay_s=60, max_delay_s=200)
    delays = [policy.next_try(n, T0) for n in range(1, 6)]
    assert [(d - T0).total_seconds() for d in delays[:4]] == [60, 120, 200, 200]
    assert delays[4] is None
    with pytest.raises(ValueError):
        RetryPolicy(max_tries=0)


def test_bad_output_is_quarantined_with_its_raw_output_retried_with_backoff_then_given_up(store):
    add_records(store, workday()[:2])
    step = failing(SchemaError("output did not fit Drafts", raw=RAW, prompt=[]))
    assert list(run(store, step, PARAMS, now=at(T0)).segments.values()) == ["quarantined"]
    (entry,) = store.queue.quarantined()
    assert entry.raw_output == RAW and entry.error.startswith("SchemaError: output did not fit")
    assert entry.tries == 1 and entry.next_try_at == T0 + timedelta(seconds=60)
    assert store.queue.counts()["quarantined"] == 2

    assert run(store, step, PARAMS, now=at(T0 + timedelta(seconds=59))).segments == {}  # not due yet
    run(store, step, PARAMS, now=at(T0 + timedelta(seconds=60)))
    (entry,) = store.queue.quarantined()
    assert entry.tries == 2 and entry.next_try_at == T0 + timedelta(seconds=180)
    run(store, step, PARAMS, now=at(T0 + timedelta(hours=1)))
    (entry,) = store.queue.quarantined()
    assert entry.tries == 3 and entry.next_try_at is None  # given up
    assert run(store, step, PARAMS, now=at(T0 + timedelta(days=365))).segments == {}
    assert len(step.calls) == 3 and list(store.all_propositions()) == []


def test_a_segment_that_recovers_is_written_once_and_leaves_quarantine(store):
    add_records(store, workday()[:2])
    run(store, failing(RuntimeError("llama.cpp: failed to decode")), PARAMS, now=at(T0))
    report = run(store, learn_one_per_segment, PARAMS, now=at(T0 + timedelta(minutes=5)))
    assert list(report.segments.values()) == ["processed"]
    assert store.queue.quarantined() == [] and len(list(store.all_propositions())) == 1
    assert store.queue.counts()["processed"] == 2


def test_a_segment_that_kills_the_process_each_time_is_given_up(store):
    add_records(store, workday()[:2])
    run(store, failing(RuntimeError("first")), PARAMS, now=at(T0))
    (entry,) = store.queue.quarantined()
    for _ in range(2):  # two more tries, each ended by a crash before anything was recorded
        store.queue.begin_attempt(entry.key)
    step = failing(RuntimeError("never called"))
    report = run(store, step, PARAMS, now=at(T0 + timedelta(hours=2)))
    assert report.segments == {entry.key: "quarantined"} and step.calls == []
    (entry,) = store.queue.quarantined()
    assert entry.next_try_at is None and "ended the process" in entry.error and entry.tries == 3


def test_a_try_cut_short_by_a_shutdown_is_given_back(store):
    add_records(store, workday()[:2])
    run(store, failing(RuntimeError("first")), PARAMS, now=at(T0))
    (entry,) = store.queue.quarantined()
    store.queue.retry(entry.key)
    assert store.queue.begin_attempt(entry.key) == 1  # retry starts a fresh count
    assert store.queue.release_attempt(entry.key) == 0  # the daemon stopped mid-try: it does not count
    assert store.queue.release_attempt(entry.key) == 0  # never below zero
    store.queue.finish(entry.key)
    store.queue.begin_attempt(entry.key)
    assert store.queue.release_attempt(entry.key) == 1  # a finished segment keeps its count


def test_retry_and_drop(store):
    add_records(store, workday())
    run(store, failing(RuntimeError("boom")), PARAMS, now=at(T0))
    first, second, third = (e.key for e in store.queue.quarantined())
    retried = store.queue.retry(first, now=T0 + timedelta(seconds=1))
    assert retried.next_try_at == T0 + timedelta(seconds=1)
    store.queue.drop(second)
    assert store.queue.state(second) == "dropped"
    with pytest.raises(NotFound, match="not in quarantine"):
        store.queue.drop(second)
    with pytest.raises(NotFound):
        store.queue.retry("ffffffffffffffff")
    report = run(store, learn_one_per_segment, PARAMS, now=at(T0 + timedelta(seconds=2)))
    assert report.segments == {first: "processed"}  # the third is not due yet
    assert [e.key for e in store.queue.quarantined()] == [third]


TACIT = Path(sys.executable).with_name("tacit")


def tacit(data: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TACIT_DATA_DIR": str(data)}
    return subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=60)


def test_quarantine_cli_lists_retries_and_drops(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("TACIT_CONFIG", str(tmp_path / "none.toml"))  # the commands find this process's key
    with Store(data / "tacit.db") as store:
        add_records(store, workday())
        run(store, failing(SchemaError("bad", raw=RAW, prompt=[])), PARAMS, now=at(T0))
        keys = [e.key for e in store.queue.quarantined()]
    listed = json.loads(tacit(data, "quarantine", "list", "--json").stdout)
    assert [e["key"] for e in listed] == keys and listed[0]["raw_output"] == RAW
    assert listed[0]["given_up"] is False and len(listed[0]["observation_ids"]) == 2

    bad = tacit(data, "quarantine", "retry", keys[0], "ffffffffffffffff")
    assert bad.returncode == 1 and "ffffffffffffffff" in bad.stderr
    assert json.loads(tacit(data, "quarantine", "list", "--json").stdout) == listed  # all or nothing

    human = tacit(data, "quarantine", "list")
    assert human.returncode == 0 and keys[0] in human.stdout and "SchemaError" in human.stdout
    assert tacit(data, "quarantine", "drop", keys[1], "--json").returncode == 0
    retried = json.loads(tacit(data, "quarantine", "retry", keys[0], "--json").stdout)
    assert retried[0]["key"] == keys[0] and retried[0]["next_try_at"] != listed[0]["next_try_at"]
    assert [e["key"] for e in json.loads(tacit(data, "quarantine", "list", "--json").stdout)] == [keys[0], keys[2]]
    assert "Missing argument" in tacit(data, "quarantine", "drop").stderr

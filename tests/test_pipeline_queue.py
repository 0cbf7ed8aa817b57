"""The persisted queue: nothing lost on a crash, nothing written twice, on a real SQLite file."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tacitd.daemon.pipeline.queue import Outcome, run
from tacitd.memory.db import StoreError
from tacitd.memory.forget import ForgetScope
from tacitd.memory.store import Store
from tacitd.memory.types import Observation
from tacitd.models.errors import SchemaError

from pipeline_helpers import add_records, failing, learn_one_per_segment, workday

TESTS = Path(__file__).parent
CHILD = textwrap.dedent("""
    import sys
    from tacitd.memory.store import Store
    from tacitd.daemon.pipeline.queue import run
    from pipeline_helpers import learn_one_per_segment

    block_at = int(sys.argv[2])
    seen = []

    def step(screened):
        seen.append(screened.segment.key)
        print("step", screened.segment.key, flush=True)
        if len(seen) == block_at:
            sys.stdin.readline()  # blocks: the parent never writes, it kills
        return learn_one_per_segment(screened)

    run(Store(sys.argv[1]), step)
    print("finished", flush=True)
""")


def learned(store: Store) -> list[str]:
    return sorted(p.text for p in store.all_propositions())


def test_each_segment_is_processed_once_and_a_second_run_writes_nothing(store):
    ids = add_records(store, workday())
    report = run(store, learn_one_per_segment)
    assert report.summary()["processed"] == 3 and len(report.written) == 3
    assert store.queue.counts() == {"pending": 0, "segmented": 0, "processed": len(ids), "quarantined": 0}
    cited = {o.id for p in store.all_propositions() for o in store.evidence_for(p.id)}
    assert cited == set(ids)
    before = learned(store)
    again = run(store, learn_one_per_segment)
    assert again.segments == {} and learned(store) == before


def _read_lines(proc: subprocess.Popen, want: int, timeout: float = 60) -> list[str]:
    """The child's stdout lines until `want` 'step' lines came (a poll with a deadline, no sleeps)."""
    buffer = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while sum(line.startswith(b"step ") for line in buffer.splitlines(keepends=True) if line.endswith(b"\n")) < want:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise AssertionError(f"child did not reach step {want}: {buffer!r} {proc.stderr.read()!r}")
        if sel.select(timeout=1):
            buffer += os.read(proc.stdout.fileno(), 4096)
    return buffer.decode().splitlines(keepends=True)


@pytest.mark.parametrize("block_at", [1, 2, 3])
def test_sigkill_mid_batch_loses_nothing_and_duplicates_nothing(db_path, block_at):
    with Store(db_path) as store:
        ids = add_records(store, workday())
    env = {**os.environ, "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(db_path), str(block_at)], env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        lines = _read_lines(proc, block_at)
        os.kill(proc.pid, signal.SIGKILL)  # inside the step of segment number `block_at`
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL and "finished\n" not in lines

    with Store(db_path) as store:
        assert len(learned(store)) == block_at - 1  # only what committed before the kill
        counts = store.queue.counts()
        assert sum(counts.values()) == len(ids) and counts["pending"] == 0
        killed = lines[-1].split()[1]
        assert store.queue.state(killed) == "open"
        report = run(store, learn_one_per_segment)
        assert report.segments[killed] == "processed"
        texts = learned(store)
        assert len(texts) == len(set(texts)) == 3  # every segment once, none twice
        assert store.queue.counts()["processed"] == len(ids)
        assert {o.id for p in store.all_propositions() for o in store.evidence_for(p.id)} == set(ids)


def test_an_outcome_is_discarded_when_another_process_finished_the_segment(store, db_path):
    add_records(store, workday()[:2])

    def racing_step(screened):
        with Store(db_path) as other:  # another connection, as another process would have
            other.queue.finish(screened.segment.key, "processed", "done by the other process")
        return learn_one_per_segment(screened)

    report = run(store, racing_step)
    assert list(report.segments.values()) == ["done elsewhere"]
    assert learned(store) == []


def test_forgetting_the_observations_drops_the_segment_and_its_raw_output(store):
    add_records(store, workday()[:2])
    run(store, failing(SchemaError("bad", raw='{"text": "Sam opened zebracanary7731"}', prompt=[])))
    (entry,) = store.queue.quarantined()
    assert "zebracanary7731" in entry.raw_output
    store.forget_scope(ForgetScope(since=store.get_observation(entry.observation_ids[0]).captured_at))
    assert store.queue.quarantined() == []
    rows = [r for t in ("quarantine", "segments", "queue")
            for r in store.db.execute(f"SELECT * FROM {t}").fetchall()]
    assert not any("zebracanary7731" in str(r) for r in rows)
    report = run(store, learn_one_per_segment)
    assert list(report.segments.values()) == ["dropped"] and learned(store) == []


def test_forgetting_part_of_a_quarantined_segment_redoes_it_from_what_is_left(store):
    first, second = add_records(store, workday()[:2])
    run(store, failing(RuntimeError("model crashed")))
    store.forget_scope(ForgetScope(since=store.get_observation(second).captured_at))
    report = run(store, learn_one_per_segment)
    assert list(report.segments.values()) == ["processed"]
    (p,) = store.all_propositions()
    assert [o.id for o in store.evidence_for(p.id)] == [first]


def test_opening_a_segment_of_observations_not_pending_changes_nothing(store):
    ids = add_records(store, workday()[:2])
    run(store, learn_one_per_segment)
    with pytest.raises(StoreError, match="not pending"):
        store.queue.open_segment("0123456789abcdef", ids)
    assert store.queue.state("0123456789abcdef") is None


def test_observations_that_were_never_queued_are_not_processed(store):
    store.add_observation(Observation(observer="screen", app="code", text="imported, not queued"))
    assert run(store, learn_one_per_segment).segments == {} and learned(store) == []


def test_a_step_sees_the_segment_after_the_screen(store):
    seen = []
    records = workday()[:2] + [
        {**workday()[2], "text": "Sponsored\nCruise to the Bahamas\nBook now, limited time offer"}]
    add_records(store, records)

    def step(screened):
        seen.append((screened.action, [o.text for o in screened.segment.observations]))
        return Outcome()

    report = run(store, step)
    assert sorted(report.segments.values()) == ["processed", "skipped"]
    assert seen == [("propose", ["from peft import LoraConfig", "model = get_peft_model(model, config)"])]


def test_ctrl_c_during_a_step_gives_the_try_back(store):
    """Stopping `tacit process` is not the segment's failure: three Ctrl-Cs once quarantined it for good."""
    add_records(store, workday())

    def interrupted(screened):
        raise KeyboardInterrupt

    for _ in range(3):
        with pytest.raises(KeyboardInterrupt):
            run(store, interrupted)
    assert store.db.execute("SELECT max(attempts) FROM segments").fetchone()[0] == 0
    report = run(store, learn_one_per_segment)
    assert report.summary()["processed"] == 3 and report.summary()["quarantined"] == 0

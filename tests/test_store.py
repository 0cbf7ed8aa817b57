"""The store on a real SQLite file: history, forgetting, atomicity, concurrency, corruption."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from datetime import UTC, datetime

import pytest

from tacitd.memory.db import CorruptDatabase, DatabaseLocked, NotFound, StoreError, connect
from tacitd.memory.schema import SCHEMA_VERSION
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, SearchFilters

from helpers import unit

CANARY = "zebracanary7731"


def prop(text: str, confidence: float = 0.6, **kw) -> Proposition:
    return Proposition(text=text, confidence=confidence, **kw)


def all_rows(store: Store) -> dict[str, list[tuple]]:
    """Every row of every table, shadow tables of FTS5 and vec0 included."""
    names = [r[0] for r in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
    return {n: store.db.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}


def test_schema_is_versioned_and_reopening_is_idempotent(db_path):
    Store(db_path).close()
    with Store(db_path) as again:
        assert again.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert again.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_newer_schema_is_refused(db_path):
    Store(db_path).close()
    db = connect(db_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this tacit"):
        Store(db_path)


def test_observations_keep_their_capture_time(store):
    seen = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    stored = store.add_observation(Observation(observer="window", app="code", text="x", captured_at=seen,
                                               meta={"pid": 42}))
    again = store.get_observation(stored.id)
    assert again.captured_at == seen
    assert again.meta == {"pid": 42}


def test_revise_keeps_history(store):
    obs = store.add_observation(Observation(observer="screen", text="flights to Lisbon"))
    first = store.add_proposition(prop("Sam plans a trip to Lisbon"), evidence=[obs.id])
    second = store.revise(first.id, text="Sam is flying to Lisbon on 14 March", confidence=0.8)
    third = store.revise(second.id, confidence=0.9)

    history = store.history(third.id)
    assert [(p.id, p.version, p.status) for p in history] == [
        (first.id, 1, "superseded"), (second.id, 2, "superseded"), (third.id, 3, "current")]
    assert history[0].text == "Sam plans a trip to Lisbon"  # the old text is still there
    assert history[0].valid_to is not None and history[0].valid_to <= third.valid_from
    assert third.supersedes == second.id and third.revision_group == first.id
    assert [o.id for o in store.evidence_for(third.id)] == [obs.id]  # evidence carried forward
    with pytest.raises(StoreError, match="superseded"):
        store.revise(first.id, confidence=0.1)


def test_confirm_and_reject_record_feedback(store):
    p = store.add_proposition(prop("Sam drinks oat milk", 0.4))
    assert store.confirm(p.id, note="yes").confidence == 1.0
    q = store.add_proposition(prop("Sam owns a cat", 0.4))
    rejected = store.reject(q.id)
    assert rejected.status == "rejected" and rejected.text == "Sam owns a cat"
    assert [f.kind for f in store.feedback_for(p.id)] == ["confirm"]
    assert [p.id for p in store.recent(10)] == [p.id]  # rejected ones leave the default listing
    assert store.recent(10, SearchFilters(status=("rejected",)))[0].id == q.id


def test_forget_leaves_no_trace_in_any_table_or_file(store, db_path):
    store.ensure_vector_index("test", 16)
    obs = store.add_observation(Observation(observer="screen", text=f"secret project {CANARY}"))
    keep = store.add_proposition(prop("Sam likes tea"), embedding=unit(0, 1))
    p = store.add_proposition(prop(f"Sam works on {CANARY}", reasoning=CANARY), evidence=[obs.id],
                              embedding=unit(1, 0))
    p2 = store.revise(p.id, confidence=0.9)
    store.confirm(p2.id)

    report = store.forget(p2.id)

    assert (report.propositions, report.observations) == (2, 1)
    for table, rows in all_rows(store).items():
        assert CANARY not in repr(rows), f"{table} still holds the canary"
    assert store.text_candidates(CANARY, 10, SearchFilters()) == []
    every_status = SearchFilters(status=("current", "superseded", "rejected"))
    assert [pid for pid, _ in store.vector_candidates(unit(1, 0), 5, filters=every_status)] == [keep.id]
    for f in db_path.parent.iterdir():  # the file and its WAL, byte for byte
        assert CANARY.encode() not in f.read_bytes(), f.name
    with pytest.raises(NotFound):
        store.get(p.id)


def test_forget_since_removes_recent_and_reopens_what_they_replaced(store):
    old = store.add_proposition(prop("Sam uses vim"))
    cutoff = datetime.now(UTC)
    newer = store.revise(old.id, text="Sam uses helix")
    store.add_observation(Observation(observer="push", text="recent"))
    report = store.forget_since(cutoff)
    assert (report.propositions, report.observations) == (1, 1)
    reopened = store.get(old.id)
    assert (reopened.status, reopened.valid_to) == ("current", None)
    with pytest.raises(NotFound):
        store.get(newer.id)


def test_a_write_that_fails_halfway_changes_nothing(store, db_path, monkeypatch):
    obs = store.add_observation(Observation(observer="screen", text="x"))
    before = all_rows(store)

    def boom(*args, **kwargs):
        raise RuntimeError("disk on fire")

    # The proposition row is inserted, then linking its evidence fails.
    monkeypatch.setattr(store, "_link", boom)
    with pytest.raises(RuntimeError):
        store.add_proposition(prop("half-written"), evidence=[obs.id])
    monkeypatch.undo()
    with pytest.raises(Exception):  # a foreign key that does not exist fails inside revise
        store.revise(store.add_proposition(prop("base")).id, evidence=[99999])
    after = all_rows(store)
    assert [row[1] for row in after["propositions"]] == ["base"]  # "half-written" left no row
    assert store.text_candidates("half written", 5, SearchFilters()) == []  # nor an FTS entry
    assert after["observations"] == before["observations"]
    assert after["evidence"] == before["evidence"]


WRITER = textwrap.dedent("""
    import sys
    from tacitd.memory.store import Store
    from tacitd.memory.types import Proposition
    with Store(sys.argv[1]) as s:
        print("ready", flush=True)
        for i in range(300):
            s.add_proposition(Proposition(text=f"fact number {i}", confidence=0.5))
    print("done", flush=True)
""")


def test_reader_and_writer_in_two_processes(db_path):
    Store(db_path).close()
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db_path)], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == "ready"
    seen = []
    with Store(db_path) as reader:
        while writer.poll() is None:
            seen.append(reader.counts()["propositions"])
        assert writer.wait(timeout=60) == 0
        seen.append(reader.counts()["propositions"])
        assert reader.text_candidates("number 299", 1, SearchFilters())
    assert seen == sorted(seen), "a reader must never see rows vanish"
    assert seen[-1] == 300


def test_a_corrupt_file_gives_a_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "tacit.db"
    junk = b"this is not a database, it is a shopping list " * 200
    path.write_bytes(junk)
    with pytest.raises(CorruptDatabase) as err:
        Store(path)
    message = str(err.value)
    assert str(path) in message and "tacit import" in message
    assert path.read_bytes() == junk


def test_a_locked_database_gives_a_clear_error(db_path):
    with Store(db_path) as holder, Store(db_path, busy_timeout_ms=100) as other:
        holder.db.execute("BEGIN EXCLUSIVE")
        holder.db.execute("INSERT INTO meta (key, value) VALUES ('x', 'y')")
        with pytest.raises(DatabaseLocked, match="locked"):
            other.add_proposition(prop("blocked"))
        holder.db.execute("ROLLBACK")
        assert other.add_proposition(prop("now fine")).id == 1


def test_embeddings_must_fit_the_index(store):
    with pytest.raises(StoreError, match="ensure_vector_index"):
        store.add_proposition(prop("x"), embedding=unit(1))
    store.ensure_vector_index("e1", 16)
    with pytest.raises(StoreError, match="16 finite floats"):
        store.add_proposition(prop("x"), embedding=[0.0] * 16)
    with pytest.raises(StoreError, match="re-embed"):
        store.ensure_vector_index("e2", 32)
    assert store.counts()["propositions"] == 0

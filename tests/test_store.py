"""The store on a real SQLite file: history, forgetting, atomicity, concurrency, corruption."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime

import numpy as np
import pytest

from tacitd.memory.db import CorruptDatabase, DatabaseLocked, NotFound, StoreError, connect
from tacitd.memory.forget import ForgetScope
from tacitd.memory.schema import FTS_COLUMNS, SCHEMA_VERSION, V1
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


def test_forget_leaves_no_trace_in_any_table_or_file(plain_store, db_path):
    store = plain_store  # unencrypted, so the bytes on disk can be searched
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


def test_forget_keeps_observations_that_other_propositions_cite(store):
    shared = store.add_observation(Observation(observer="screen", text="standup notes"))
    own = store.add_observation(Observation(observer="screen", text=f"private {CANARY}"))
    forgotten = store.add_proposition(prop("Sam leads the standup"), evidence=[shared.id, own.id])
    kept = store.add_proposition(prop("Sam works with Ana"), evidence=[shared.id])

    report = store.forget(forgotten.id)

    assert (report.propositions, report.observations) == (1, 1)
    assert store.get_observation(shared.id).text == "standup notes"
    assert [o.id for o in store.evidence_for(kept.id)] == [shared.id]  # its evidence is intact
    with pytest.raises(NotFound):
        store.get_observation(own.id)


def file_bytes(db_path) -> bytes:
    """The database file and its -wal, as they are on disk."""
    return b"".join(f.read_bytes() for f in db_path.parent.iterdir() if f.name.startswith(db_path.name))


def test_forget_with_a_reader_open_reports_the_scrub_pending_and_a_later_write_finishes_it(db_path):
    with Store(db_path, busy_timeout_ms=200, encrypt=False) as store:  # plaintext: the bytes can be searched
        obs = store.add_observation(Observation(observer="screen", text=f"secret {CANARY}"))
        p = store.add_proposition(prop(f"Sam works on {CANARY}"), evidence=[obs.id])
        reader = connect(db_path)
        reader.execute("BEGIN")
        assert reader.execute("SELECT count(*) FROM propositions").fetchone()[0] == 1  # a snapshot held open

        report = store.forget(p.id)

        assert (report.propositions, report.observations, report.scrub_pending) == (1, 1, True)
        assert CANARY.encode() in file_bytes(db_path)  # what "pending" means: the bytes are still there
        with Store(db_path, busy_timeout_ms=200) as other:  # the flag is in the file, not only here
            assert other.scrub() is False
        reader.execute("COMMIT")
        reader.close()

        store.add_observation(Observation(observer="push", text="an unrelated later write"))

        assert CANARY.encode() not in file_bytes(db_path)
        assert store.scrub() is True
    with Store(db_path) as reopened:
        assert reopened.forget(reopened.add_proposition(prop("x")).id).scrub_pending is False


def test_forget_since_removes_recent_and_reopens_what_they_replaced(store):
    old = store.add_proposition(prop("Sam uses vim"))
    cutoff = datetime.now(UTC)
    newer = store.revise(old.id, text="Sam uses helix")
    recent = store.add_observation(Observation(observer="push", text="recent"))
    store.link_evidence(old.id, [recent.id])  # cited by an older proposition: still in range, still goes
    report = store.forget_scope(ForgetScope(since=cutoff))
    assert (report.propositions, report.observations) == (1, 1)
    assert store.evidence_for(old.id) == []
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


HAMMER = textwrap.dedent("""
    import json, sys
    import numpy as np
    from tacitd.memory.store import Store
    from tacitd.memory.types import Observation, Proposition
    path, tag, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = np.random.default_rng(len(tag))
    written = []
    with Store(path) as s:
        print("ready", flush=True)
        sys.stdin.readline()  # both start together
        for i in range(rounds):
            # Each call reads before it writes, inside its transaction.
            obs = s.add_observation(Observation(observer="push", text=f"{tag} saw {i}"))
            p = s.add_proposition(Proposition(text=f"{tag} fact {i}", confidence=0.5),
                                  embedding=rng.standard_normal(16))
            p2 = s.revise(p.id, confidence=0.6)
            s.confirm(p2.id)
            s.link_evidence(p2.id, [obs.id])
            s.set_embedding(p2.id, rng.standard_normal(16))
            written.append([obs.id, p.id, p2.id])
    print(json.dumps(written), flush=True)
""")


def test_two_writer_processes_never_fail_and_lose_nothing(db_path):
    with Store(db_path) as setup:
        setup.ensure_vector_index("test", 16)
    rounds = 120
    writers = [subprocess.Popen([sys.executable, "-c", HAMMER, str(db_path), tag, str(rounds)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for tag in ("alpha", "beta")]
    for w in writers:
        assert w.stdout.readline().strip() == "ready"
    for w in writers:
        w.stdin.write("go\n")
        w.stdin.flush()
    results = {}
    for tag, w in zip(("alpha", "beta"), writers):
        out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err[-2000:]
        results[tag] = json.loads(out)
    with Store(db_path) as store:
        assert store.counts()["propositions"] == 2 * 2 * rounds
        for tag, written in results.items():
            assert len(written) == rounds
            for i, (obs_id, first, second) in enumerate(written):
                assert store.get_observation(obs_id).text == f"{tag} saw {i}"
                old, new = store.get(first), store.get(second)
                assert (old.text, old.status) == (f"{tag} fact {i}", "superseded")
                assert (new.text, new.status, new.confidence) == (f"{tag} fact {i}", "current", 1.0)
                assert [o.id for o in store.evidence_for(second)] == [obs_id]
                assert [f.kind for f in store.feedback_for(second)] == ["confirm"]
            assert set(store.embeddings([w[2] for w in written])) == {w[2] for w in written}


def test_threads_can_share_one_store(store):
    """One connection, one lock: writes from several threads all land, none interleave."""
    store.ensure_vector_index("test", 16)

    def work(n: int) -> None:
        for i in range(40):
            p = store.add_proposition(prop(f"thread {n} fact {i}"), embedding=unit(1, n, i))
            store.confirm(store.revise(p.id, confidence=0.7).id)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    current = store.recent(1000)
    assert len(current) == 4 * 40 and {p.confidence for p in current} == {1.0}
    assert store.counts()["propositions"] == 2 * 4 * 40


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


EVERY_STATUS = SearchFilters(status=("current", "superseded", "rejected"))


def test_rejected_and_superseded_vectors_are_filtered_inside_the_index(store):
    store.ensure_vector_index("test", 16)
    wrong = store.add_proposition(prop("Sam owns a boat"), embedding=unit(1, 0))
    old = store.add_proposition(prop("Sam lives in Porto"), embedding=unit(1, 0.2))
    store.reject(wrong.id)
    new = store.revise(old.id, text="Sam lives in Lisbon", embedding=unit(0, 1))

    def near(**filters):
        return [pid for pid, _ in store.vector_candidates(unit(1, 0), 5, filters=SearchFilters(**filters))]

    assert near() == [new.id]  # current only, though the other two are nearer
    assert near(status=("rejected",)) == [wrong.id]  # still searchable on purpose: do not propose it again
    assert near(status=("superseded",)) == [old.id]
    store.confirm(new.id)
    assert near(min_confidence=0.9) == [new.id]  # a later change reaches the index too


def fake_embedder(dim: int, fail_after: int | None = None):
    """Embeds text by its length, deterministically; raises after `fail_after` texts."""
    seen = []

    def embed(texts):
        seen.extend(texts)
        if fail_after is not None and len(seen) > fail_after:
            raise RuntimeError("embedder crashed")
        return [unit(1, len(t), dim=dim) for t in texts]

    return embed


def test_reembed_interrupted_midway_leaves_the_old_index_whole(store):
    store.ensure_vector_index("old", 16)
    ids = store.add_propositions((prop(f"fact number {i}"), (), unit(1, i)) for i in range(10))
    before = store.vector_candidates(unit(1, 3), 10)
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}

    with pytest.raises(RuntimeError, match="embedder crashed"):
        store.reembed("new", 32, fake_embedder(32, fail_after=5), batch=2)

    assert store.vector_index() == ("old", 16)
    assert store.vector_candidates(unit(1, 3), 10) == before and len(before) == 10
    assert all(v.shape == (16,) for v in store.embeddings(ids).values()) and len(store.embeddings(ids)) == 10
    assert {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")} == tables  # half-built one gone

    assert store.reembed("new", 32, fake_embedder(32), batch=3) == 10
    assert store.vector_index() == ("new", 32)
    assert len(store.vector_candidates(unit(1, 12, dim=32), 10)) == 10
    assert all(v.shape == (32,) for v in store.embeddings(ids).values())


def test_reembed_catches_up_with_writes_made_meanwhile(db_path):
    with Store(db_path) as store, Store(db_path) as other:
        store.ensure_vector_index("old", 16)
        first = store.add_proposition(prop("Sam drinks coffee"), embedding=unit(1))
        second = store.add_proposition(prop("Sam drinks tea"), embedding=unit(1, 1))
        added = []
        embed = fake_embedder(32)

        def embed_while_others_write(texts):
            if not added:  # another connection writes between our batches
                other.reject(second.id)
                added.append(other.add_proposition(prop("Sam drinks mate"), embedding=unit(0, 1)).id)
            return embed(texts)

        store.reembed("new", 32, embed_while_others_write, batch=1)
        query = unit(1, 10, dim=32)
        assert {pid for pid, _ in store.vector_candidates(query, 10)} == {first.id, added[0]}
        assert [pid for pid, _ in store.vector_candidates(query, 10, filters=SearchFilters(status=("rejected",)))] \
            == [second.id]


def test_a_second_store_notices_a_reembed_done_by_the_first(db_path):
    with Store(db_path) as first, Store(db_path) as second:
        first.ensure_vector_index("old", 16)
        p = first.add_proposition(prop("Sam plays chess"), embedding=unit(1))
        assert second.vector_index() == ("old", 16)
        assert second.vector_candidates(unit(1), 1)[0][0] == p.id

        first.reembed("new", 32, fake_embedder(32))

        assert second.vector_index() == ("new", 32)
        assert second.vector_candidates(unit(1, 15, dim=32), 1)[0][0] == p.id
        with pytest.raises(StoreError, match="32 finite floats"):
            second.set_embedding(p.id, unit(1))  # a 16-d vector no longer fits


def test_an_old_database_is_migrated_with_its_vectors(db_path):
    """A v1 file (bare binary index) comes up with the filter columns, vectors kept."""
    db = connect(db_path)
    for statement in V1.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    for table, (a, b) in FTS_COLUMNS.items():
        db[table].enable_fts([a, b], create_triggers=True, tokenize="porter")
    db.execute("INSERT INTO meta VALUES ('embedder', 'old'), ('embedding_dim', '16')")
    db.execute("CREATE VIRTUAL TABLE proposition_vec USING vec0(embedding bit[16])")
    db.execute("INSERT INTO propositions (id, text, confidence, half_life_days, source, status, version, "
               "revision_group, valid_from, created_at, updated_at) VALUES "
               "(1, 'Sam runs', 0.9, 30, 'llm', 'current', 1, 1, '2026', '2026', '2026'), "
               "(2, 'Sam swims', 0.2, 30, 'llm', 'rejected', 1, 2, '2026', '2026', '2026')")
    for pid in (1, 2):
        db.execute("INSERT INTO proposition_embeddings VALUES (?, ?)", [pid, unit(1, pid).tobytes()])
    db.execute("INSERT INTO propositions (id, text, confidence, half_life_days, source, status, version, "
               f"revision_group, valid_from, created_at, updated_at) VALUES (3, 'Sam likes {CANARY}', 0.5, 30, "
               "'llm', 'current', 1, 3, '2026', '2026', '2026')")
    db.execute("UPDATE propositions SET confidence = 0.6 WHERE id = 3")  # v1 rewrote the FTS row: old segments
    db.close()
    with Store(db_path) as store:
        store.forget(3)
        assert CANARY not in repr(all_rows(store))
        assert store.vector_index() == ("old", 16)
        assert [pid for pid, _ in store.vector_candidates(unit(1), 5)] == [1]
        assert [pid for pid, _ in store.vector_candidates(unit(1), 5, filters=EVERY_STATUS)] == [1, 2]
        assert store.text_candidates("running", 5, SearchFilters()) == [1]
        for fts in ("propositions_fts", "observations_fts"):
            assert store.db.execute(f"SELECT v FROM {fts}_config WHERE k = 'secure-delete'").fetchone() == (1,)


def before_unique_ids(monkeypatch) -> None:
    """Open stores at schema v3, where forgetting the newest row frees its id for the next insert."""
    from tacitd.memory import schema

    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:3])
    monkeypatch.setattr(schema, "SCHEMA_VERSION", 3)


def test_reembed_never_stores_a_forgotten_texts_vector_under_a_reused_id(db_path, monkeypatch):
    """A row another connection adds may take a forgotten row's id (before schema v4, or any text change).

    The vector embedded for the forgotten text must not land under the new
    proposition: the new one is embedded from its own text.
    """
    before_unique_ids(monkeypatch)
    with Store(db_path) as store, Store(db_path) as other:
        store.ensure_vector_index("old", 16)
        kept = store.add_proposition(prop("Sam drinks coffee"), embedding=unit(1))
        doomed = store.add_proposition(prop(f"secret plan {CANARY}"), embedding=unit(1, 1))
        reused = []

        def embed(texts):
            if not reused:  # the user forgets the newest claim while its batch is embedded
                other.forget(doomed.id)
                reused.append(other.add_proposition(prop("Sam likes tea")).id)
            return [unit(1, 2, dim=32) if CANARY in t else unit(1, 3 + len(t), dim=32) for t in texts]

        assert store.reembed("new", 32, embed) >= 2
        assert reused == [doomed.id]  # SQLite handed the freed id out again
        vector = store.embeddings([doomed.id])[doomed.id]
        assert np.allclose(vector, unit(1, 3 + len("Sam likes tea"), dim=32))
        canary = unit(1, 2, dim=32)
        assert not any(np.allclose(v, canary) for v in store.embeddings([kept.id, doomed.id]).values())


KILLED_REEMBED = textwrap.dedent("""
    import os, signal, sys
    from tacitd.memory.store import Store
    s = Store(sys.argv[1])
    def embed(texts):
        os.kill(os.getpid(), signal.SIGKILL)  # die with the rebuild half done
    s.reembed("new", 32, embed)
""")


def _next_tables(store: Store) -> set[str]:
    names = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    meta = dict(store.db.execute("SELECT key, value FROM meta").fetchall())
    return {n for n in names if n == "proposition_embeddings_next" or n == meta.get("vector_table_next")} | \
        ({"meta"} if "vector_table_next" in meta else set())


def test_a_killed_reembed_is_cleaned_up_and_writes_stop_mirroring_into_it(db_path):
    with Store(db_path) as store:
        store.ensure_vector_index("old", 16)
        p = store.add_proposition(prop("Sam plays chess"), embedding=unit(1))
    killed = subprocess.run([sys.executable, "-c", KILLED_REEMBED, str(db_path)], timeout=60)
    assert killed.returncode == -9
    with Store(db_path) as store:
        assert _next_tables(store) == set()  # the abandoned rebuild is gone on the next open
        store.reject(p.id)
        assert store.vector_index() == ("old", 16)
        assert store.vector_candidates(unit(1), 1, filters=SearchFilters(status=("rejected",)))[0][0] == p.id
        assert store.reembed("new", 32, fake_embedder(32)) == 1
        assert store.vector_index() == ("new", 32)


def test_a_live_reembed_in_another_connection_is_left_alone_by_an_open(db_path):
    with Store(db_path) as store:
        store.ensure_vector_index("old", 16)
        store.add_proposition(prop("Sam plays chess"), embedding=unit(1))
        store.add_proposition(prop("Sam plays go"), embedding=unit(1, 1))
        opened = []

        def embed(texts):
            if not opened:  # another store opens while this re-embed is running
                with Store(db_path) as late:
                    opened.append(_next_tables(late))
            return fake_embedder(32)(texts)

        assert store.reembed("new", 32, embed, batch=1) == 2
        assert opened and "proposition_embeddings_next" in opened[0]
        assert store.vector_index() == ("new", 32)


def test_a_store_open_while_a_reembed_is_killed_stops_mirroring_but_still_forgets_from_it(db_path):
    with Store(db_path) as store:
        store.ensure_vector_index("old", 16)
        kept = store.add_proposition(prop("Sam plays chess"), embedding=unit(1))
        gone = store.add_proposition(prop(f"Sam's PIN is {CANARY}"), embedding=unit(1, 1))
        killed = subprocess.run([sys.executable, "-c", KILLED_REEMBED, str(db_path)], timeout=60)
        assert killed.returncode == -9
        left = dict(store.db.execute("SELECT key, value FROM meta").fetchall())["vector_table_next"]
        store.db.execute(f"INSERT INTO {left} (rowid, embedding, status, confidence, source, updated_at) "
                         "SELECT id, vec_quantize_binary(?), status, confidence, source, updated_at "
                         "FROM propositions", [unit(1, dim=32).tobytes()])  # as if it had got far
        store.db.conn.commit()

        store.reject(kept.id)
        store.forget(gone.id)

        rows = dict(store.db.execute(f"SELECT rowid, status FROM {left}").fetchall())
        assert rows == {kept.id: "current"}  # no longer kept up to date, but the forgotten one is gone


def test_a_forgotten_id_is_never_handed_out_again(db_path, monkeypatch):
    with monkeypatch.context() as m:  # a store made before ids were kept unique
        before_unique_ids(m)
        with Store(db_path) as old:
            before = [old.add_proposition(prop(f"fact {i}")).id for i in range(3)]
            seen = old.add_observation(Observation(observer="push", text="old")).id
    with Store(db_path) as store, Store(db_path) as other:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        newest = store.add_proposition(prop("Sam's PIN is 4321"))
        obs = store.add_observation(Observation(observer="push", text="Sam typed 4321"))
        assert newest.id == max(before) + 1 and obs.id == seen + 1  # ids go on above the old rows
        store.link_evidence(newest.id, [obs.id])
        store.forget(newest.id)  # takes the observation only it cites along
        assert store.counts()["observations"] == 1
        assert other.add_proposition(prop("Sam likes tea")).id == newest.id + 1
        assert other.add_observation(Observation(observer="push", text="tea")).id == obs.id + 1
        assert store.get(before[0]).text == "fact 0"
        assert store.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def _index_sql(store: Store) -> str:
    table = store.vectors.info().table
    return store.db.execute("SELECT sql FROM sqlite_master WHERE name = ?", [table]).fetchone()[0]


def test_a_v5_index_is_rebuilt_partitioned_by_status_with_its_vectors_and_filters(db_path, monkeypatch):
    """v6 makes status the vec0 partition key (KNN for current rows skips the others' chunks)."""
    from tacitd.memory import schema, vectors

    def v5_table(conn, name, dim):  # status as a metadata column, as v2 to v5 made it
        conn.execute(f"CREATE VIRTUAL TABLE {name} USING vec0(embedding bit[{dim}], "
                     "status text, confidence float, source text, updated_at text)")

    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:5])
        m.setattr(schema, "SCHEMA_VERSION", 5)
        m.setattr(vectors, "create_table", v5_table)
        with Store(db_path) as old:
            old.ensure_vector_index("test", 16)
            wrong = old.add_proposition(prop("Sam owns a boat"), embedding=unit(1, 0))
            kept = old.add_proposition(prop("Sam owns a bike", confidence=0.9), embedding=unit(1, 0.3))
            low = old.add_proposition(prop("Sam owns a kayak", confidence=0.2), embedding=unit(1, 0.1))
            old.reject(wrong.id)
            old_table = old.vectors.info().table
            assert "partition key" not in _index_sql(old)
    with Store(db_path) as store:
        assert "status text partition key" in _index_sql(store)
        assert not store.db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", [old_table]).fetchall()

        def near(**filters):
            return [pid for pid, _ in store.vector_candidates(unit(1, 0), 5, filters=SearchFilters(**filters))]

        assert near() == [low.id, kept.id]
        assert near(min_confidence=0.5) == [kept.id]
        assert near(status=("rejected",)) == [wrong.id]
        assert near(status=("rejected", "current")) == [wrong.id, low.id, kept.id]
        store.reject(low.id)  # a status change moves the row to its new partition, vector and all
        assert near() == [kept.id]
        assert near(status=("rejected",)) == [wrong.id, low.id]
        store.confirm(kept.id)  # same status: the metadata columns change in place
        assert near(min_confidence=0.95) == [kept.id]


def test_a_distance_bound_never_changes_what_the_vector_search_finds(store, monkeypatch):
    """The KNN search's Hamming bound (vectors._bound) only saves time: same candidates, filters or not."""
    from tacitd.memory import vectors

    monkeypatch.setattr(vectors, "MIN_BOUNDED", 64)  # bound small test indexes too
    monkeypatch.setattr(vectors, "SAMPLE", 128)
    rng = np.random.default_rng(3)
    centres = rng.standard_normal((8, 64))
    vecs = centres[rng.integers(0, 8, 1500)] + 0.7 * rng.standard_normal((1500, 64))
    store.ensure_vector_index("test", 64)
    store.add_propositions((prop(f"fact {i}", confidence=0.9 if i % 50 == 0 else 0.5), (), v)
                           for i, v in enumerate(vecs))
    sqls: list[str] = []
    tuples = store._conn.tuples
    monkeypatch.setattr(store._conn, "tuples", lambda sql, params=(): sqls.append(sql) or tuples(sql, params))

    def both(query, **filters):
        sqls.clear()
        bounded = store.vector_candidates(query, 10, 3, SearchFilters(**filters))
        knn = [s for s in sqls if "MATCH" in s]
        store.vectors._bounds_ok = False
        try:
            plain = store.vector_candidates(query, 10, 3, SearchFilters(**filters))
        finally:
            store.vectors._bounds_ok = None
        return bounded, plain, knn

    for query in vecs[:5] + 0.3 * rng.standard_normal((5, 64)):
        bounded, plain, knn = both(query)
        assert bounded == plain and len(bounded) == 10
        assert len(knn) == 1 and "distance <=" in knn[0]  # the bound let enough through: one search
    bounded, plain, knn = both(vecs[0], min_confidence=0.8)  # 30 qualify, few inside the bound
    assert bounded == plain and len(bounded) == 10
    assert len(knn) == 2 and "distance <=" not in knn[1]  # searched again without it

"""The events table: every change to a proposition, from any process, as ids and kinds only."""

from __future__ import annotations

import subprocess
import sys

from tacitd.memory import events, schema
from tacitd.memory.db import Connection
from tacitd.memory.store import Store
from tacitd.memory.types import Proposition


def prop(text: str) -> Proposition:
    return Proposition(text=text, confidence=0.6, source="llm")


def kinds(store: Store, after: int = 0) -> list[tuple[str, int]]:
    return [(e.kind, e.proposition_id) for e in store.events.after(after)]


def test_each_change_is_logged_in_order_with_the_version_it_touched(store):
    p = store.add_proposition(prop("Sam uses Vim"))
    v2 = store.revise(p.id, text="Sam uses Neovim")
    store.confirm(v2.id, "yes")
    q = store.add_proposition(prop("Sam likes tea"))
    store.reject(q.id)
    store.forget(v2.id)

    logged = kinds(store)
    assert logged[:5] == [("new", p.id), ("revised", v2.id), ("confirmed", v2.id), ("new", q.id), ("rejected", q.id)]
    assert sorted(logged[5:]) == [("forgotten", p.id), ("forgotten", v2.id)]  # every version of the group
    revised = store.events.after(0)[1]
    assert revised.supersedes == p.id


def test_after_returns_only_newer_events(store):
    store.add_proposition(prop("one"))
    mark = store.events.last_id()
    second = store.add_proposition(prop("two"))
    assert kinds(store, mark) == [("new", second.id)]
    assert store.events.after(store.events.last_id()) == []


def test_events_keep_no_text_and_a_forget_leaves_nothing_readable(plain_store):
    canary = "zebra-canary-31337"
    p = plain_store.add_proposition(prop(f"Sam works on {canary}"))
    plain_store.forget(p.id)
    rows = plain_store.db.execute("SELECT * FROM events").fetchall()
    assert len(rows) == 2
    assert canary not in repr(rows)


def test_another_process_sees_changes_made_by_this_one(db_path):
    """The CLI writes the store directly; the daemon sees its changes through this table."""
    with Store(db_path) as daemon_side:
        mark = daemon_side.events.last_id()
        code = (
            "import sys; from tacitd.memory.store import Store; from tacitd.memory.types import Proposition\n"
            "with Store(sys.argv[1]) as s:\n"
            "    p = s.add_proposition(Proposition(text='from the CLI', confidence=1, source='user'))\n"
            "    s.confirm(p.id)\n"
        )
        subprocess.run([sys.executable, "-c", code, str(db_path)], check=True)
        assert [e.kind for e in daemon_side.events.after(mark)] == ["new", "confirmed"]


def test_the_table_stays_bounded(store):
    first = store.add_proposition(prop("first"))
    db = store.db
    db.conn.executemany("INSERT INTO events (kind, proposition_id, at) VALUES ('new', ?, '2026-01-01')",
                   [(i,) for i in range(events.KEEP + 5)])
    count, low = db.execute("SELECT count(*), min(id) FROM events").fetchone()
    assert count == events.KEEP
    assert low > first.id  # the oldest went first
    assert store.events.after(0)[0].id == low


def test_a_v4_file_gains_the_table_and_its_triggers(db_path):
    conn = Connection(db_path)
    for version, step in enumerate(schema.MIGRATIONS[:4], start=1):  # a store as the previous release left it
        with conn.transaction():
            step(conn)
            conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("INSERT INTO propositions (text, confidence, half_life_days, source, status, version, "
                 "revision_group, valid_from, created_at, updated_at) "
                 "VALUES ('old', 0.5, 30, 'llm', 'current', 1, 1, 'x', 'x', 'x')")
    assert conn.tuples("SELECT count(*) FROM sqlite_master WHERE name = 'events'") == [(0,)]
    conn.close()
    with Store(db_path) as s:
        assert s.events.last_id() == 0  # nothing invented for rows that were there
        p = s.add_proposition(prop("after the upgrade"))
        assert kinds(s) == [("new", p.id)]

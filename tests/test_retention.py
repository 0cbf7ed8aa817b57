"""Retention (old text expires, a byte budget holds), `tacit gc`, and forget by scope, on real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tacitd.memory.db import StoreError
from tacitd.memory.forget import ForgetScope
from tacitd.memory.retention import MB, RetentionPolicy
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, SearchFilters

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
TACIT = Path(sys.executable).with_name("tacit")
EVERY_STATUS = SearchFilters(status=("current", "superseded", "rejected"))


def day(n: float) -> datetime:
    """n days before NOW."""
    return NOW - timedelta(days=n)


def screen(text: str, when: datetime, app: str = "Code") -> Observation:
    return Observation(observer="screen", app=app, window_title=f"{app} window", text=text, captured_at=when)


def all_rows(store: Store) -> dict[str, list[tuple]]:
    names = [r[0] for r in store.db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")]
    return {n: store.db.execute(f'SELECT * FROM "{n}"').fetchall() for n in names}


# -- age -----------------------------------------------------------------------


def test_old_text_becomes_a_snippet_where_cited_and_goes_where_nothing_cites_it(store):
    long_text = "standup notes about the billing migration " + "and more detail " * 40 + "tailword"
    old, fresh, uncited = store.add_observations([screen(long_text, day(31)), screen(long_text, day(29)),
                                                  screen("uncited tailword", day(31), "Slack")])
    p = store.add_proposition(Proposition(text="Sam works on billing", confidence=0.7), evidence=[old.id])

    report = store.gc(RetentionPolicy(observations_days=30, max_db_mb=None), now=NOW)

    assert (report.expired, report.expired_deleted, report.deleted) == (1, 1, 0)
    assert {o.id for o in store.all_observations()} == {old.id, fresh.id}
    evidence = store.evidence_for(p.id)
    assert [o.id for o in evidence] == [old.id]
    kept = evidence[0]
    assert kept.captured_at == day(31) and kept.app == "Code" and kept.window_title == "Code window"
    assert kept.text.startswith("standup notes about the billing migration") and kept.text.endswith("…")
    assert len(kept.text) <= 161 and "tailword" not in kept.text
    assert store.get_observation(fresh.id).text == long_text  # 29 days: untouched
    hits = store.db.execute("SELECT rowid FROM observations_fts WHERE observations_fts MATCH 'tailword'").fetchall()
    assert hits == [(fresh.id,)]  # the cut words left the full-text index too
    again = store.gc(RetentionPolicy(observations_days=30, max_db_mb=None), now=NOW)
    assert (again.expired, again.expired_deleted) == (0, 0)  # a snippet is not cut again


def test_a_dry_run_reports_the_real_numbers_and_changes_nothing(store):
    obs = store.add_observations([screen("x" * 20000 + f" row {i}", day(40 - i)) for i in range(30)])  # overflow
    store.add_proposition(Proposition(text="Sam types x", confidence=0.5), evidence=[o.id for o in obs[::2]])
    policy = RetentionPolicy(observations_days=30, max_db_mb=None)
    before = all_rows(store)

    dry = store.gc(policy, dry_run=True, now=NOW)

    assert dry.dry_run and (dry.expired, dry.expired_deleted) == (5, 5) and dry.bytes_after < dry.bytes_before
    assert all_rows(store) == before
    real = store.gc(policy, now=NOW)
    assert (real.expired, real.expired_deleted, real.bytes_after) == (5, 5, dry.bytes_after)


def test_retention_off_keeps_everything(store):
    store.add_observations([screen("y" * 500, day(400))])
    report = store.gc(RetentionPolicy(observations_days=None, max_db_mb=None), now=NOW)
    assert (report.expired, report.expired_deleted, report.deleted, report.budget_bytes) == (0, 0, 0, None)


# -- the byte budget -------------------------------------------------------------


def fill_days(store: Store, days: int, per_day: int, size: int, now: datetime = NOW) -> None:
    for d in range(days, 0, -1):
        store.add_observations([screen(f"day {d} item {i} " + "lorem ipsum dolor " * (size // 18),
                                       now - timedelta(days=d, minutes=-i)) for i in range(per_day)])


def test_past_the_budget_the_oldest_observations_go_and_the_file_shrinks(store):
    fill_days(store, days=20, per_day=60, size=2000)  # about 5 MB
    cited = store.observations(limit=1)[0]  # the newest: cited, and young enough to stay
    store.add_proposition(Proposition(text="Sam writes lorem ipsum", confidence=0.5), evidence=[cited.id])
    oldest_cited = store.add_observation(screen("an old one that a proposition cites", day(30)))
    store.add_proposition(Proposition(text="Sam once did this", confidence=0.5), evidence=[oldest_cited.id])
    file_before = store.path.stat().st_size
    budget_mb = 2.0

    report = store.gc(RetentionPolicy(observations_days=None, max_db_mb=budget_mb), now=NOW)

    assert report.bytes_before > budget_mb * MB >= report.bytes_after
    assert report.deleted > 0 and not report.over_budget
    left = list(store.all_observations())
    assert len(left) == 20 * 60 + 1 - report.deleted
    gone_before = min(o.captured_at for o in left)
    assert all(o.captured_at >= gone_before for o in left) and gone_before > day(20)  # oldest first
    assert oldest_cited.id not in {o.id for o in left}  # the budget holds even over cited ones
    assert store.counts()["propositions"] == 2  # propositions are never deleted for space
    assert report.file_bytes < file_before  # free pages went back to the file system
    assert store.gc(RetentionPolicy(observations_days=None, max_db_mb=budget_mb), now=NOW).deleted == 0


def test_a_budget_that_observations_cannot_meet_says_so(store):
    store.add_observations([screen("z" * 100, day(1))])
    report = store.gc(RetentionPolicy(observations_days=None, max_db_mb=0.01), now=NOW)
    assert report.over_budget and store.counts()["observations"] == 0


# -- tacit gc and the config -----------------------------------------------------------


@pytest.fixture
def tacit(tmp_path):
    data, config = tmp_path / "data", tmp_path / "config.toml"
    env = {**os.environ, "TACIT_DATA_DIR": str(data), "TACIT_CONFIG": str(config)}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=120)
        assert (result.returncode == 0) == ok, result.stderr
        return result

    run.db, run.config, run.data = data / "tacit.db", config, data
    return run


def test_tacit_gc_dry_run_then_for_real_with_the_config_budget(tacit):
    with Store(tacit.db) as store:
        fill_days(store, days=10, per_day=60, size=2000, now=datetime.now(UTC))
        store.add_observations([screen("w" * 3000, datetime.now(UTC) - timedelta(days=45))])
        total = store.counts()["observations"]
    tacit.config.write_text("[retention]\nobservations_days = 30\nmax_db_mb = 1\n")
    shots = tacit.data / "screenshots"
    shots.mkdir()
    (shots / "old.png").write_bytes(b"png")
    os.utime(shots / "old.png", (0, 0))
    (shots / "new.png").write_bytes(b"png")

    dry = json.loads(tacit("gc", "--dry-run", "--json").stdout)
    assert dry["dry_run"] and dry["observations_deleted_for_budget"] > 0
    assert (dry["observations_expired_deleted"], dry["observations_cut_to_snippet"]) == (1, 0)
    with Store(tacit.db) as store:
        assert store.counts()["observations"] == total
    assert (shots / "old.png").exists()

    real = json.loads(tacit("gc", "--json").stdout)
    assert real["observations_deleted_for_budget"] == dry["observations_deleted_for_budget"]
    assert real["bytes_after"] <= 1 * MB and real["screenshots_deleted"] == 1
    assert sorted(p.name for p in shots.iterdir()) == ["new.png"]
    assert "Older than 30 days: cut 0 cited observation(s) to a snippet and deleted 0" in tacit("gc").stdout


def test_a_bad_retention_setting_is_one_clear_line(tacit):
    tacit.config.write_text("[retention]\nmax_db_mb = -5\n")
    result = tacit("gc", ok=False)
    assert "retention.max_db_mb" in result.stderr and "Traceback" not in result.stderr


# -- forget by scope ----------------------------------------------------------------


def scoped_store(store: Store) -> dict[str, int]:
    slack = store.add_observations([screen("launch thread", day(10), "Slack"), screen("lunch?", day(2), "slack")])
    code = store.add_observations([screen("def bill(): pass", day(10)), screen("def pay(): pass", day(2))])
    ids = {
        "only_slack": store.add_proposition(Proposition(text="Sam runs the launch", confidence=0.6),
                                            evidence=[o.id for o in slack]).id,
        "mixed": store.add_proposition(Proposition(text="Sam talks about code", confidence=0.6),
                                       evidence=[slack[0].id, code[0].id]).id,
        "only_code": store.add_proposition(Proposition(text="Sam writes Python", confidence=0.6),
                                           evidence=[code[1].id]).id,
        "user": store.add_proposition(Proposition(text="Sam likes tea", confidence=1, source="user")).id,
    }
    revised = store.revise(ids["only_slack"], text="Sam leads the launch")
    ids["only_slack_v2"] = revised.id
    return ids


def test_forget_an_app_takes_what_was_seen_there_and_what_was_learned_only_there(store):
    ids = scoped_store(store)

    report = store.forget_scope(ForgetScope(app="SLACK"))

    assert (report.propositions, report.observations) == (2, 2)  # both versions; apps match in any case
    assert {o.app for o in store.all_observations()} == {"Code"}
    left = {p.id for p in store.all_propositions()}
    assert left == {ids["mixed"], ids["only_code"], ids["user"]}
    assert [o.text for o in store.evidence_for(ids["mixed"])] == ["def bill(): pass"]
    assert store.text_candidates("launch", 5, EVERY_STATUS) == []


def test_forget_before_a_date_and_observations_only(store):
    ids = scoped_store(store)
    cutoff = day(5)
    learned_late = store.add_proposition(Proposition(text="Sam ships", confidence=0.5))

    seen = store.forget_scope(ForgetScope(before=cutoff, observations_only=True))

    assert (seen.propositions, seen.observations) == (0, 2)
    assert all(o.captured_at >= cutoff for o in store.all_observations())
    assert store.counts()["propositions"] == 6  # all kept, less their old links
    assert [o.text for o in store.evidence_for(ids["mixed"])] == []

    everything = store.forget_scope(ForgetScope(before=datetime.now(UTC) - timedelta(seconds=0)))
    assert everything.propositions == 6 and store.counts()["propositions"] == 0
    assert learned_late.id not in {p.id for p in store.all_propositions()}


def test_forget_a_window_reopens_the_version_it_replaced_only_when_none_is_current(store):
    v1 = store.add_proposition(Proposition(text="Sam uses vim", confidence=0.5))
    start = datetime.now(UTC)
    v2 = store.revise(v1.id, text="Sam uses helix")
    end = datetime.now(UTC)
    v3 = store.revise(v2.id, text="Sam uses zed")

    report = store.forget_scope(ForgetScope(since=start, before=end))

    assert report.propositions == 1
    statuses = {p.id: p.status for p in store.all_propositions()}
    assert statuses == {v1.id: "superseded", v3.id: "current"}  # v3 is still current: v1 stays closed

    store.forget_scope(ForgetScope(since=end))
    assert store.get(v1.id).status == "current"  # nothing current is left: v1 reopens
    assert [pid for pid in store.text_candidates("vim", 5, SearchFilters())] == [v1.id]


@pytest.mark.parametrize("kwargs,message", [
    ({}, "needs an app, a since or a before"),
    ({"app": "  "}, "app to forget is empty"),
    ({"since": day(1), "before": day(2)}, "since must be earlier than before"),
])
def test_a_bad_scope_is_refused(kwargs, message):
    with pytest.raises(StoreError, match=message):
        ForgetScope(**kwargs)


def test_tacit_forget_by_app_and_its_usage_errors(tacit):
    with Store(tacit.db) as store:
        scoped_store(store)
    before = tacit("export").stdout
    for args, message in [(("forget", "--observations-only"), "--observations-only needs"),
                          (("forget", "3", "--app", "Slack"), "give either a proposition ID or --since")]:
        result = tacit(*args, ok=False)
        assert message in result.stderr
    assert tacit("export").stdout == before
    out = json.loads(tacit("forget", "--app", "slack", "--json").stdout)
    assert out["forgotten"] == {"propositions": 2, "observations": 2}
    out = json.loads(tacit("forget", "--before", "2000-01-01", "--observations-only", "--json").stdout)
    assert out["forgotten"] == {"propositions": 0, "observations": 0}


def test_a_large_forget_rebuilds_the_index_once_and_leaves_no_trace_in_the_file(plain_store, db_path):
    store = plain_store  # unencrypted, so the bytes on disk can be searched
    canary = "wombatcanary5150"
    for batch in range(6):  # small batches, as capture writes them: an index of many segments
        store.add_observations([screen(f"chat {canary} message {batch}-{i}", day(3), "Slack") for i in range(50)])
        store.add_observations([screen(f"def keep_{batch}_{i}(): pass", day(3)) for i in range(20)])
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert canary.encode() in db_path.read_bytes()  # the scan can find it

    report = store.forget_scope(ForgetScope(app="Slack"))

    assert (report.observations, report.scrub_pending) == (300, False)
    raw = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name))
    assert canary.encode() not in raw
    assert store.db.execute("SELECT count(*) FROM observations_fts_docsize").fetchone() == (120,)
    hits = store.db.execute("SELECT count(*) FROM observations_fts WHERE observations_fts MATCH 'pass'").fetchone()
    assert hits == (120,)  # the rebuilt index still finds what is left
    assert store.db.execute("SELECT v FROM observations_fts_config WHERE k = 'secure-delete'").fetchone() == (1,)

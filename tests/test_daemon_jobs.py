"""The daemon's scheduled jobs, called directly on a real store: backup rotation, checkpoint, gc, stats, decay."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon_proc import running_daemon, wait_until
from tacitd.daemon.config import load_settings
from tacitd.daemon.runtime import Daemon, nightly_backup
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition


@pytest.fixture
def daemon_obj(tmp_path: Path):
    settings = load_settings(tmp_path / "none.toml", data_dir=tmp_path / "data")
    d = Daemon(settings)
    yield d
    d._stores.close()


def test_nightly_backup_keeps_the_newest_n_and_they_open_with_the_key(store, tmp_path):
    store.add_proposition(Proposition(text="Sam writes Rust at work", source="user", confidence=0.9))
    folder = tmp_path / "backups"
    start = datetime(2026, 11, 1, 3, 0, tzinfo=UTC)
    results = [nightly_backup(store, folder, keep=3, now=start + timedelta(days=i)) for i in range(5)]
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["tacit-20261103T030000Z.db", "tacit-20261104T030000Z.db", "tacit-20261105T030000Z.db"]
    assert results[-1]["removed"] == ["tacit-20261102T030000Z.db"] and results[0]["removed"] == []
    assert all(oct((folder / n).stat().st_mode & 0o777) == "0o600" for n in names)
    with Store(folder / names[-1]) as copy:
        assert [p.text for p in copy.recent(5)] == ["Sam writes Rust at work"]
        assert copy.encryption.encrypted


def test_backup_job_honours_keep_zero_and_writes_to_the_backups_dir(daemon_obj):
    daemon_obj.store().add_proposition(Proposition(text="Sam prefers dark mode", source="user", confidence=0.9))
    first = daemon_obj._backup()
    assert (daemon_obj.settings.backups_path / first["backup"]).is_file()
    daemon_obj.settings.daemon.backup_keep = 0
    assert "skipped" in daemon_obj._backup()
    assert len(list(daemon_obj.settings.backups_path.iterdir())) == 1


def test_checkpoint_job_empties_the_wal(daemon_obj):
    store = daemon_obj.store()
    store.add_observations([Observation(observer="api", text=f"line {i} " * 40) for i in range(200)])
    wal = Path(str(store.path) + "-wal")
    assert wal.stat().st_size > 0
    result = daemon_obj._checkpoint()
    assert result["busy"] == 0 and result["checkpointed"] == result["wal_pages"]
    assert wal.stat().st_size == 0


def test_gc_job_applies_retention(daemon_obj):
    store = daemon_obj.store()
    old = datetime.now(UTC) - timedelta(days=45)
    store.add_observations([Observation(observer="api", text="an old page nobody cites", captured_at=old),
                            Observation(observer="api", text="today's page")])
    result = daemon_obj._gc()
    assert result["observations_expired_deleted"] == 1 and result["dry_run"] is False
    assert [r[0] for r in store.db.execute("SELECT text FROM observations").fetchall()] == ["today's page"]


def test_stats_and_decay_jobs_report_counts(daemon_obj):
    store = daemon_obj.store()
    long_ago = datetime.now(UTC) - timedelta(days=400)
    store.add_proposition(Proposition(text="Sam visited Osaka", source="user", confidence=0.9, half_life_days=30,
                                      valid_from=long_ago, created_at=long_ago, updated_at=long_ago))
    store.add_proposition(Proposition(text="Sam is a data engineer", source="user", confidence=0.9, half_life_days=365))
    assert daemon_obj._decay() == {"current": 2, "faded": 1}
    start = datetime.now(UTC) - timedelta(hours=3)
    store.add_observations([Observation(observer="window", app="code", window_title="main.rs - tacit",
                                        captured_at=start + timedelta(minutes=m), duration_s=60) for m in range(90)])
    first = daemon_obj._stats()
    assert first["added"] >= 1, first  # 90 minutes in one app is worth a stats proposition
    assert daemon_obj._stats() == {"added": 0, "revised": 0}  # measured again, nothing changed


def test_an_unencrypted_store_is_announced_loudly_at_start(tmp_path):
    blocker = tmp_path / "no_sqlcipher"
    (blocker / "sqlcipher3").mkdir(parents=True)
    (blocker / "sqlcipher3" / "__init__.py").write_text("raise ImportError('no wheel for this platform')\n")
    env = {"PYTHONPATH": os.pathsep.join([str(blocker), os.environ.get("PYTHONPATH", "")])}
    check = subprocess.run([sys.executable, "-c", "from tacitd.memory import crypto; print(crypto.CIPHER)"],
                           env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert check.stdout.strip() == "None"  # the stand-in really hides SQLCipher
    with running_daemon(tmp_path, model=None, env=env) as d:
        assert d.status()["daemon"]["encryption"]["encrypted"] is False
        line = wait_until(lambda: next((x for x in d.log_text().splitlines() if "UNENCRYPTED" in x), None), 30)
    assert "level=WARNING" in line and "SQLCIPHER IS MISSING" in line and "sqlcipher3" in line


def test_an_exclusive_job_waits_for_the_segment_and_holds_new_passes(tmp_path):
    """The gc runs between the model child's segments; wakes meanwhile are kept and sent after it."""
    import asyncio

    from tacitd.daemon.worker import ModelWorker

    sent = []

    class Pipe:
        def send(self, message):
            sent.append(message)

    async def scenario() -> list[str]:
        worker = ModelWorker(load_settings(tmp_path / "none.toml", data_dir=tmp_path / "data"))
        worker._conn = Pipe()
        worker.status.state = "busy"  # a segment in progress
        order = []

        async def gc() -> None:
            async with worker.paused():
                order.append("gc starts")
                worker.wake(flush=False)  # e.g. an observation pushed during the gc: held
                order.append(f"sent during gc: {len(sent)}")
            order.append(f"sent after gc: {sent}")

        task = asyncio.create_task(gc())
        await asyncio.sleep(0.5)
        order.append("segment done")
        worker.status.state = "idle"
        await asyncio.wait_for(task, 5)
        return order

    assert asyncio.run(scenario()) == ["segment done", "gc starts", "sent during gc: 0",
                                       "sent after gc: [('run', False)]"]

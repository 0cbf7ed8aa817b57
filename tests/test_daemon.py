"""`tacit daemon` as a real process: status, jobs, pidfile, SIGTERM, SIGHUP, and the unencrypted warning."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil

from daemon_proc import MAIN, daemon, daemon_env, running_daemon, short_socket_dir, wait_until  # noqa: F401
from tacitd.daemon.lifecycle import pid_state
from tacitd.memory.store import Store


def tacit(d, *args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", MAIN, *args], env=d.env, capture_output=True, text=True,
                          timeout=60, check=check)


def test_status_reports_the_running_daemon_and_sigterm_ends_it(daemon):
    s = daemon.status()
    d = s["daemon"]
    assert d["pid"] == daemon.pid
    assert d["worker"]["state"] == "off" and "pipeline" in d["worker"]["reason"]
    assert {o["name"]: o["on"] for o in d["observers"]} == dict.fromkeys(("screen", "window", "input", "files"),
                                                                         False)
    assert d["process"]["rss_mb"] > 10 and d["encryption"]["encrypted"] is True
    assert pid_state(daemon.data_dir / "tacit.pid").running

    out = tacit(daemon, "status", "--json")
    assert out.returncode == 0, out.stderr
    facts = json.loads(out.stdout)
    assert facts["running"] is True and facts["answering"] is True and facts["daemon"]["pid"] == daemon.pid

    assert daemon.stop() < 10
    assert daemon.proc.returncode == 0
    assert not daemon.socket.exists()
    assert not (daemon.data_dir / "tacit.pid").exists()
    gone = tacit(daemon, "status", "--json")
    assert gone.returncode == 3 and json.loads(gone.stdout)["running"] is False


def test_a_second_daemon_on_the_same_data_refuses_and_the_first_keeps_running(daemon):
    second = subprocess.run([sys.executable, "-c", MAIN, "daemon"], env=daemon.env, capture_output=True, text=True,
                            timeout=60)
    assert second.returncode != 0
    assert f"already running (pid {daemon.pid})" in second.stderr
    assert daemon.status()["daemon"]["pid"] == daemon.pid


def test_sighup_reloads_the_config_and_a_broken_file_keeps_the_running_one(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[observers]\nenabled = []\n')
    with running_daemon(tmp_path, model=None, env={"TACIT_CONFIG": str(config), "TACIT_OBSERVERS__ENABLED": None}) as d:
        config.write_text('[observers]\nenabled = ["files"]\nfiles_paths = ["%s"]\n' % tmp_path)
        os.kill(d.pid, signal.SIGHUP)
        files = wait_until(lambda: next(o for o in d.status()["daemon"]["observers"] if o["name"] == "files")["on"]
                           or None, 30, what="the files observer after SIGHUP")
        assert files is True
        config.write_text("[observers\n")  # not TOML
        os.kill(d.pid, signal.SIGHUP)
        wait_until(lambda: "config not reloaded" in d.log_text(), 30, what="the reload error in the log")
        assert next(o for o in d.status()["daemon"]["observers"] if o["name"] == "files")["on"] is True
        assert "not valid TOML" in d.status()["daemon"]["config"]["error"]
        out = tacit(d, "status")  # reads the same broken file, and still finds the daemon
        assert out.returncode == 0 and "not valid TOML" in out.stderr
        assert "config: not reloaded at" in out.stdout and "running on the previous one" in out.stdout
        stopped = tacit(d, "stop")  # the broken file must not keep the user from stopping it
        assert stopped.returncode == 0 and "not valid TOML" in stopped.stderr, stopped.stderr
        assert d.proc.wait(timeout=15) == 0


def test_scheduled_jobs_run_and_report(daemon):
    jobs = wait_until(lambda: daemon.status()["daemon"]["jobs"].get("decay"), 30, what="the decay job")
    assert jobs["ok"] is True and jobs["result"] == {"current": 0, "faded": 0}


def test_the_pipeline_processes_pushed_observations_and_logs_no_text_at_info(tmp_path):
    secret_ish = "Quarterly plan for the Zanzibar merger"
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).isoformat()  # quiet long enough to form a segment
    with running_daemon(tmp_path) as d:
        r = d.post("/v1/observations", json={"observations": [
            {"text": f"{secret_ish}, line {i}", "app": "editor", "window_title": "plan.md", "captured_at": hour_ago}
            for i in range(3)]})
        assert r.status_code in (200, 201), r.text
        done = wait_until(lambda: (s := d.status())["queue"]["processed"] + s["queue"]["quarantined"] >= 3 and s,
                          180, 0.2, "the pushed observations to be processed")
        worker = done["daemon"]["worker"]
        assert worker["model"] == "gemma3-270m" and worker["crashes"] == 0
        assert wait_until(lambda: d.status()["daemon"]["worker"]["last_batch"], 30)["segments"] >= 1
        assert d.get("/v1/search", params={"q": "Zanzibar merger"}).status_code == 200
    log = d.log_text()
    assert "level=INFO" in log and "pass: " in log
    assert "Zanzibar" not in log


def test_log_level_flag_turns_debug_on_and_the_default_keeps_it_off(tmp_path, daemon):
    env = daemon_env(tmp_path / "other", short_socket_dir() / "tacit.sock", model=None)
    proc = subprocess.Popen([sys.executable, "-c", MAIN, "daemon", "--log-level", "debug"], env=env,
                            stderr=subprocess.PIPE, text=True)
    try:
        first_debug = wait_until(lambda: (line := proc.stderr.readline()) and "level=DEBUG" in line and line
                                 or proc.poll() is not None and "exited", 60, 0, "a DEBUG line")
        assert first_debug != "exited"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
    assert "level=DEBUG" not in daemon.log_text()  # the fixture's daemon runs at the default INFO


def test_status_says_until_when_capture_is_paused(daemon):
    r = daemon.post("/v1/pause", json={"duration_s": 3600})
    assert r.status_code == 200, r.text
    out = tacit(daemon, "status")
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith("paused until"))
    assert "tacit resume" not in line and ":" in line  # a local time, not the open-ended pause
    daemon.post("/v1/resume")
    assert not any(x.startswith("paused") for x in tacit(daemon, "status").stdout.splitlines())


def test_a_wrong_key_stops_the_daemon_at_start_with_a_clear_error_and_changes_nothing(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    Store(data / "tacit.db").close()  # encrypted with the session's key
    before = (data / "tacit.db").read_bytes()
    env = daemon_env(data, short_socket_dir() / "tacit.sock", model=None, extra={"TACIT_DB_KEY": "11" * 32})
    out = subprocess.run([sys.executable, "-c", MAIN, "daemon"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "unreadable with the key from TACIT_DB_KEY" in out.stderr and "Traceback" not in out.stderr
    assert (data / "tacit.db").read_bytes() == before
    assert not (data / "tacit.pid").exists() and not Path(env["TACIT_SOCKET"]).exists()


def test_sighup_switches_the_model_child_on_and_off_with_the_pipeline_setting(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text("[daemon]\npipeline = false\n")
    with running_daemon(tmp_path, env={"TACIT_CONFIG": str(config)}) as d:
        def worker() -> dict:
            return d.status()["daemon"]["worker"]

        os.kill(d.pid, signal.SIGHUP)  # nothing changed: still off
        wait_until(lambda: "config reloaded" in d.log_text(), 30)
        assert worker()["state"] == "off" and worker()["pid"] is None
        config.write_text("[daemon]\npipeline = true\n")
        os.kill(d.pid, signal.SIGHUP)
        child = wait_until(lambda: (w := worker())["state"] == "idle" and w["pid"], 60, 0.1, "the child on")
        config.write_text("[daemon]\npipeline = false\n")
        os.kill(d.pid, signal.SIGHUP)
        off = wait_until(lambda: (w := worker())["state"] == "off" and w, 60, 0.1, "the child off")
        assert off["pid"] is None and off["crashes"] == 0 and "pipeline = false" in off["reason"]
        wait_until(lambda: not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE, 10)


def test_the_daemon_keeps_its_data_private_whatever_the_umask(tmp_path):
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    Store(data / "tacit.db").close()
    os.chmod(data / "tacit.db", 0o644)  # as an older tacit, or a umask of 022, left it
    old = os.umask(0o022)
    try:
        with running_daemon(tmp_path) as d:
            d.post("/v1/observations", json={"observations": [
                {"text": "a line", "app": "editor", "captured_at": datetime.now(UTC).isoformat()}]})
            modes = {p.name: oct(p.stat().st_mode & 0o777) for p in data.iterdir() if p.is_file()}
            assert oct(data.stat().st_mode & 0o777) == "0o700"
    finally:
        os.umask(old)
    assert {modes[n] for n in ("tacit.db", "tacit.db-wal", "tacit.db-shm", "tacit.pid")} == {"0o600"}, modes


def test_capture_during_a_long_write_waits_in_memory_and_is_saved_after_it(tmp_path):
    watched = tmp_path / "watched"
    watched.mkdir()
    env = {"TACIT_OBSERVERS__ENABLED": '["files"]', "TACIT_OBSERVERS__FILES_PATHS": json.dumps([str(watched)])}
    with running_daemon(tmp_path, model=None, env=env) as d:
        holding, release = threading.Event(), threading.Event()

        def long_write() -> None:  # what the nightly gc's single transaction does to everyone else
            with Store(d.data_dir / "tacit.db") as other, other.transaction():
                holding.set()
                release.wait(60)

        writer = threading.Thread(target=long_write)
        writer.start()
        try:
            assert holding.wait(30)
            (watched / "notes.md").write_text("draft")
            wait_until(lambda: "wait in memory" in d.log_text(), 60, 0.1, "the sink to find the database busy")
            assert d.status()["daemon"]["observers"][3] == {"name": "files", "on": True, "reason": "running"}
        finally:
            release.set()
            writer.join(30)
        wait_until(lambda: sum(d.status()["queue"].values()) >= 1, 30, 0.1, "the held observation saved")
    with Store(d.data_dir / "tacit.db") as store:
        rows = store.db.execute("SELECT text FROM observations WHERE observer = 'files'").fetchall()
    assert len(rows) == 1 and rows[0][0].endswith(f" {watched / 'notes.md'}")  # saved once, not lost or doubled

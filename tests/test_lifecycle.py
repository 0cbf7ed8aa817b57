"""`tacit start | stop | status` on real processes, the single-instance pidfile, and the service files."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from daemon_proc import MAIN, daemon_env, short_socket_dir, wait_until
from tacitd.daemon import lifecycle
from tacitd.daemon.lifecycle import LifecycleError, PidFile, pid_state


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


# -- the pidfile ------------------------------------------------------------------------------------------


def test_pidfile_is_exclusive_and_released(tmp_path):
    path = tmp_path / "tacit.pid"
    first = PidFile(path)
    first.acquire()
    assert path.read_text().strip() == str(os.getpid())
    assert pid_state(path) == lifecycle.PidState(True, os.getpid(), False)
    with pytest.raises(LifecycleError, match=f"already running \\(pid {os.getpid()}\\)"):
        PidFile(path).acquire()
    assert path.read_text().strip() == str(os.getpid())  # the refused one changed nothing
    first.release()
    assert not path.exists() and pid_state(path) == lifecycle.PidState(False, None, False)


def test_a_stale_pidfile_is_detected_and_taken_over(tmp_path):
    path = tmp_path / "tacit.pid"
    dead = _dead_pid()
    path.write_text(f"{dead}\n")
    assert pid_state(path) == lifecycle.PidState(False, dead, True)
    # A live pid that does not hold the lock is just as stale (a reused pid cannot fool it).
    path.write_text(f"{os.getppid()}\n")
    assert pid_state(path).stale and not pid_state(path).running
    taker = PidFile(path)
    taker.acquire()
    assert taker.replaced_stale == os.getppid()
    taker.release()


def test_a_killed_holder_leaves_a_stale_pidfile(tmp_path):
    path = tmp_path / "tacit.pid"
    holder = subprocess.Popen([sys.executable, "-c", f"""
from pathlib import Path
from tacitd.daemon.lifecycle import PidFile
import sys, time
PidFile(Path({str(path)!r})).acquire()
print("held", flush=True)
time.sleep(60)
"""], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert pid_state(path) == lifecycle.PidState(True, holder.pid, False)
    finally:
        holder.kill()
        holder.wait()
    assert pid_state(path) == lifecycle.PidState(False, holder.pid, True)


# -- start, status, stop through the CLI ---------------------------------------------------------------------


def _tacit(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", MAIN, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_start_status_stop_and_a_second_start_refuses(tmp_path):
    data = tmp_path / "data"
    sock = short_socket_dir() / "tacit.sock"
    env = daemon_env(data, sock, model=None)
    dead = _dead_pid()
    data.mkdir(parents=True)
    (data / "tacit.pid").write_text(f"{dead}\n")  # a crash left this behind
    assert json.loads(_tacit(env, "status", "--json").stdout)["stale_pidfile"] is True

    started = _tacit(env, "start", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    try:
        # curl --unix-socket <sock> http://x/v1/status answers
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://x") as http:
            assert http.get("/v1/status").json()["daemon"]["pid"] == pid
        status = _tacit(env, "status", "--json")
        assert status.returncode == 0
        facts = json.loads(status.stdout)
        assert facts["running"] and facts["pid"] == pid and facts["daemon"]["uptime_s"] >= 0
        human = _tacit(env, "status")
        assert f"tacit is running (pid {pid}" in human.stdout and "not in [observers] enabled" in human.stdout

        again = _tacit(env, "start")
        assert again.returncode == 1 and f"already running (pid {pid})" in again.stderr
        log = (data / "daemon.log").read_text()
        assert f"stale pidfile (pid {dead}" in log

        stopped = _tacit(env, "stop", "--json")
        assert stopped.returncode == 0
        report = json.loads(stopped.stdout)
        assert report["stopped"] and report["pid"] == pid and report["seconds"] < 10
    finally:
        if pid_state(data / "tacit.pid").running:
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not sock.exists(), 10, what="the socket to go")
    assert _tacit(env, "status").returncode == 3
    nothing = json.loads(_tacit(env, "stop", "--json").stdout)
    assert nothing["was_running"] is False and nothing["stale_pidfile"] is False


def test_start_reports_a_daemon_that_cannot_start(tmp_path):
    data = tmp_path / "data"
    env = daemon_env(data, short_socket_dir() / "tacit.sock", model=None,
                     extra={"TACIT_DAEMON__LOG_LEVEL": "LOUD"})  # invalid: the daemon exits at once
    out = _tacit(env, "start", "--timeout", "60")
    assert out.returncode == 1
    assert "exited with status" in out.stderr or "log_level" in out.stderr
    assert not pid_state(data / "tacit.pid").running


# -- service files -------------------------------------------------------------------------------------------------


def test_systemd_unit_is_written_and_verifies(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    target = lifecycle.service_file(home=tmp_path, system="Linux")
    assert target.path == tmp_path / "config" / "systemd" / "user" / "tacit.service"
    command = lifecycle.tacit_executable()
    path = lifecycle.write_service(target, command, {"TACIT_DATA_DIR": str(tmp_path / "my data")}, tmp_path / "log")
    text = path.read_text()
    assert f"ExecStart={command[0]} daemon" in text.splitlines() or 'ExecStart="' in text
    assert 'Environment="TACIT_DATA_DIR=' + str(tmp_path / "my data") + '"' in text
    assert "KillMode=mixed" in text and "ExecReload=/bin/kill -HUP $MAINPID" in text
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed: the unit was written but not verified")
    ok = _verify(path, tmp_path)
    assert ok.returncode == 0 and "tacit.service" not in ok.stderr, ok.stderr
    # The check can fail: the same unit with a misspelt key and no ExecStart is refused.
    path.write_text(text.replace("ExecStart=", "ExecStrt=").replace("KillMode=mixed", "KillMode=blend"))
    bad = _verify(path, tmp_path)
    assert bad.returncode != 0 and "Unknown key 'ExecStrt'" in bad.stderr and "kill mode" in bad.stderr


def _verify(path: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)  # the user manager needs a runtime dir, even to verify
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_RUNTIME_DIR": str(runtime)}
    return subprocess.run(["systemd-analyze", "verify", "--user", str(path)], capture_output=True, text=True,
                          timeout=60, env=env)


def test_systemd_unit_quotes_paths_with_spaces_and_quotes():
    unit = lifecycle.systemd_unit(["/opt/my tools/tacit"], {"TACIT_CONFIG": 'a "quoted" path'})
    assert 'ExecStart="/opt/my tools/tacit" daemon' in unit
    assert 'Environment="TACIT_CONFIG=a \\"quoted\\" path"' in unit


def test_launchd_plist_is_a_valid_agent(tmp_path):
    target = lifecycle.service_file(home=tmp_path, system="Darwin")
    assert target.path == tmp_path / "Library" / "LaunchAgents" / "io.tacit.daemon.plist"
    path = lifecycle.write_service(target, ["/usr/local/bin/tacit"], {"TACIT_DATA_DIR": "/data"}, tmp_path / "d.log")
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == "io.tacit.daemon"
    # It rotates its own log; launchd's StandardErrorPath only gets what it prints before it opens it.
    assert plist["ProgramArguments"] == ["/usr/local/bin/tacit", "daemon", "--log-file", str(tmp_path / "d.log")]
    assert plist["RunAtLoad"] is True and plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["EnvironmentVariables"] == {"TACIT_DATA_DIR": "/data"}
    assert plist["StandardErrorPath"] == str(tmp_path / "d.log")
    if shutil.which("plutil"):
        assert subprocess.run(["plutil", "-lint", str(path)], capture_output=True).returncode == 0


def test_service_install_and_uninstall_through_the_cli(tmp_path):
    env = daemon_env(tmp_path / "data", short_socket_dir() / "tacit.sock", model=None,
                     extra={"XDG_CONFIG_HOME": str(tmp_path / "config"), "HOME": str(tmp_path)})
    out = _tacit(env, "service", "install", "--no-enable", "--json")
    assert out.returncode == 0, out.stderr
    written = json.loads(out.stdout)
    unit = Path(written["path"])
    assert written["kind"] == "systemd" and unit.is_file() and written["enabled"] is False
    assert f"Environment=TACIT_DATA_DIR={tmp_path / 'data'}" in unit.read_text()
    removed = _tacit(env, "service", "uninstall", "--no-disable", "--json")
    assert json.loads(removed.stdout)["removed"] is True and not unit.exists()
    again = json.loads(_tacit(env, "service", "uninstall", "--no-disable", "--json").stdout)
    assert again["removed"] is False


def test_service_is_refused_on_an_unknown_platform(tmp_path):
    with pytest.raises(LifecycleError, match="systemd .* launchd"):
        lifecycle.service_file(home=tmp_path, system="Plan9")


def test_status_of_a_daemon_that_does_not_answer_says_so_without_a_traceback(tmp_path):
    from daemon_proc import running_daemon

    with running_daemon(tmp_path, model=None) as d:
        os.kill(d.pid, signal.SIGSTOP)
        try:
            out = _tacit(d.env, "status", "--timeout", "1")
            as_json = _tacit(d.env, "status", "--timeout", "1", "--json")
        finally:
            os.kill(d.pid, signal.SIGCONT)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        assert f"tacit is running (pid {d.pid}) but it did not answer" in out.stdout
        facts = json.loads(as_json.stdout)
        assert facts["running"] is True and facts["answering"] is False and "within 1 s" in facts["not_answering"]
        assert _tacit(d.env, "status").returncode == 0  # awake again


def test_start_refuses_when_another_daemon_serves_the_socket(tmp_path):
    from daemon_proc import running_daemon

    with running_daemon(tmp_path / "first", model=None) as d:
        other = {**d.env, "TACIT_DATA_DIR": str(tmp_path / "second")}
        out = _tacit(other, "start")
        assert out.returncode == 1 and f"already serves {d.socket}" in out.stderr and f"pid {d.pid}" in out.stderr
        assert not pid_state(tmp_path / "second" / "tacit.pid").running
        assert d.status()["daemon"]["pid"] == d.pid

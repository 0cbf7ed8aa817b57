"""The daemon's log file stays bounded: rotated, private, the newest lines kept, native output included.

`tacit daemon --log-file` (what `tacit start` runs) points file descriptors 1 and 2 of the daemon, and
so of its model child, at a pipe read by a pump process that rotates the file (daemon/logs.py).
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import psutil

from daemon_proc import daemon_env, short_socket_dir, wait_until
from tacitd.daemon.lifecycle import pid_state
from test_lifecycle import _tacit

BOUND_MB = 0.01  # 10,485 bytes per file: a few hundred lines fill the current file and both backups
BOUND = int(BOUND_MB * 2**20)
LONGEST_LINE = 200  # every line written here is shorter


def _files(log: Path) -> dict[str, Path]:
    return {p.name: p for p in sorted(log.parent.glob(log.name + "*"))}


def _numbers(path: Path, tag: str) -> list[int]:
    return [int(n) for n in re.findall(rf"{tag} (\d+)\b", path.read_text())]


def _assert_rotated(log: Path, tag: str, last: int) -> None:
    """log.2, log.1, log hold consecutive lines ending with `last`; the oldest are gone; each file is bounded."""
    files = _files(log)
    assert set(files) == {log.name, f"{log.name}.1", f"{log.name}.2"}, files  # backups = 2: no .3
    for path in files.values():
        assert path.stat().st_size <= BOUND + LONGEST_LINE, (path, path.stat().st_size)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    oldest, older, newest = (_numbers(log.with_name(n), tag) for n in (f"{log.name}.2", f"{log.name}.1", log.name))
    assert older and newest, "lines of this run are in the backup and in the current file"
    assert max(older) < min(newest) and max(oldest, default=-1) < min(older)
    seen = oldest + older + newest
    assert seen == list(range(seen[0], last + 1)), "in order, none lost between the files"
    assert seen[0] > 0, "the oldest lines were dropped: the files are bounded"


def _child(pid: int, command_part: str) -> psutil.Process | None:
    """The child of `pid` whose command line holds `command_part` (the pump, the model child)."""
    for child in psutil.Process(pid).children():
        try:
            if command_part in " ".join(child.cmdline()):
                return child
        except psutil.Error:  # it ended meanwhile
            continue
    return None


def _gone(proc: psutil.Process) -> bool:
    try:
        return proc.status() == psutil.STATUS_ZOMBIE  # ended, not reaped (yet) by whoever adopted it
    except psutil.NoSuchProcess:
        return True


PUMPED = """
import logging, os, subprocess, sys
from pathlib import Path
from tacitd.daemon.logs import LogPump, setup_logging

LogPump(Path(sys.argv[1]), max_mb=float(sys.argv[2]), backups=2)
setup_logging("INFO")
log = logging.getLogger("test")
for i in range(0, 300):
    log.info("entry %d through logging", i)
for i in range(300, 600):
    os.write(2, f"entry {i} written to fd 2, as native code writes\\n".encode())
subprocess.run(["sh", "-c", "i=600; while [ $i -lt 900 ]; do echo \\"entry $i from a child process\\" >&2; "
                            "i=$((i+1)); done"], check=True)
os.write(2, b"not utf-8: \\xff\\n")
raise RuntimeError("last words")
"""


def test_everything_the_process_and_its_children_print_is_rotated_and_its_last_words_kept(tmp_path):
    log = tmp_path / "logs" / "daemon.log"
    run = subprocess.run([sys.executable, "-c", PUMPED, str(log), str(BOUND_MB)], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 1 and run.stdout == run.stderr == "", "nothing left on the original stderr"
    _assert_rotated(log, "entry", 899)
    newest = log.read_text()
    assert "not utf-8: \\xff" in newest  # kept, escaped
    assert "RuntimeError: last words" in newest  # the uncaught traceback, printed after the main code ended


STUCK = """
import logging, os, signal, sys
from pathlib import Path
from tacitd.daemon.logs import LogPump, setup_logging

pump = LogPump(Path(sys.argv[1]), max_mb=50.0, backups=1)
os.kill(pump.proc.pid, signal.SIGSTOP)  # stuck: swapped out, or stopped by hand
Path(sys.argv[2]).write_text(str(pump.proc.pid))
setup_logging("INFO")
for i in range(40_000):  # 5 MB, five times what the pipe holds
    logging.getLogger("test").info("entry %d %s", i, "z" * 40)
"""


def test_a_stuck_pump_loses_lines_but_never_blocks_the_process(tmp_path):
    log, pid_file = tmp_path / "daemon.log", tmp_path / "pump.pid"
    script = subprocess.Popen([sys.executable, "-c", STUCK, str(log), str(pid_file)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # the pump keeps what it got
    try:
        assert script.wait(60) == 0  # it finished: no write waited on the stopped pump
    finally:
        if pid_file.exists():
            pump = psutil.Process(int(pid_file.read_text()))
            pump.resume()
        script.kill()
    wait_until(lambda: _gone(pump), 30, what="the pump to write what the pipe held, then exit")
    kept = _numbers(log, "entry")
    assert kept == list(range(len(kept))) and 1000 < len(kept) < 40_000  # what the pipe held, in order


def test_a_killed_pump_is_reported_in_status_and_in_the_file_and_a_second_daemon_errs_on_the_terminal(tmp_path):
    data = tmp_path / "data"
    sock = short_socket_dir() / "tacit.sock"
    env = daemon_env(data, sock, model=None)
    started = _tacit(env, "start", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    log = data / "daemon.log"
    try:
        other = tmp_path / "other.log"
        second = _tacit(env, "daemon", "--log-file", str(other), timeout=60)
        assert second.returncode == 1 and "tacit is already running" in second.stderr, second  # on the terminal
        assert not other.exists(), "the pidfile is taken before the log file is opened"

        status = json.loads(_tacit(env, "status", "--json").stdout)
        assert status["daemon"]["log"] == {"file": str(log), "ok": True, "error": None}
        pump = _child(pid, "pump_main")
        pump.kill()
        wait_until(lambda: _gone(pump), 10, what="the pump to die")
        os.kill(pid, signal.SIGHUP)  # the daemon logs the reload into the broken pipe
        status = wait_until(lambda: (s := json.loads(_tacit(env, "status", "--json").stdout))["daemon"]["log"]["error"]
                            and s, 30, what="the pump's end in the status")
        assert status["daemon"]["pid"] == pid and status["daemon"]["config"]["error"] is None  # it goes on
        assert status["daemon"]["log"]["ok"] is False
        assert "the log pump exited (status -9)" in status["daemon"]["log"]["error"]
        assert "log: the log pump exited (status -9)" in _tacit(env, "status").stdout
        last = log.read_text().splitlines()[-1]
        assert "level=ERROR logger=tacit.log" in last and "the log pump exited (status -9)" in last
    finally:
        stopped = _tacit(env, "stop", "--json")
        if pid_state(data / "tacit.pid").running:
            os.kill(pid, signal.SIGKILL)
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["stopped"], stopped.stderr
    wait_until(lambda: not psutil.pid_exists(pid) or _gone(psutil.Process(pid)), 10, what="the daemon to exit")


def test_a_log_file_that_cannot_be_written_is_one_line_on_the_terminal_and_nothing_runs(tmp_path):
    data = tmp_path / "data"
    env = daemon_env(data, short_socket_dir() / "tacit.sock", model=None)
    (tmp_path / "a-file").write_text("")
    # /proc/version opens for writing but cannot be appended to: only the pump's own open fails
    for path, why in [("/proc/version", "Invalid argument"), (str(tmp_path / "a-file" / "daemon.log"), "File exists")]:
        out = _tacit(env, "daemon", "--log-file", path, timeout=60)  # before: the daemon ran on, with no log
        assert out.returncode == 1, out
        assert out.stderr.startswith(f"Error: cannot write the log file {path}: ") and why in out.stderr, out.stderr
        assert out.stderr.count("\n") == 1, out.stderr  # one line, no traceback
        assert not pid_state(data / "tacit.pid").running and not (data / "tacit.pid").exists()
        assert not (data / "tacit.db").exists(), "nothing was started"


def test_a_full_disk_costs_one_line_a_minute_on_the_pumps_stderr(tmp_path):
    lines = "".join(f"line {i}\n" for i in range(3000))
    run = subprocess.run([sys.executable, "-c", "from tacitd.daemon.logs import pump_main; pump_main()",
                          "/dev/full", "1000000", "1", "marker"], input=lines, capture_output=True, text=True,
                         timeout=60)  # /dev/full: every write fails with ENOSPC
    assert run.returncode == 0 and run.stdout == "ready\n", run
    complaints = run.stderr.splitlines()
    assert len(complaints) == 1, complaints[:20]  # before: a 15-line traceback for each of the 3000 lines
    assert "cannot write /dev/full" in complaints[0] and "No space left on device" in complaints[0]


UNENDED = """
import os, sys
from pathlib import Path
from tacitd.daemon.logs import LogPump

LogPump(Path(sys.argv[1]), max_mb=1.0, backups=1)
os.write(2, b"first\\n\\nsecond\\na native message without a newline")
"""


def test_a_last_line_without_a_newline_is_kept_whole_and_the_exit_marker_stays_out(tmp_path):
    log = tmp_path / "daemon.log"
    run = subprocess.run([sys.executable, "-c", UNENDED, str(log)], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stderr == "", run
    assert log.read_text().splitlines() == ["first", "", "second", "a native message without a newline"]


def test_a_started_daemon_and_its_model_child_log_into_a_bounded_private_file(tmp_path):
    data = tmp_path / "data"
    env = daemon_env(data, short_socket_dir() / "tacit.sock", extra={
        "TACIT_DAEMON__LOG_MAX_MB": str(BOUND_MB),
        "TACIT_MODELS__EMBEDDER": str(tmp_path / "missing.gguf"),  # both processes log a warning about it
    })
    started = _tacit(env, "start", "--json")
    assert started.returncode == 0, started.stderr
    pid = json.loads(started.stdout)["pid"]
    log = data / "daemon.log"
    try:
        pump = _child(pid, "pump_main")
        child = wait_until(lambda: _child(pid, "spawn_main"), 60, what="the model child")
        pipe = os.readlink(f"/proc/{pid}/fd/2")
        assert pipe.startswith("pipe:") and os.readlink(f"/proc/{pid}/fd/1") == pipe
        assert os.readlink(f"/proc/{child.pid}/fd/2") == pipe  # llama.cpp in the child writes here too
        assert os.readlink(f"/proc/{pump.pid}/fd/0") == pipe
        wait_until(lambda: f"pid={child.pid} msg=\"no embedder" in log.read_text(), 120,
                   what="the model child's warning in the log")

        with open(f"/proc/{pid}/fd/2", "w") as stderr:  # the daemon's own stderr, as native code writes to it
            for i in range(600):
                stderr.write(f"native {i} {'x' * 60}\n")
                stderr.flush()
        wait_until(lambda: "native 599 " in log.read_text(), 30, what="the last line in the log")
        _assert_rotated(log, "native", 599)
    finally:
        stopped = _tacit(env, "stop")
        if pid_state(data / "tacit.pid").running:
            os.kill(pid, 9)
    assert stopped.returncode == 0, stopped.stderr
    wait_until(lambda: _gone(pump), 10, what="the pump to exit with the daemon")
    assert "stopped in" in log.read_text()


def test_a_failed_start_shows_this_runs_lines_also_when_the_log_was_rotated_meanwhile(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    log = data / "daemon.log"
    log.write_text("".join(f"old run {i} {'y' * 60}\n" for i in range(150)))  # nearly full: it rotates now
    os.chmod(log, 0o644)  # as an older tacit left it
    env = daemon_env(data, Path("/proc/no-such-dir/tacit.sock"), model=None,
                     extra={"TACIT_DAEMON__LOG_MAX_MB": str(BOUND_MB)})
    out = _tacit(env, "start", "--timeout", "60")
    assert out.returncode == 1
    assert "exited with status 1 before it answered" in out.stderr
    assert "the API server stopped" in out.stderr and "old run" not in out.stderr
    assert "raised an exception" not in out.stderr  # a job cut short by the stop is not an error
    assert (data / "daemon.log.1").exists() and "old run 0 " in (data / "daemon.log.1").read_text()
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in _files(log).values())

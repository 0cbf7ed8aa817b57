"""The daemon's lifecycle: one instance (a locked pidfile), start detached, stop, and service files.

Single instance: the daemon holds an exclusive `flock` on its pidfile for
as long as it runs. The kernel drops the lock when the process dies, even
by kill -9, so a pidfile whose lock nobody holds is stale, whatever pid it
names (a reused pid cannot fool it). `tacit start` and `tacit daemon`
take the lock; `tacit stop` and `tacit status` only test it.

`start` runs `tacit daemon --log-file` in a new session (setsid) and
returns once the API socket answers. The daemon writes its log, rotated
(daemon/logs.py), to the file in the data dir; what it prints before that
(a config error, a failed import) is appended to the same file.
`stop` sends SIGTERM and waits for the lock to be released.
"""

from __future__ import annotations

import glob
import os
import platform
import plistlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: the rest of the CLI must still import
    fcntl = None  # type: ignore[assignment]

SERVICE_NAME = "tacit"
LAUNCHD_LABEL = "io.tacit.daemon"


class LifecycleError(Exception):
    """Something the user can act on (already running, did not start, cannot stop)."""


@dataclass(frozen=True)
class PidState:
    running: bool
    pid: int | None  # what the pidfile names (None: no file, or no number in it)
    stale: bool  # a pidfile is there, but nobody holds its lock: the daemon died without cleaning up


class PidFile:
    """The daemon's pidfile, held locked while the daemon runs."""

    def __init__(self, path: Path):
        self.path = path
        self._fd: int | None = None
        self.replaced_stale: int | None = None  # the pid of a stale pidfile that `acquire` took over

    def acquire(self) -> None:
        """Lock the pidfile and write our pid, or raise LifecycleError naming the running daemon."""
        _need_flock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = read_pid(self.path)
            raise LifecycleError(f"tacit is already running (pid {pid}); `tacit stop` stops it") from None
        self.replaced_stale = _parse_pid(os.pread(fd, 64, 0))
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        """Remove the file, then drop the lock (in that order, so nobody sees our pid unlocked)."""
        if self._fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None


def _need_flock() -> None:
    if fcntl is None:
        raise LifecycleError("the daemon needs flock (Linux, macOS, BSD); it does not run on this system yet")


def _parse_pid(raw: bytes) -> int | None:
    try:
        return int(raw.decode().strip() or "x")
    except ValueError:
        return None


def read_pid(path: Path) -> int | None:
    try:
        return _parse_pid(path.read_bytes()[:64])
    except OSError:
        return None


def pid_state(path: Path) -> PidState:
    """Is a daemon holding this pidfile? Tested with a shared lock, which fails while it is held."""
    _need_flock()
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return PidState(False, None, False)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return PidState(True, read_pid(path), False)
    finally:
        os.close(fd)  # closing drops a lock we got
    return PidState(False, read_pid(path), True)


# -- start and stop --------------------------------------------------------------------------------


def refuse_if_running(pid_path: Path) -> None:
    state = pid_state(pid_path)
    if state.running:
        raise LifecycleError(f"tacit is already running (pid {state.pid}); `tacit stop` stops it")


def daemon_command(cli_args: list[str], log_path: Path) -> list[str]:
    """How to run `tacit daemon` with this interpreter (the console script may not be on PATH)."""
    return [sys.executable, "-c", "from tacitd.daemon.cli import main; main()", *cli_args, "daemon",
            "--log-file", str(log_path)]


def start_detached(cli_args: list[str], log_path: Path, pid_path: Path, ready: Callable[[int], bool],
                   timeout_s: float = 120.0) -> int:
    """Run the daemon in its own session and wait until `ready(pid)` (that daemon answers); returns its pid."""
    refuse_if_running(pid_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        os.chmod(log_path, 0o600)
        since = os.fstat(log.fileno())
        proc = subprocess.Popen(daemon_command(cli_args, log_path), stdin=devnull, stdout=log, stderr=log,
                                start_new_session=True, close_fds=True)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LifecycleError(f"the daemon exited with status {proc.returncode} before it answered:\n"
                                 f"{_log_tail(log_path, since)}")
        if ready(proc.pid):
            return proc.pid
        time.sleep(0.1)
    raise LifecycleError(f"the daemon (pid {proc.pid}) did not answer within {timeout_s:.0f} s; "
                         f"its log is {log_path}:\n{_log_tail(log_path, since)}")


def _log_tail(path: Path, since: os.stat_result, lines: int = 15) -> str:
    """The last lines written to the log after `since` (its stat then), also when it was rotated meanwhile."""
    rotated = sorted(path.parent.glob(f"{glob.escape(path.name)}.[0-9]*"),
                     key=lambda p: -int(p.suffix[1:]) if p.suffix[1:].isdigit() else 0)
    text, reached = b"", False
    for candidate in [*rotated, path]:  # oldest first; the file `since` describes may be any of them by now
        try:
            with open(candidate, "rb") as fh:
                if os.fstat(fh.fileno()).st_ino == since.st_ino:
                    fh.seek(since.st_size)
                    text, reached = fh.read(), True
                elif reached:
                    text += fh.read()
        except OSError:
            continue
    return "\n".join(text.decode("utf-8", "replace").splitlines()[-lines:])


@dataclass(frozen=True)
class StopReport:
    was_running: bool
    pid: int | None
    stopped: bool
    seconds: float
    stale: bool = False


def stop(pid_path: Path, timeout_s: float = 15.0) -> StopReport:
    """SIGTERM the daemon and wait for its lock to go; a daemon that does not stop is reported, not killed."""
    state = pid_state(pid_path)
    if not state.running or state.pid is None:
        return StopReport(False, state.pid, False, 0.0, stale=state.stale)
    start = time.monotonic()
    try:
        os.kill(state.pid, signal.SIGTERM)
    except ProcessLookupError:
        return StopReport(False, state.pid, False, 0.0, stale=True)
    while time.monotonic() - start < timeout_s:
        if not pid_state(pid_path).running:
            return StopReport(True, state.pid, True, time.monotonic() - start)
        time.sleep(0.05)
    return StopReport(True, state.pid, False, time.monotonic() - start)


# -- service files ---------------------------------------------------------------------------------


def tacit_executable() -> list[str]:
    """The command that runs tacit: the console script beside this interpreter, else `python -c`."""
    script = Path(sys.executable).with_name("tacit")
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    found = shutil.which("tacit")
    return [found] if found else [sys.executable, "-c", "from tacitd.daemon.cli import main; main()"]


def _systemd_quote(arg: str) -> str:
    if arg and all(c.isalnum() or c in "/._-=:," for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(command: list[str], env: dict[str, str]) -> str:
    """A user unit: restarts after a crash, SIGTERM to the daemon alone (it stops its model child itself)."""
    lines = [
        "[Unit]",
        "Description=tacit on-device memory daemon",
        "Documentation=https://github.com/tacit/tacit",
        "",
        "[Service]",
        "Type=simple",
        "ExecStart=" + " ".join(_systemd_quote(a) for a in [*command, "daemon"]),
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartSec=5",
        "KillMode=mixed",
        "UMask=0077",
        "TimeoutStopSec=15",
        *(f"Environment={_systemd_quote(f'{k}={v}')}" for k, v in sorted(env.items())),
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)


def launchd_plist(command: list[str], env: dict[str, str], log_path: Path) -> bytes:
    """A launch agent: started at login, restarted if it exits with an error."""
    plist: dict[str, object] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [*command, "daemon", "--log-file", str(log_path)],  # rotated by the daemon
        "RunAtLoad": True,
        "KeepAlive": {"SuccessfulExit": False},
        "ProcessType": "Background",
        "StandardOutPath": str(log_path),  # what it prints before it opens its log (a config error)
        "StandardErrorPath": str(log_path),
        "ExitTimeOut": 15,
        "Umask": 0o077,
    }
    if env:
        plist["EnvironmentVariables"] = dict(sorted(env.items()))
    return plistlib.dumps(plist)


@dataclass(frozen=True)
class ServiceFile:
    kind: str  # "systemd" | "launchd"
    path: Path
    enable: list[list[str]]  # commands that load and start it
    disable: list[list[str]]


def service_file(home: Path | None = None, system: str | None = None) -> ServiceFile:
    """Where this platform keeps a user service, and the commands that (un)load it."""
    system = system or platform.system()
    home = home or Path.home()
    if system == "Darwin":
        path = home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"
        return ServiceFile("launchd", path, [["launchctl", "load", "-w", str(path)]],
                           [["launchctl", "unload", "-w", str(path)]])
    if system == "Linux":
        config = Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config")
        path = config / "systemd" / "user" / f"{SERVICE_NAME}.service"
        return ServiceFile("systemd", path,
                           [["systemctl", "--user", "daemon-reload"],
                            ["systemctl", "--user", "enable", "--now", f"{SERVICE_NAME}.service"]],
                           [["systemctl", "--user", "disable", "--now", f"{SERVICE_NAME}.service"]])
    raise LifecycleError(f"`tacit service` knows systemd (Linux) and launchd (macOS), not {system}; "
                         "run `tacit start` at login instead")


def write_service(target: ServiceFile, command: list[str], env: dict[str, str], log_path: Path) -> Path:
    """Write the unit or plist (0644, replacing an older one atomically)."""
    body = (systemd_unit(command, env).encode() if target.kind == "systemd"
            else launchd_plist(command, env, log_path))
    target.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.path.with_suffix(target.path.suffix + ".tmp")
    tmp.write_bytes(body)
    os.chmod(tmp, 0o644)
    os.replace(tmp, target.path)
    return target.path


def run_commands(commands: list[list[str]]) -> list[str]:
    """Run the service manager's commands; returns one line per failure (missing tool, non-zero exit)."""
    problems = []
    for cmd in commands:
        if shutil.which(cmd[0]) is None:
            problems.append(f"{cmd[0]} not found; run yourself: {' '.join(cmd)}")
            break
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            problems.append(f"{' '.join(cmd)} failed: {(done.stderr or done.stdout).strip()[:300]}")
            break
    return problems

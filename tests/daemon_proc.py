"""A real `tacit daemon` process for tests: temp data dir, its socket in a short temp dir, no config file.

    from daemon_proc import daemon, model_daemon, running_daemon, start_daemon, wait_until  # fixtures + helpers

    def test_x(daemon):                  # pipeline off (no model): API, store, jobs; starts in ~2 s
        status = daemon.get("/v1/status").json()

    def test_y(model_daemon):            # the pipeline on, with the tiny Gemma model (plumbing only)
        ...

    with running_daemon(tmp_path, env={"TACIT_DAEMON__WORKER_MAX_TRIES": "2"}) as d:
        d.client()                       # daemon.api.client.TacitClient on d.socket
        d.kill()                         # kill -9; d.restart() starts it again on the same data

Every process inherits the test session's TACIT_DB_KEY (conftest.py). Observers are off
unless `env` turns them on (TACIT_OBSERVERS__ENABLED). Waiting is a poll with a deadline:
`start_daemon` returns once /v1/status answers, and fails with the daemon's log if it exits
or does not answer in time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

T = TypeVar("T")
MAIN = "from tacitd.daemon.cli import main; main()"


def wait_until(predicate: Callable[[], T], timeout: float = 60.0, interval: float = 0.05, what: str = "") -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or predicate}")
        time.sleep(interval)


def daemon_env(data_dir: Path, socket_path: Path, model: str | None = "gemma3-270m",
               extra: dict[str, str | None] | None = None) -> dict[str, str]:
    """The daemon's environment; a None in `extra` removes that variable."""
    env = dict(os.environ)
    env.update({
        "TACIT_DATA_DIR": str(data_dir),
        "TACIT_SOCKET": str(socket_path),
        "TACIT_CONFIG": str(data_dir.parent / "no-config.toml"),  # defaults only, never the user's file
        "TACIT_OBSERVERS__ENABLED": "[]",
        "TACIT_DAEMON__FLUSH_INTERVAL_S": "2",
        "TACIT_DAEMON__WORKER_BACKOFF_S": "0.2",
    })
    if model is None:
        env["TACIT_DAEMON__PIPELINE"] = "false"
    else:
        env["TACIT_MODELS__LLM"] = model
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


class DaemonProc:
    """One running `tacit daemon`, started by `start_daemon`."""

    def __init__(self, data_dir: Path, socket_path: Path, env: dict[str, str]):
        self.data_dir, self.socket, self.env = data_dir, socket_path, env
        self.log = data_dir.parent / "daemon-test.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._http: httpx.Client | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    # -- starting and stopping ----------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> DaemonProc:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-c", MAIN, "daemon"], env=self.env, stdout=log,
                                         stderr=log, stdin=subprocess.DEVNULL)
        wait_until(self._answers, timeout, 0.05, "the daemon's /v1/status")
        return self

    def _answers(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"the daemon exited with status {self.proc.returncode}:\n{self.log_text()[-3000:]}")
        try:
            return self.get("/v1/status", timeout=2.0).status_code == 200
        except (httpx.TransportError, FileNotFoundError):
            return False

    def stop(self, timeout: float = 15.0) -> float:
        """SIGTERM and wait; returns the seconds it took (fails if it does not exit in `timeout`)."""
        assert self.proc is not None
        start = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError(f"the daemon did not exit within {timeout} s of SIGTERM") from None
        self.close_http()
        return time.monotonic() - start

    def kill(self) -> None:
        """kill -9, as a crash or the OOM killer would."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.close_http()

    def restart(self, timeout: float = 90.0) -> DaemonProc:
        return self.start(timeout)

    # -- talking to it --------------------------------------------------------------------------------

    def http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket)), base_url="http://tacit",
                                      timeout=30.0)
        return self._http

    def close_http(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http().get(path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http().post(path, **kwargs)

    def status(self) -> dict[str, Any]:
        response = self.get("/v1/status")
        response.raise_for_status()
        return response.json()

    def client(self, timeout: float = 30.0) -> Any:
        from tacitd.daemon.api.client import TacitClient

        return TacitClient(self.socket, timeout=timeout)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def short_socket_dir() -> Path:
    """A Unix socket path must fit in ~104 bytes; pytest's tmp_path often does not."""
    return Path(tempfile.mkdtemp(prefix="tacit-", dir="/tmp"))


def start_daemon(tmp_path: Path, env: dict[str, str | None] | None = None, model: str | None = "gemma3-270m",
                 timeout: float = 90.0) -> DaemonProc:
    data_dir = tmp_path / "data"
    socket_path = short_socket_dir() / "tacit.sock"
    return DaemonProc(data_dir, socket_path, daemon_env(data_dir, socket_path, model, env)).start(timeout)


@contextlib.contextmanager
def running_daemon(tmp_path: Path, env: dict[str, str | None] | None = None, model: str | None = "gemma3-270m",
                   timeout: float = 90.0) -> Iterator[DaemonProc]:
    d = start_daemon(tmp_path, env, model, timeout)
    try:
        yield d
    finally:
        with contextlib.suppress(AssertionError):
            d.stop()
        if d.proc is not None and d.proc.poll() is None:
            d.kill()
        with contextlib.suppress(OSError):
            d.socket.parent.rmdir()


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[DaemonProc]:
    """A daemon with the pipeline off (no model loaded): the API, the store and the jobs."""
    with running_daemon(tmp_path, model=None) as d:
        yield d


@pytest.fixture
def model_daemon(tmp_path: Path) -> Iterator[DaemonProc]:
    """A daemon whose pipeline runs the tiny Gemma model (for plumbing, not for what it learns)."""
    with running_daemon(tmp_path) as d:
        yield d

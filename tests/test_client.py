"""TacitClient against a real socket: daemon-down errors, the event stream, and 50 clients at once."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from api_server import ApiServer, server, services  # noqa: F401  (fixtures)
from tacitd.daemon.api.client import DaemonNotRunning, TacitClient
from tacitd.memory.types import Proposition

TACIT = Path(sys.executable).with_name("tacit")



def test_no_socket_means_daemon_not_running_with_the_command_to_start_it(tmp_path):
    with TacitClient(tmp_path / "absent.sock") as c:
        assert not c.running()
        with pytest.raises(DaemonNotRunning, match="tacit start"):
            c.search("anything")


def test_a_stale_socket_file_is_daemon_not_running(tmp_path):
    path = Path(f"/tmp/tacit-stale-{os.getpid()}.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    s.close()  # the file stays, nothing listens: a daemon that was killed -9
    try:
        with TacitClient(path) as c, pytest.raises(DaemonNotRunning, match="tacit start"):
            c.status()
    finally:
        path.unlink()


def test_the_server_replaces_a_stale_socket_and_serves(services):
    srv = ApiServer(services)
    srv.socket_path.parent.mkdir(mode=0o700)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(srv.socket_path))
    stale.close()
    srv.start()
    try:
        with TacitClient(srv.socket_path) as c:
            assert c.running()
    finally:
        srv.stop()
    assert not srv.socket_path.exists()  # removed on the way out


def test_cli_changes_reach_the_event_stream(server, services, tmp_path):
    """The CLI writes the store directly; the triggers put its changes in /v1/events."""
    env = {**os.environ, "TACIT_DATA_DIR": str(services.settings.data_dir),
           "TACIT_CONFIG": str(tmp_path / "none.toml")}

    def tacit(*args: str) -> None:
        subprocess.run([str(TACIT), *args], env=env, check=True, capture_output=True, timeout=120)

    with TacitClient(server.socket_path) as c:
        start = c.status().last_event_id
        got = []
        reader = threading.Thread(target=lambda: got.extend(_take(c.events(after=start, timeout=60), 3)))
        reader.start()
        tacit("add", "I prefer tea")
        pid = services.store().recent(1)[0].id
        tacit("confirm", str(pid))
        tacit("forget", str(pid), "--yes")
        reader.join(90)
    assert [(e.kind, e.proposition_id) for e in got] == [("new", pid), ("confirmed", pid), ("forgotten", pid)]


def _take(events, n):
    out = []
    for event in events:
        out.append(event)
        if len(out) == n:
            break
    return out


def test_a_reconnect_after_an_id_gets_only_what_came_later(server, services):
    store = services.store()
    first = store.add_proposition(Proposition(text="first", confidence=0.5))
    second = store.add_proposition(Proposition(text="second", confidence=0.5))
    with TacitClient(server.socket_path) as c:
        (event,) = _take(c.events(after=0, timeout=30), 1)
        assert event.proposition_id == first.id
        (later,) = _take(c.events(after=event.id, timeout=30), 1)
        assert (later.kind, later.proposition_id) == ("new", second.id)


def test_fifty_clients_at_once_get_answers_and_no_errors(server, services):
    store = services.store()
    topics = ["dark mode", "Rust", "LoRA fine-tuning", "running", "tea", "Lisbon", "Vim", "PostgreSQL"]
    for i in range(200):
        text = f"Sam mentions {topics[i % len(topics)]} in note {i}"
        store.add_proposition(Proposition(text=text, confidence=0.6), embedding=services.embed(text))

    def one_client(n: int) -> int:
        with TacitClient(server.socket_path, timeout=120) as c:
            topic = topics[n % len(topics)]
            hits = c.search(topic, limit=5).results
            assert hits and topic.split()[0] in hits[0].proposition.text
            assert c.context(topic, budget_tokens=200).items
            assert c.recent(limit=20).total == 200
            assert c.status().propositions == 200
            return len(hits)

    with ThreadPoolExecutor(50) as pool:
        results = list(pool.map(one_client, range(50)))
    assert results == [5] * 50


def test_the_socket_path_comes_from_tacit_socket_then_the_runtime_dir(monkeypatch, tmp_path):
    from tacitd.daemon.api.paths import default_socket_path

    monkeypatch.setenv("TACIT_SOCKET", str(tmp_path / "x.sock"))
    assert default_socket_path() == tmp_path / "x.sock"
    monkeypatch.delenv("TACIT_SOCKET")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))
    assert default_socket_path() == tmp_path / "run" / "tacit" / "tacit.sock"


def test_importing_the_client_loads_no_sqlite_and_no_server():
    """The TUI and the MCP bridge start on this import: it must stay light."""
    code = ("import sys, tacitd.daemon.api.client; "
            "print(sorted(m for m in ('sqlite_utils', 'uvicorn', 'numpy', 'tacitd.memory.db') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_stores_of_ended_threads_are_closed(services):
    """The API's thread pool retires idle threads: their Stores must not pile up (one connection each)."""
    stores = services.stores
    for _ in range(5):
        t = threading.Thread(target=lambda: stores().count())
        t.start()
        t.join()
    stores()  # this thread's first call closes those of the ended ones
    assert stores.open_count == 1
    assert stores().db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_open_event_streams_end_when_the_server_stops(services):
    srv = ApiServer(services).start()
    listener = TacitClient(srv.socket_path)
    ended = threading.Event()

    def listen() -> None:
        for _ in listener.events(timeout=30):
            pass
        ended.set()

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    wait_for_stream = time.monotonic() + 5
    while time.monotonic() < wait_for_stream and services.stores.open_count == 0:
        time.sleep(0.05)  # the stream has polled the store once: it is open
    started = time.monotonic()
    srv.stop()
    assert time.monotonic() - started < 2.0  # not the 3 s graceful-shutdown limit
    assert ended.wait(5)
    listener.close()


def test_an_existing_open_directory_is_refused_and_left_as_it_was(tmp_path):
    from tacitd.daemon.api.server import SocketError, bind_socket

    shared = Path(tempfile.mkdtemp(prefix="tacit-open-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        with pytest.raises(SocketError, match="open to other users"):
            bind_socket(shared / "t.sock")
        assert stat.S_IMODE(shared.stat().st_mode) == 0o755
        assert not (shared / "t.sock").exists()
    finally:
        shutil.rmtree(shared)


def test_a_huge_last_event_id_starts_the_stream_now(server, services):
    services.store().add_proposition(Proposition(text="old news", confidence=0.5))
    with httpx.Client(transport=httpx.HTTPTransport(uds=str(server.socket_path)), base_url="http://t") as h, \
            h.stream("GET", "/v1/events", headers={"Last-Event-ID": "9" * 30}, timeout=5) as response:
        assert response.status_code == 200
        services.store().add_proposition(Proposition(text="fresh", confidence=0.5))
        lines = response.iter_lines()
        first_data = next(line for line in lines if line.startswith("data:"))
    assert '"kind":"new"' in first_data and '"proposition_id":2' in first_data

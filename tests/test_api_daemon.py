"""The API as the real daemon serves it: a `tacit daemon` process, its socket, curl, and the pipeline's stats."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest

from daemon_proc import daemon, running_daemon, wait_until  # noqa: F401  (fixture)
from tacitd.daemon.api.client import TacitClient


def test_curl_reads_status_and_openapi_from_the_private_socket(daemon):
    assert stat.S_IMODE(daemon.socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(daemon.socket.parent.stat().st_mode) == 0o700
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    out = subprocess.run(["curl", "-sf", "--unix-socket", str(daemon.socket), "http://x/v1/status"],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    assert json.loads(out)["daemon"]["pid"] == daemon.pid
    spec = subprocess.run(["curl", "-sf", "--unix-socket", str(daemon.socket), "http://x/openapi.json"],
                          capture_output=True, text=True, timeout=30, check=True).stdout
    assert "/v1/context" in json.loads(spec)["paths"]


def test_pushed_observations_become_findable_through_search_after_processing(tmp_path):
    """POST /v1/observations → the daemon's stats job measures them → /v1/search finds what it learned."""
    start = datetime.now(UTC) - timedelta(hours=3)
    seen = [{"observer": "window", "app": "blender", "window_title": f"scene {i}.blend - Blender",
             "captured_at": (start + timedelta(minutes=i)).isoformat(), "duration_s": 60} for i in range(90)]
    with running_daemon(tmp_path, model=None, env={"TACIT_DAEMON__STATS_INTERVAL_MIN": "1"}) as d, \
            TacitClient(d.socket) as client:
        assert client.search("blender").results == []
        events = []
        listener = TacitClient(d.socket)  # its own connection: the stream holds one open
        reader = threading.Thread(target=lambda: events.extend(_first(listener.events(timeout=150))))
        reader.start()
        report = client.push_observations(seen)
        assert report.stored == 90
        hits = wait_until(lambda: client.search("blender").results, 150, 1.0, "a proposition about blender")
        reader.join(150)
        listener.close()
    top = hits[0].proposition
    assert top.source == "stats" and "blender" in top.text
    assert hits[0].evidence and all("blender" in e for e in hits[0].evidence)
    assert [(e.kind, e.proposition_id) for e in events] == [("new", top.id)]


def _first(events):
    for event in events:
        return [event]
    return []


def test_fifty_clients_query_while_the_pipeline_runs_without_an_error(tmp_path):
    """The model child writes while 50 clients search and ask for context: every answer is a 200."""
    at = datetime.now(UTC) - timedelta(hours=1)
    pages = [{"text": f"headline {i}: markets rally", "app": "firefox", "window_title": f"Markets {i % 5} - BBC News",
              "url": "https://www.bbc.co.uk/news/business", "captured_at": (at + timedelta(seconds=20 * i)).isoformat()}
             for i in range(40)]
    with running_daemon(tmp_path) as d, TacitClient(d.socket) as client:
        for i in range(20):
            client.remember(f"Sam follows the markets, note {i}")
        client.push_observations(pages)
        wait_until(lambda: worker_busy_or_done(client), 120, 0.1, "the pipeline to start")
        errors: list[str] = []

        def one(n: int) -> None:
            with TacitClient(d.socket, timeout=300) as c:
                try:
                    assert c.search("markets", limit=5).results
                    assert c.context("what does Sam follow", budget_tokens=200).items
                    c.status()
                except Exception as exc:  # noqa: BLE001 - collected and reported below
                    errors.append(f"{type(exc).__name__}: {exc}")

        threads = [threading.Thread(target=one, args=(n,)) for n in range(50)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        queue = client.status().queue
    assert errors == []
    assert queue["processed"] + queue["segmented"] + queue["quarantined"] > 0  # the pipeline took the pages in


def worker_busy_or_done(client: TacitClient) -> bool:
    status = client.status()
    return status.daemon.get("worker", {}).get("state") == "busy" or status.queue["pending"] == 0

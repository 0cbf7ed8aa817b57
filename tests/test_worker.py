"""Reliability of a real daemon process: the model child dying, SIGTERM mid-batch, kill -9 mid-ingest.

The child is made to fail with the test-only TACIT_TEST_WORKER_FAULT (daemon/worker.py). The pushed
observations are news pages: they reach the model step (where the fault fires) and, when nothing fails,
finish there without a model call (news only read is not proposed from), so no test waits on the LLM.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from daemon_proc import running_daemon, wait_until
from tacitd.daemon.worker import FAULT_ENV
from tacitd.memory.store import Store


def news(n: int, tag: str, minutes_ago: float = 60) -> list[dict]:
    """`n` observations of one news page, read long enough ago to form a closed segment."""
    at = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return [{"text": f"{tag} headline {i}: markets rally", "app": "firefox", "window_title": "Markets - BBC News",
             "url": "https://www.bbc.co.uk/news/business", "captured_at": (at + timedelta(seconds=i)).isoformat()}
            for i in range(n)]


def push(d, observations: list[dict]) -> None:
    r = d.post("/v1/observations", json={"observations": observations})
    assert r.status_code in (200, 201), r.text


def worker(d) -> dict:
    return d.status()["daemon"]["worker"]


def test_a_child_that_crashes_on_every_try_is_restarted_and_its_segment_quarantined(tmp_path):
    env = {FAULT_ENV: "segv", "TACIT_DAEMON__WORKER_MAX_TRIES": "2"}
    with running_daemon(tmp_path, env=env) as d:
        first_pid = wait_until(lambda: worker(d)["state"] == "idle" and worker(d)["pid"], 60, what="model ready")
        push(d, news(3, "crash"))
        status = wait_until(lambda: (s := d.status())["quarantined"] == 1 and s["daemon"]["worker"]["state"] == "idle"
                            and s, 120, 0.1, "the segment in quarantine and the child back")
        w = status["daemon"]["worker"]
        assert w["crashes"] == 2  # one per try; the third start sees the tries used up and quarantines
        assert w["last_crash"]["how"] == "signal SIGSEGV" and w["last_crash"]["segment"]
        assert w["pid"] not in (None, first_pid)
        assert status["queue"]["quarantined"] == 3 and status["queue"]["pending"] == 0
        with d.client() as client:
            [entry] = client.quarantine_list()
        assert "ended the process" in entry.error and entry.next_try_at is None and entry.tries == 2
        assert d.status()["daemon"]["pid"] == d.pid  # the daemon itself never went down
    assert "Fatal Python error: Segmentation fault" in d.log_text()  # where the child was when it crashed


def test_a_child_that_crashes_once_is_retried_and_the_segment_processed(tmp_path):
    with running_daemon(tmp_path, env={FAULT_ENV: "once"}) as d:
        push(d, news(3, "once"))
        status = wait_until(lambda: (s := d.status())["queue"]["processed"] == 3 and s, 120, 0.1,
                            "the segment processed on its second try")
        w = status["daemon"]["worker"]
        assert w["crashes"] == 1 and status["quarantined"] == 0
        assert (d.data_dir / "test-worker-crashed").exists()


def test_a_child_killed_while_idle_is_restarted(tmp_path):
    with running_daemon(tmp_path) as d:
        pid = wait_until(lambda: worker(d)["state"] == "idle" and worker(d)["pid"], 60, what="model ready")
        os.kill(pid, signal.SIGKILL)
        w = wait_until(lambda: (w := worker(d))["state"] == "idle" and w["pid"] != pid and w, 60, 0.1,
                       "a new child")
        assert w["crashes"] == 1 and w["last_crash"]["how"] == "signal SIGKILL" and w["last_crash"]["segment"] is None


def test_sigterm_during_a_batch_exits_within_10_s_loses_nothing_and_costs_no_try(tmp_path):
    # One try allowed: were a shutdown's kill counted as a failed try, the second one would quarantine it.
    with running_daemon(tmp_path, env={FAULT_ENV: "hang", "TACIT_DAEMON__WORKER_MAX_TRIES": "1"}) as d:
        push(d, news(4, "term"))
        for _ in range(2):
            wait_until(lambda: worker(d)["state"] == "busy", 60, 0.05, "the child busy on the segment")
            took = d.stop()
            assert took < 10, took
            assert "killing it" in d.log_text()  # the hung model call was cut short, not waited for
            d.restart()
        d.stop()
        d.env.pop(FAULT_ENV)
        d.restart()
        status = wait_until(lambda: (s := d.status())["queue"]["processed"] == 4 and s, 120, 0.1,
                            "the interrupted segment redone after the restarts")
        assert status["quarantined"] == 0 and status["queue"]["pending"] == 0


def test_kill_9_mid_ingest_loses_no_acknowledged_observation_and_duplicates_none(tmp_path):
    acked: list[str] = []
    stop = threading.Event()
    with running_daemon(tmp_path) as d:
        socket = d.socket

        def pusher() -> None:
            n = 0
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket)), base_url="http://x", timeout=10) as http:
                while not stop.is_set():
                    batch = news(5, f"k9-{n}", minutes_ago=90)
                    try:
                        r = http.post("/v1/observations", json={"observations": batch})
                    except httpx.TransportError:
                        time.sleep(0.01)
                        continue
                    if r.status_code in (200, 201):
                        acked.extend(o["text"] for o in batch)
                    n += 1

        thread = threading.Thread(target=pusher, daemon=True)
        thread.start()
        wait_until(lambda: len(acked) >= 100, 60, 0.02, "100 acknowledged observations")
        d.kill()
        stop.set()
        thread.join(10)
        d.restart()
        total = wait_until(lambda: (q := d.status()["queue"]) and q["pending"] == 0 and q["segmented"] == 0
                           and sum(q.values()), 180, 0.2, "the pipeline to drain the queue after the restart")
    with Store(d.data_dir / "tacit.db") as store:
        texts = Counter(r[0] for r in store.db.execute("SELECT text FROM observations").fetchall())
    missing = [t for t in acked if texts[t] != 1]
    assert missing == [], f"{len(missing)} acknowledged observation(s) missing or duplicated, e.g. {missing[:3]}"
    assert max(texts.values()) == 1  # nothing stored twice, acknowledged or not
    assert total == sum(texts.values())  # every stored observation went through the queue


def test_stats_are_measured_soon_after_a_batch_not_only_every_30_minutes(tmp_path):
    start = datetime.now(UTC) - timedelta(hours=3)
    focus = [{"observer": "window", "app": "code", "window_title": "main.rs - tacit", "duration_s": 60,
              "captured_at": (start + timedelta(minutes=m)).isoformat()} for m in range(90)]
    with running_daemon(tmp_path) as d:
        wait_until(lambda: d.status()["daemon"]["jobs"].get("stats", {}).get("last_run"), 60, what="the start-up run")
        push(d, focus)
        wait_until(lambda: (w := worker(d))["last_batch"] and w["last_batch"]["segments"], 60, 0.1, "a batch")
        stats = wait_until(lambda: d.get("/v1/propositions/recent", params={"source": "stats"}).json()["items"], 60,
                           0.5, "a stats proposition")
    texts = [item["proposition"]["text"] for item in stats]
    assert any("code" in t for t in texts), texts

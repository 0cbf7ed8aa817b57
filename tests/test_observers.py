"""Observers on a real X server (Xvfb) with real windows, real OCR and a real store as the sink."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tacitd.memory.store import Store
from tacitd.observers.base import Observer, Supervisor
from tacitd.observers.files import FilesObserver
from tacitd.observers.ocr import TesseractReader
from tacitd.observers.platform import X11Desktop, detect
from tacitd.observers.privacy import PauseState, PrivacyFilter
from tacitd.observers.push import PushChannel
from tacitd.observers.screen import ScreenObserver
from tacitd.observers.window import WindowObserver
from xdesktop import XServer

SECRETS = ["AKIAZZCANARY7Q2W3E4R", "password: hunter2canary", "4111 1111 1111 1111"]


@pytest.fixture(scope="module")
def xserver():
    server = XServer()
    yield server
    server.stop()


@pytest.fixture
def x(xserver, monkeypatch):
    monkeypatch.setenv("DISPLAY", xserver.display_name)
    yield xserver
    for window in list(xserver.windows):
        xserver.close_window(window)


@pytest.fixture
def desktop(x):
    d = X11Desktop(x.display_name)
    yield d
    d.close()


def screen(store: Store, desktop, privacy: PrivacyFilter | None = None, **kw) -> ScreenObserver:
    return ScreenObserver(store.add_observation, privacy or PrivacyFilter(), TesseractReader(), desktop, **kw)


def file_bytes(db: Path) -> bytes:
    return b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))


def test_a_window_with_known_text_is_seen_and_its_focus_time_recorded(x, desktop, store):
    editor = x.show("report.md — Editor", "Gedit", ["Quarterly report for the Lisbon office",
                                                     "Budget review on Thursday"])
    obs = screen(store, desktop).observe_frame()
    assert obs is not None and "Quarterly report for the Lisbon office" in obs.text
    assert (obs.app, obs.window_title) == ("Gedit", "report.md — Editor")
    assert obs.meta["timings_ms"]["capture_ms"] > 0

    windows = WindowObserver(store.add_observation, PrivacyFilter(), desktop)
    assert windows.check() is None  # first sighting: nothing left yet
    x.show("Inbox — Mail", "Thunderbird", ["3 unread"], x=300, y=420, height=200)
    left = windows.check()
    assert left is not None and left.window_title == "report.md — Editor" and left.duration_s >= 0
    stored = store.observations(limit=10)
    assert {o.observer for o in stored} == {"screen", "window"}
    x.close_window(editor)


def test_only_the_changed_region_is_read_again(x, desktop, store):
    board = x.show("Board", "Kanban", ["Backlog: write the tests"], width=1000, height=300)
    observer = screen(store, desktop)
    first = observer.observe_frame()
    assert first is not None and first.meta["full_frame"]
    assert observer.observe_frame() is None and observer.stats["unchanged"] == 1
    x.show("Toast", "Notify", ["Build passed in 42s"], x=700, y=600, width=400, height=90)
    second = observer.observe_frame()
    assert second is not None and not second.meta["full_frame"]
    assert "Build passed" in second.text and "Backlog" not in second.text  # old lines are not repeated
    x.close_window(board)


def test_an_excluded_window_on_screen_leaves_nothing_stored(x, desktop, store, db_path):
    x.show("main.py — Code", "Code", ["def transfer(amount): pass"])
    x.show("Bank login — Mozilla Firefox Private Browsing", "firefox", ["Balance 12,345.67 canarybank"],
           x=500, y=400, width=600, height=200)
    x.focus(x.windows[0])  # visible, not focused: still excluded
    assert screen(store, desktop).observe_frame() is None
    x.show("Vault", "KeePassXC", ["gmail canarypass"], x=100, y=100, width=300, height=100)
    assert WindowObserver(store.add_observation, PrivacyFilter(), desktop).snapshot() is not None  # seen...
    observer = WindowObserver(store.add_observation, PrivacyFilter(), desktop)
    observer.check()
    x.focus(x.windows[0])
    assert observer.check() is None  # ...but leaving KeePassXC stores nothing
    assert store.counts()["observations"] == 0
    assert b"canary" not in file_bytes(db_path)


def test_secrets_on_screen_are_stored_only_redacted(x, desktop, store, db_path):
    x.show("creds.txt — Editor", "Gedit", ["deploy notes", *SECRETS], width=1100, height=300)
    obs = screen(store, desktop).observe_frame()
    assert obs is not None and "deploy notes" in obs.text
    assert obs.text.count("[REDACTED:") == 3
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = file_bytes(db_path)
    for secret in ("AKIAZZCANARY", "hunter2canary", "4111 1111"):
        assert secret.encode() not in raw


def test_pause_stops_all_capture(x, desktop, store, tmp_path):
    x.show("notes", "Gedit", ["private thoughts while paused"])
    pause = PauseState(tmp_path / "paused.json")
    privacy = PrivacyFilter(pause=pause)
    pause.pause()
    windows = WindowObserver(store.add_observation, privacy, desktop)
    windows.check()
    x.show("other", "Gedit", ["more"], x=200, y=450, height=150)
    assert screen(store, desktop, privacy).observe_frame() is None
    assert windows.check() is None
    assert PushChannel(store.add_observation, privacy).push("pushed while paused") is None
    assert store.counts()["observations"] == 0
    pause.resume()
    assert PushChannel(store.add_observation, privacy).push("after resume") is not None


def test_idle_user_is_not_captured(x, desktop, store):
    x.show("idle", "Gedit", ["nobody is here"])
    observer = screen(store, desktop, idle_after_s=-1)  # any idle time counts as idle
    assert observer.observe_frame() is None and observer.stats == {**observer.stats, "idle": 1, "frames": 0}


def test_a_file_created_in_a_watched_dir_gives_an_observation(tmp_path, store):
    watched = tmp_path / "projects"
    (watched / ".git").mkdir(parents=True)
    observer = FilesObserver(store.add_observation, PrivacyFilter(), [watched], debounce_s=0.0)
    observer.start_watching()
    try:
        (watched / ".git" / "index").write_text("ignored")
        (watched / "plan.md").write_text("secret content canaryfile")
        deadline = time.monotonic() + 10
        while not observer._pending and time.monotonic() < deadline:
            time.sleep(0.05)  # watchdog delivers on its own thread; poll with a deadline
        (obs,) = observer.flush()
    finally:
        observer.close()
    assert obs.meta["path"] == str(watched / "plan.md") and obs.meta["size"] == 25
    assert obs.meta["type"] == "text/markdown"
    assert "canaryfile" not in json.dumps(obs.model_dump(mode="json"))
    assert store.observations(limit=5)[0].meta["path"].endswith("plan.md")


def test_a_failing_observer_is_restarted_and_the_others_keep_running():
    seen = []

    class Flaky(Observer):
        name, interval_s = "flaky", 0.01
        calls = 0

        async def poll(self):
            Flaky.calls += 1
            if Flaky.calls <= 2:
                raise RuntimeError("camera unplugged")

    class Steady(Observer):
        name, interval_s = "steady", 0.01
        ticks = 0

        async def poll(self):
            Steady.ticks += 1

    async def scenario():
        supervisor = Supervisor([Flaky(seen.append, PrivacyFilter()), Steady(seen.append, PrivacyFilter())],
                                backoff_s=0.01)
        supervisor.start()
        async with asyncio.timeout(10):
            while Flaky.calls < 4 or Steady.ticks < 10:
                await asyncio.sleep(0.01)
        await supervisor.stop()
        return supervisor.restarts

    restarts = asyncio.run(scenario())
    assert restarts == {"flaky": 2, "steady": 0}


def test_no_display_turns_desktop_observers_off(monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    desktop, why = detect()
    assert desktop is None and "Wayland" in why


def test_observe_once_shows_what_would_be_stored(x, tmp_path):
    x.show("todo.txt — Editor", "Gedit", ["Renew passport before March", "api_key = sk-canary0123456789abcdefghij"])
    env = {**os.environ, "DISPLAY": x.display_name, "TACIT_DATA_DIR": str(tmp_path),
           "TACIT_CONFIG": str(tmp_path / "none.toml")}
    tacit = Path(sys.executable).with_name("tacit")
    out = subprocess.run([str(tacit), "observe", "--once", "--json"], env=env, capture_output=True, text=True,
                         timeout=60, check=True)
    report = json.loads(out.stdout)
    screen_obs = next(o for o in report["observations"] if o["observer"] == "screen")
    assert "Renew passport before March" in screen_obs["text"]
    assert "sk-canary" not in out.stdout and "[REDACTED:" in screen_obs["text"]
    assert any(o["observer"] == "window" and o["app"] == "Gedit" for o in report["observations"])
    assert not (tmp_path / "tacit.db").exists()  # it stores nothing


def test_screenshots_are_kept_only_when_asked_0600_and_expire(x, desktop, store, tmp_path):
    from datetime import timedelta

    x.show("kept", "Gedit", ["keep this frame"])
    assert screen(store, desktop).observe_frame() is not None
    assert not list(tmp_path.rglob("*.png"))  # default: nothing on disk
    keep = tmp_path / "shots"
    keep.mkdir()
    stale = keep / "old.png"
    stale.write_bytes(b"x")
    os.utime(stale, (0, 0))
    observer = screen(store, desktop, keep_screenshots_dir=keep, keep_ttl=timedelta(hours=1))
    observer.observe_frame()
    (shot,) = keep.glob("*.png")
    assert shot.stat().st_mode & 0o777 == 0o600 and not stale.exists()

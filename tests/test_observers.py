"""Observers on a real X server (Xvfb) with real windows, real OCR and a real store as the sink."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tacitd.memory.store import Store
from tacitd.memory.types import MAX_DURATION_S, utcnow
from tacitd.observers.base import Observer, Supervisor
from tacitd.observers.files import FilesObserver
from tacitd.observers.ocr import TesseractReader
from tacitd.observers.platform import X11Desktop, detect
from tacitd.observers.privacy import PauseState, PrivacyFilter
from tacitd.observers.push import PushChannel
from tacitd.observers.screen import ScreenObserver, grab
from tacitd.observers.window import InputObserver, WindowObserver
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


@pytest.fixture
def plain_store(db_path):
    """A store without encryption at rest, for the tests that look for text in the file's bytes:
    encryption would hide a leak from that scan, not prevent it."""
    with Store(db_path, encrypt=False) as s:
        yield s


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


def test_an_excluded_window_on_screen_leaves_nothing_stored(x, desktop, plain_store, db_path):
    store = plain_store
    code = x.show("main.py — Code", "Code", ["def transfer(amount): pass"])
    observer = screen(store, desktop)
    assert observer.observe_frame() is not None
    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert b"def transfer" in file_bytes(db_path)  # what is stored can be found in the file
    x.show("Bank login — Mozilla Firefox Private Browsing", "firefox", ["Balance 12,345.67 canarybank"],
           x=500, y=400, width=600, height=200)
    x.focus(code)  # visible, not focused: still excluded
    assert observer.observe_frame() is None and observer.stats["excluded"] == 1
    x.show("Vault", "KeePassXC", ["gmail canarypass"], x=100, y=100, width=300, height=100)
    assert WindowObserver(store.add_observation, PrivacyFilter(), desktop).snapshot() is not None  # seen...
    windows = WindowObserver(store.add_observation, PrivacyFilter(), desktop)
    windows.check()
    x.focus(code)
    assert windows.check() is None  # ...but leaving KeePassXC stores nothing
    assert store.counts()["observations"] == 1
    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert b"canary" not in file_bytes(db_path)


def test_a_password_manager_title_shown_by_another_app_drops_the_frame(x, desktop, plain_store, db_path):
    store = plain_store
    x.show("report.md — Editor", "Gedit", ["Quarterly report for the Lisbon office"])
    observer = screen(store, desktop)
    assert observer.observe_frame() is not None
    vault = x.show("Passwords.kdbx - KeePassXC", "xterm", ["gmail  canaryvault  hunter2"], x=400, y=450,
                   width=700, height=200)  # a terminal-class app showing the vault
    assert observer.observe_frame() is None and observer.stats["excluded"] == 1
    windows = WindowObserver(store.add_observation, PrivacyFilter(), desktop)
    windows.check()
    x.close_window(vault)
    assert windows.check() is None  # the time spent in it is not stored either
    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    assert store.counts()["observations"] == 1 and b"canaryvault" not in file_bytes(db_path)


def test_a_window_appearing_during_the_capture_drops_the_frame(x, desktop, store, db_path):
    x.show("notes", "Gedit", ["canaryrace on screen"])

    def capture_then_open_vault():
        frame = grab()
        if not x.windows[-1].get_wm_class()[1] == "KeePassXC":
            x.show("Vault", "KeePassXC", ["gmail canaryrace"], x=500, y=400, width=400, height=150)
        return frame

    observer = screen(store, desktop, capture=capture_then_open_vault)
    assert observer.observe_frame() is None
    assert observer.stats["excluded"] == 1 and observer.stats["ocr_full"] == 0  # seen right after capture, never read
    assert store.counts()["observations"] == 0


def test_a_ticking_title_of_another_window_does_not_make_the_frame_unstable(x, desktop, store):
    player = x.show("(0:01) Video — Firefox", "Firefox", ["Now playing"], x=650, y=0, width=600, height=300)
    x.show("report.md — Editor", "Gedit", ["Budget review on Thursday"], width=600, height=300)
    seconds = iter(range(2, 100))

    def capture_while_the_clock_ticks():
        frame = grab()
        title = f"(0:{next(seconds):02d}) Video — Firefox".encode()
        player.change_property(x.atom("_NET_WM_NAME"), x.atom("UTF8_STRING"), 8, title)
        x.display.sync()
        return frame

    observer = screen(store, desktop, capture=capture_while_the_clock_ticks)
    obs = observer.observe_frame()
    assert observer.stats["unstable"] == 0 and observer.stats["ocr_full"] == 1  # read once, kept
    assert obs is not None and (obs.app, obs.window_title) == ("Gedit", "report.md — Editor")
    assert store.counts()["observations"] == 1


def test_text_goes_to_the_window_active_during_the_capture(x, desktop, store):
    editor = x.show("report.md — Editor", "Gedit", ["Budget review on Thursday"], width=600, height=300)
    mail = x.show("Inbox — Mail", "Thunderbird", ["3 unread from Lisbon"], x=650, y=0, width=600, height=300)
    moves = iter([editor])

    def capture_while_focus_moves():
        frame = grab()
        if (target := next(moves, None)) is not None:
            x.focus(target)  # the user clicks the editor while the frame is being read
        return frame

    observer = screen(store, desktop, capture=capture_while_focus_moves)
    obs = observer.observe_frame()
    assert observer.stats["unstable"] == 1  # read before the click, checked after: retaken
    assert obs is not None and (obs.app, obs.window_title) == ("Gedit", "report.md — Editor")
    assert mail is not None


def test_input_time_after_a_machine_slept_over_a_week_counts_as_a_week(desktop, store):
    observer = InputObserver(store.add_observation, PrivacyFilter(), desktop, report_every_s=60)
    woke = utcnow() + timedelta(days=9)
    obs = observer.sample(now=woke)
    assert obs is not None and obs.duration_s == MAX_DURATION_S  # not a ValidationError in the observer


def test_meta_is_stored_redacted(plain_store, db_path):
    store = plain_store
    token = "ghp_" + "C4n4ryM3t4" * 4
    pushed = PushChannel(store.add_observation, PrivacyFilter()).push(
        "deploy finished", app="ci", meta={"env": {"GITHUB_TOKEN": token}, "args": ["--password=canarymeta"]})
    assert pushed is not None and pushed.meta["env"]["GITHUB_TOKEN"] == "[REDACTED:github_token]"
    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    raw = file_bytes(db_path)
    assert b"deploy finished" in raw and b"C4n4ryM3t4" not in raw and b"canarymeta" not in raw


def test_secrets_on_screen_are_stored_only_redacted(x, desktop, plain_store, db_path):
    store = plain_store
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
    calls = {"capture": 0, "read": 0}

    def capture():
        calls["capture"] += 1
        return grab()

    def read(image):
        calls["read"] += 1
        return TesseractReader()(image)

    shots = tmp_path / "shots"
    observer = ScreenObserver(store.add_observation, privacy, read, desktop, capture=capture,
                              keep_screenshots_dir=shots, keep_ttl=timedelta(hours=1))
    windows = WindowObserver(store.add_observation, privacy, desktop)
    windows.check()
    x.show("other", "Gedit", ["more"], x=200, y=450, height=150)
    assert observer.observe_frame() is None and observer.once() is None
    assert calls == {"capture": 0, "read": 0} and not list(tmp_path.rglob("*.png"))  # nothing taken or written
    assert observer.stats["paused"] == 2
    assert windows.check() is None and windows.snapshot() is None
    assert InputObserver(store.add_observation, privacy, desktop).once() is None
    assert PushChannel(store.add_observation, privacy).push("pushed while paused") is None
    assert store.counts()["observations"] == 0
    pause.resume()
    assert observer.observe_frame() is not None and calls == {"capture": 1, "read": 1}
    assert len(list(shots.glob("*.png"))) == 1
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


def test_files_from_excluded_contexts_are_not_recorded(tmp_path, plain_store, db_path):
    store = plain_store
    watched = tmp_path / "home"
    for folder in ("Downloads/Incognito", ".ssh", "vault", "projects"):
        (watched / folder).mkdir(parents=True)
    observer = FilesObserver(store.add_observation, PrivacyFilter(), [watched], debounce_s=0.0)
    observer.start_watching()
    try:
        (watched / "vault" / "Passwords.kdbx").write_bytes(b"canaryvault")
        (watched / "Downloads" / "Incognito" / "canary-statement.pdf").write_bytes(b"%PDF")
        (watched / ".ssh" / "id_canary").write_text("key")
        (watched / "projects" / "plan.md").write_text("plan")
        deadline = time.monotonic() + 10
        while not any(p.name == "plan.md" for p in observer._pending) and time.monotonic() < deadline:
            time.sleep(0.05)  # watchdog delivers on its own thread; poll with a deadline
        seen = observer.flush()
    finally:
        observer.close()
    assert [o.meta["path"] for o in seen] == [str(watched / "projects" / "plan.md")]
    assert observer.dropped >= 3  # each excluded file was refused as its events arrived, not later
    store.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
    raw = file_bytes(db_path)
    assert b"plan.md" in raw and b"canary" not in raw and b"kdbx" not in raw


def test_files_touched_while_paused_are_never_recorded(tmp_path, store):
    watched, outside = tmp_path / "projects", tmp_path / "outside"
    watched.mkdir()
    outside.mkdir()
    pause = PauseState(tmp_path / "paused.json")
    observer = FilesObserver(store.add_observation, PrivacyFilter(pause=pause), [watched], debounce_s=0.0)

    def arrive(name: str) -> None:
        """A file moved in from outside: exactly one event, so waiting for it leaves none behind."""
        (outside / name).write_text("x")
        os.replace(outside / name, watched / name)

    def wait_for(condition) -> None:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)  # watchdog delivers on its own thread; poll with a deadline

    observer.start_watching()
    try:
        pause.pause()
        arrive("while-paused.md")
        observer._pending[watched / "queued-before.md"] = ("created", 0.0)  # queued just before the pause
        wait_for(lambda: observer.dropped)
        assert observer.dropped == 1 and list(observer._pending) == [watched / "queued-before.md"]
        assert observer.flush() == [] and not observer._pending  # what was queued goes too
        pause.resume()
        arrive("after.md")
        wait_for(lambda: observer._pending)
        seen = observer.flush()
    finally:
        observer.close()
    assert [Path(o.meta["path"]).name for o in seen] == ["after.md"]


def test_a_failing_observer_is_restarted_and_the_others_keep_running():
    seen = []

    class Flaky(Observer):
        name, interval_s = "flaky", 0.01
        calls = 0

        def poll(self):
            Flaky.calls += 1
            if Flaky.calls <= 2:
                raise RuntimeError("camera unplugged")

    class Steady(Observer):
        name, interval_s = "steady", 0.01
        ticks = 0

        def poll(self):
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

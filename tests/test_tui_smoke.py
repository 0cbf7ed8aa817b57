"""`tacit tui` as a person runs it: a real terminal (a tmux pane), real keys, a real daemon.

The pane is read back as text. The terminal title the TUI sets is checked
against the observers' default privacy rules, so tacit never captures its
own window.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_proc import DaemonProc, wait_until
from test_tui import seeded_daemon

from tacitd.daemon.config import load_settings
from tacitd.daemon.observe import privacy_filter
from tacitd.memory.types import Observation
from tacitd.observers.privacy import WindowInfo

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (make system-deps)")

MAIN = "from tacitd.daemon.cli import main; main()"


class Pane:
    """A detached tmux session running one command; `text()` is what its pane shows now."""

    def __init__(self, command: str, env: dict[str, str]):
        self.name = f"tacit-test-{os.getpid()}-{time.monotonic_ns()}"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
        subprocess.run(["tmux", "new-session", "-d", "-s", self.name, "-x", "140", "-y", "40",
                        f"env -u COLUMNS -u LINES {exports} {command}"], check=True)  # size from the pane

    def text(self) -> str:
        out = subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True)
        return out.stdout

    def title(self) -> str:
        out = subprocess.run(["tmux", "display-message", "-p", "-t", self.name, "#{pane_title}"],
                             capture_output=True, text=True)
        return out.stdout.strip()

    def keys(self, *keys: str) -> None:
        subprocess.run(["tmux", "send-keys", "-t", self.name, *keys], check=True)

    def shows(self, *needles: str, timeout: float = 30.0) -> str:
        """The pane's text once it shows every needle at once (a capture can catch a frame half drawn)."""
        try:
            return wait_until(lambda: t if all(n in (t := self.text()) for n in needles) else "", timeout, 0.05,
                              f"{needles!r}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the pane shows:\n{self.text()}") from None

    def alive(self) -> bool:
        return subprocess.run(["tmux", "has-session", "-t", self.name], capture_output=True).returncode == 0

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def tui_pane(tmp_path: Path) -> Iterator[tuple[Pane, DaemonProc, list[int]]]:
    with seeded_daemon(tmp_path) as (d, ids):
        env = {k: v for k, v in d.env.items() if k.startswith("TACIT_")}
        pane = Pane(f"{shlex.quote(sys.executable)} -c {shlex.quote(MAIN)} tui", env)
        try:
            yield pane, d, ids
        finally:
            pane.close()


def tacit_show(d: DaemonProc, pid: int) -> dict:
    out = subprocess.run([sys.executable, "-c", MAIN, "show", str(pid), "--json"], env=d.env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_tacit_tui_in_a_terminal_lists_searches_opens_and_confirms(tui_pane):
    pane, d, ids = tui_pane
    total = d.client().recent(limit=1).total
    first = pane.shows("Sam prefers dark mode in every editor", f"{total} beliefs", "● up", "c Confirm")
    assert first.index("Sam prefers dark mode") < first.index("Sam spends most mornings")  # by confidence
    assert "f Forget" in first and "r Reject" in first  # the keys are in the footer

    pane.keys("/")
    wait_until(lambda: "c Confirm" not in pane.text(), 15, 0.05, "the search box to take the keys")
    pane.keys("Lisbon")
    narrowed = pane.shows("words matched 1/1 (lisbon)", "Sam plans a trip to Lisbon in March", "matches for “Lisbon”")
    assert "Sam prefers dark mode" not in narrowed
    assert narrowed.index("Sam plans a trip to Lisbon") < narrowed.index("matches for")  # the hit is listed

    pane.keys("Enter")  # from the search box to the hits: the belief keys are back in the footer
    pane.shows("c Confirm")  # (a second Enter sent at once can reach the search box before the focus moves)
    pane.keys("Enter")  # open the detail
    pane.shows("Flights to Lisbon — Mozilla Firefox", "Evidence (1)", "History (1 version)", "Return flights",
               "Why it matched “Lisbon”")

    lisbon = ids[1]
    assert tacit_show(d, lisbon)["feedback"] == []
    pane.keys("c")
    pane.shows("Confirmed:")
    shown = wait_until(lambda: s if (s := tacit_show(d, lisbon))["feedback"] else None, 30, 0.2, "the confirm in tacit show")
    assert shown["proposition"]["confidence"] == 1.0
    assert [f["kind"] for f in shown["feedback"]] == ["confirm"]

    pane.keys("q")
    wait_until(lambda: not pane.alive(), 15, 0.05, "tacit tui to quit")


def test_the_terminal_title_starts_with_tacit_so_the_observers_never_capture_it(tui_pane, tmp_path):
    pane, _, _ = tui_pane
    pane.shows("Sam prefers dark mode")
    title = wait_until(lambda: t if (t := pane.title()).startswith("tacit") else "", 15, 0.05, "the pane title")
    rules = privacy_filter(load_settings(tmp_path / "none.toml", data_dir=tmp_path / "data"))
    seen = Observation(observer="window", app="gnome-terminal", window_title=title, text="Sam prefers dark mode")
    assert rules.apply(seen) is None  # the window observer drops it
    assert rules.blocks_frame([WindowInfo(app="xterm", title=title)])  # and the screen observer the whole frame
    other = seen.model_copy(update={"window_title": "vim notes.txt"})
    assert rules.apply(other) is not None  # a terminal with another title is observed as usual

"""`tacit tui`: see, search, correct and forget what tacit believes.

The app talks to the running daemon only through `TacitClient`. Every call
runs in a thread worker (`TacitApp.call`), so a slow or dead daemon never
freezes the screen; results come back to the UI thread through callbacks.
A call that finds no daemon switches to the "daemon is not running" screen,
which keeps retrying and steps aside when the daemon comes back. A daemon
that takes the connection but does not answer (stopped, or stuck) is told
apart by the status poll's own short timeout: the status bar says so within
seconds, not after the client's 30 s.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import httpx
from textual.app import App
from textual.binding import Binding
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.signal import Signal
from textual.worker import get_current_worker

from tacitd.daemon.api.client import ApiError, DaemonNotRunning, StatusOut, TacitClient

from .screens.activity import ActivityScreen
from .screens.beliefs import DEFAULT_FILTERS, FIRST_PAGE, BeliefsScreen
from .screens.down import DaemonDownScreen
from .screens.help import HelpScreen
from .screens.pause import PauseScreen
from .screens.quarantine import QuarantineScreen
from .threads import DaemonThreadPool

T = TypeVar("T")

TITLE = "tacit"  # the terminal title starts with this: the observers' default rules exclude it (privacy.py)
STATUS_EVERY_S = 5.0
STATUS_TIMEOUT_S = 3.0  # a status reply takes milliseconds; none in this long: the daemon is not answering
EVENT_RETRY_S = 2.0
QUIT_WAIT_S = 2.0  # how long `q` waits for the daemon to answer a change still being sent


class TacitApp(App[None]):
    """The TUI. `socket_path` None means the client's default (TACIT_SOCKET, else the runtime dir)."""

    CSS_PATH = "tacit.tcss"
    TITLE = TITLE
    SUB_TITLE = "what tacit believes about you"
    MODES = {"beliefs": BeliefsScreen, "activity": ActivityScreen, "quarantine": QuarantineScreen}
    DEFAULT_MODE = "beliefs"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("1", "switch_mode('beliefs')", "Beliefs"),
        Binding("2", "switch_mode('activity')", "Activity"),
        Binding("3", "switch_mode('quarantine')", "Quarantine"),
        # One key, two actions: check_action shows the one that applies (Resume while paused).
        Binding("p", "pause", "Pause"),
        Binding("p", "resume", "Resume"),
        Binding("ctrl+r,f5", "refresh", "Refresh"),
        Binding("question_mark,f1", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    status: reactive[Any | None] = reactive(None, init=False, always_update=True)
    daemon_up: reactive[bool] = reactive(True, init=False)
    # False while the daemon holds the connection without answering; `answered_at` is its last reply
    answering: reactive[bool] = reactive(True, init=False)

    def __init__(self, socket_path: Path | None = None, page_size: int = 1000) -> None:
        super().__init__()
        self.socket_path = socket_path
        self.page_size = page_size
        self.client = TacitClient(socket_path)
        self.status_client = TacitClient(socket_path, timeout=STATUS_TIMEOUT_S)
        self.answered_at: datetime | None = None
        self._prefetch = self.prefetch(partial(self.client.recent, FIRST_PAGE, 0, **DEFAULT_FILTERS))
        # Publishes (kind, proposition id) when one changed: an event from the daemon, or feedback given here.
        # Kinds are the events' (new, revised, confirmed, rejected, forgotten) plus "superseded".
        self.changed: Signal[tuple[str, int]] = Signal(self, "changed")
        self._stopping = threading.Event()
        self._last_event_id: int | None = None
        self._out: set[str] = set()  # exclusive groups with a call out
        self._latest: dict[str, Callable[[], None]] = {}  # per group, the call to make when its call returns
        self.writes: list[str] = []  # the changes asked for and not answered yet, in words; the first is out
        self._queued_writes: deque[Callable[[], None]] = deque()  # the others, to send in turn
        self._quitting = False
        self._pause_sent: bool | None = None  # the pause state last asked for, until the daemon answers all asks
        self._pause_asks = 0

    def on_load(self) -> None:
        """Before any worker starts: thread workers run on daemon threads, so `q` never waits for a stuck call."""
        asyncio.get_running_loop().set_default_executor(DaemonThreadPool(thread_name_prefix="tacit-call"))

    def on_mount(self) -> None:
        self.set_terminal_title(TITLE)
        self.refresh_status()
        self.set_interval(STATUS_EVERY_S, self.refresh_status)
        self.watch_events()

    @staticmethod
    def prefetch(fetch: partial[Any]) -> tuple[partial[Any], Future[Any]]:
        """Start the first listing request now, so the daemon works while Textual sets the screen up."""
        return fetch, DaemonThreadPool(thread_name_prefix="tacit-prefetch").submit(fetch)

    def take_prefetched(self, fetch: partial[Any]) -> Future[Any] | None:
        """The prefetched result if `fetch` is the same request (same function and arguments), once."""
        if self._prefetch is None:
            return None
        early, future = self._prefetch
        self._prefetch = None
        same = (early.func, early.args, early.keywords) == (fetch.func, fetch.args, fetch.keywords)
        return future if same else None

    def on_unmount(self) -> None:
        self.restore_terminal_title()
        self._stopping.set()
        self.client.close()
        self.status_client.close()

    def set_terminal_title(self, title: str) -> None:
        """OSC 2: the terminal (and so the window manager) shows `title` as the window title.

        The window observer reads that title, and `^tacit\\b` is one of the
        default excluded title patterns, so tacit never records its own UI.
        The terminal's own title is saved first (XTWINOPS 22) and restored on
        quit (23), so the window is observed as usual afterwards.
        """
        if self._driver is not None:
            self._driver.write(f"\x1b[22;0t\x1b]2;{title}\x07")

    def restore_terminal_title(self) -> None:
        if self._driver is not None:
            self._driver.write("\x1b[23;0t")

    # -- talking to the daemon -----------------------------------------------------

    def call(self, fn: Callable[..., T], *args: Any, then: Callable[[T], None] | None = None,
             group: str = "api", exclusive: bool = False, quiet: bool = False, write: str | None = None,
             done: Callable[[], None] | None = None) -> None:
        """Run `fn(*args)` (a client method) in a thread; hand its result to `then` on the UI thread.

        No daemon: show the "not running" screen. A refused request (a bad id,
        one already forgotten) or a daemon too slow to answer: a notification
        with the daemon's words, unless `quiet`. Anything else is a bug and
        ends the app with its traceback, as Textual does. `done` runs on the
        UI thread after any outcome.

        `exclusive`: one call of the `group` is out at a time. A thread inside
        httpx cannot be stopped, so a call made while one is out waits, and
        only the latest of those is sent when it returns (the earlier reply is
        dropped): typing to a stopped daemon leaves one search hanging, not
        one per keystroke, and it gets one search, not all of them, when it
        continues. `write` names a change (confirm, forget, pause...) so that
        quitting can say it is still unanswered; changes go one at a time, in
        the order asked (a resume asked before the pause is answered must land
        after it).
        """
        if exclusive and group in self._out:
            self._latest[group] = partial(self.call, fn, *args, then=then, group=group, exclusive=True, quiet=quiet,
                                          write=write, done=done)
            return
        if exclusive:
            self._out.add(group)

        def finished(back: Callable[[], object] | None) -> None:
            """On the UI thread, whatever the outcome."""
            superseded = exclusive and group in self._latest
            if back is not None and not superseded:
                back()
            if write is not None:
                self.writes.remove(write)
                if self._queued_writes:
                    self._queued_writes.popleft()()
                elif self._quitting:
                    self.exit()
            if exclusive:
                self._out.discard(group)
                if (latest := self._latest.pop(group, None)) is not None:
                    latest()
            if done is not None:
                done()

        def job() -> None:
            back: Callable[[], object] | None = None
            try:
                result = fn(*args)
            except DaemonNotRunning:
                back = partial(setattr, self, "daemon_up", False)
            except (ApiError, httpx.TransportError) as exc:
                if not quiet:
                    back = partial(self.notify, str(exc) or type(exc).__name__, title="tacit daemon",
                                   severity="error", markup=False)
            else:
                if then is not None and not get_current_worker().is_cancelled:
                    back = partial(then, result)
            if self.is_running:  # after quit, a late reply (a stuck daemon answering at last) has nowhere to go
                self.call_from_thread(finished, back)

        if write is not None:
            self.writes.append(write)
            if len(self.writes) > 1:
                self._queued_writes.append(partial(self.run_worker, job, thread=True, group=group))
                return
        self.run_worker(job, thread=True, group=group)

    def refresh_status(self) -> None:
        self.call(self._poll_status, then=self._got_status, group="status", exclusive=True, quiet=True)

    def _poll_status(self) -> StatusOut | None:
        """/v1/status, or None when the daemon took the request but sent no reply in STATUS_TIMEOUT_S."""
        try:
            return self.status_client.status()
        except httpx.TimeoutException:
            return None

    def _got_status(self, status: StatusOut | None) -> None:
        self.daemon_up = True
        if status is None:  # the last status stays, for the keys; the status bar says it is stale
            self.answering = False
            return
        self.answered_at = datetime.now(UTC)
        self.answering = True
        self.status = status

    def watch_status(self, old: StatusOut | None, new: StatusOut | None) -> None:
        if (old is not None and old.paused) != (new is not None and new.paused):
            self.refresh_bindings()  # the footer offers Resume while paused, Pause otherwise

    def watch_daemon_up(self, up: bool) -> None:
        if not up:
            self.status = None
            if not isinstance(self.screen, DaemonDownScreen):
                self.push_screen(DaemonDownScreen(self.client.socket_path))
        elif isinstance(self.screen, DaemonDownScreen):
            self.pop_screen()
            self.action_refresh()
        # with a dialog over the down screen, the down screen leaves when it is on top again (on_screen_resume)

    def watch_events(self) -> None:
        """Tail /v1/events in a daemon thread for as long as the app runs.

        Not a Textual worker: the stream blocks in a socket read between
        events, and the app waits for its workers when it quits; a daemon
        thread ends with the process instead.
        """
        threading.Thread(target=self._tail_events, name="tacit-events", daemon=True).start()

    def _tail_events(self) -> None:
        """After a reconnect the stream resumes after the last event seen, so no change is missed."""
        while not self._stopping.is_set():
            try:
                with TacitClient(self.socket_path) as client:
                    for event in client.events(after=self._last_event_id):
                        self._last_event_id = event.id
                        if self._stopping.is_set():
                            return
                        self.call_from_thread(self._on_event, event)
            except Exception:  # down, or the stream broke: the status poll shows it; reconnect soon
                pass
            if self._stopping.wait(EVENT_RETRY_S):
                return

    def _on_event(self, event: Any) -> None:
        self.changed.publish((event.kind, event.proposition_id))
        if event.supersedes is not None:
            self.changed.publish(("superseded", event.supersedes))
        self.refresh_status()

    # -- actions shared by every screen ------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """While the daemon is down only quit, help and retry make sense (and the footer shows only those).

        `p` pauses capture, or resumes it while paused (see `capture_paused`).
        """
        if isinstance(self.screen, DaemonDownScreen) and action in ("switch_mode", "pause", "resume", "refresh"):
            return False
        if action in ("pause", "resume"):  # not over a dialog (p p p would stack pause dialogs)
            return not isinstance(self.screen, ModalScreen) and (action == "resume") == self.capture_paused
        return True

    @property
    def capture_paused(self) -> bool:
        """What `p` acts on: the state just asked for while its reply is out, else the daemon's last word."""
        if self._pause_sent is not None:
            return self._pause_sent
        return self.status is not None and self.status.paused

    async def action_quit(self) -> None:
        """Quit; with a change still unanswered, say so and wait for it up to QUIT_WAIT_S (`q` again: at once).

        The daemon applies each change in one transaction, so it is made or
        not, never half; but a request to a stopped daemon waits in its socket
        and may be applied after the TUI is gone. So rather than quit in
        silence: a notice, then quit as soon as the reply comes, or after the
        wait with a line on the terminal saying which changes are unconfirmed.
        """
        if not self.writes:
            self.exit()
        elif self._quitting:
            self._quit_unanswered()
        else:
            self._quitting = True
            self.notify(f"A change is still being sent to the daemon; quitting when it answers, in "
                        f"{QUIT_WAIT_S:.0f} s at most (q again: now).", title="tacit daemon", severity="warning")
            self.set_timer(QUIT_WAIT_S, self._quit_unanswered)

    def _quit_unanswered(self) -> None:
        if not self.writes:
            self.exit()
            return
        out, *unsent = self.writes
        self.exit(message=f"tacit: quit before the daemon answered: {out}. It may still make that change when it "
                          "answers; `tacit show` says what it holds."
                          + (f" Not sent: {'; '.join(unsent)}." if unsent else ""))

    def action_refresh(self) -> None:
        self.refresh_status()
        reload = getattr(self.screen, "reload", None)
        if callable(reload):
            reload()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_resume(self) -> None:
        self._send_pause(False, self.client.resume)

    def action_pause(self) -> None:
        def chosen(seconds: int | None | bool) -> None:
            if seconds is not False:
                self._send_pause(True, self.client.pause, seconds)

        self.push_screen(PauseScreen(), chosen)

    def _send_pause(self, paused: bool, fn: Callable[..., Any], *args: Any) -> None:
        """`p` acts on the state asked for at once (p p while paused: resume, then the pause dialog)."""
        self._pause_sent = paused
        self._pause_asks += 1
        self.refresh_bindings()
        self.call(fn, *args, then=self._paused, write="pause capture" if paused else "resume capture",
                  done=self._pause_answered)

    def _pause_answered(self) -> None:
        """Refused or unanswered as much as answered: the next status says the daemon's state."""
        self._pause_asks -= 1
        if self._pause_asks:
            return
        self._pause_sent = None
        self.refresh_bindings()
        self.refresh_status()

    def _paused(self, result: Any) -> None:
        if self.status is not None:
            self.status = self.status.model_copy(update={"paused": result.paused, "paused_until": result.until})
        self.notify(f"Capture paused until {result.until.astimezone():%H:%M}" if result.paused and result.until
                    else "Capture paused until you resume" if result.paused else "Capture resumed")

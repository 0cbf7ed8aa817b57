"""The observer framework: polling observers, one privacy path, supervised restarts.

An observer only ever emits through `emit`, which runs the privacy filter,
so no code path can hand an unfiltered observation to a sink. A failing
observer is logged and restarted with exponential backoff; the others keep
running and the process stays up.

`poll` is a plain blocking method (X11 calls, Tesseract, the sink's SQLite
write) and `run` calls it in a worker thread, so a slow OCR never stalls
the event loop that also serves the API. Observers that share a desktop
connection take turns (one lock per desktop, given by the Supervisor),
because an X connection is not safe to use from two threads at once.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence

from tacitd.memory.types import Observation

from .privacy import PrivacyFilter, WindowInfo

log = logging.getLogger("tacit.observers")
Sink = Callable[[Observation], None]


class Observer:
    """Subclasses set `name` and `interval_s` and implement `poll`."""

    name = "observer"
    interval_s = 1.0

    def __init__(self, sink: Sink, privacy: PrivacyFilter):
        self.sink = sink
        self.privacy = privacy
        self.emitted = 0

    def poll(self) -> None:
        """One cycle. It may block: `run` calls it in a worker thread."""
        raise NotImplementedError

    def emit(self, obs: Observation, visible: Sequence[WindowInfo] = ()) -> Observation | None:
        """Filter, then hand to the sink. Returns what was delivered (redacted), or None."""
        passed = self.privacy.apply(obs, visible)
        if passed is not None:
            self.sink(passed)
            self.emitted += 1
        return passed

    def once(self) -> Observation | None:
        """One cycle now, for `tacit observe --once`: what would be stored, already filtered."""
        return None

    async def run(self, stop: asyncio.Event, lock: threading.Lock | None = None) -> None:
        lock = lock or threading.Lock()
        while not stop.is_set():
            await asyncio.to_thread(self._poll_with, lock)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    def _poll_with(self, lock: threading.Lock) -> None:
        with lock:
            self.poll()

    def close(self) -> None:
        """Release platform resources (X connections, watches)."""


class Supervisor:
    """Runs observers side by side; restarts any that raise, with backoff."""

    def __init__(self, observers: Sequence[Observer], backoff_s: float = 1.0, max_backoff_s: float = 60.0):
        self.observers = list(observers)
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.restarts = {o.name: 0 for o in self.observers}
        self.failing: dict[str, str] = {}  # name -> its error, while it waits to be restarted
        self.stop_event = asyncio.Event()
        self._locks = _desktop_locks(self.observers)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._guard(o), name=o.name) for o in self.observers]

    async def _guard(self, observer: Observer) -> None:
        delay = self.backoff_s
        while not self.stop_event.is_set():
            try:
                await observer.run(self.stop_event, self._locks[observer.name])
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts[observer.name] += 1
                self.failing[observer.name] = f"{type(exc).__name__}: {exc}"[:200]
                log.exception("observer %s failed; restarting in %.1f s", observer.name, delay)
                try:
                    await asyncio.wait_for(self.stop_event.wait(), timeout=delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, self.max_backoff_s)
                self.failing.pop(observer.name, None)

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for o in self.observers:
            o.close()


def _desktop_locks(observers: Sequence[Observer]) -> dict[str, threading.Lock]:
    """One lock per shared `desktop` object (X connection); an observer without one gets its own."""
    by_desktop: dict[int, threading.Lock] = {}
    locks = {}
    for o in observers:
        desktop = getattr(o, "desktop", None)
        locks[o.name] = by_desktop.setdefault(id(desktop), threading.Lock()) if desktop is not None \
            else threading.Lock()
    return locks

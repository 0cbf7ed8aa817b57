"""The observer framework: polling observers, one privacy path, supervised restarts.

An observer only ever emits through `emit`, which runs the privacy filter,
so no code path can hand an unfiltered observation to a sink. A failing
observer is logged and restarted with exponential backoff; the others keep
running and the process stays up.
"""

from __future__ import annotations

import asyncio
import logging
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

    async def poll(self) -> None:
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

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.interval_s)
            except TimeoutError:
                pass

    def close(self) -> None:
        """Release platform resources (X connections, watches)."""


class Supervisor:
    """Runs observers side by side; restarts any that raise, with backoff."""

    def __init__(self, observers: Sequence[Observer], backoff_s: float = 1.0, max_backoff_s: float = 60.0):
        self.observers = list(observers)
        self.backoff_s, self.max_backoff_s = backoff_s, max_backoff_s
        self.restarts = {o.name: 0 for o in self.observers}
        self.stop_event = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._guard(o), name=o.name) for o in self.observers]

    async def _guard(self, observer: Observer) -> None:
        delay = self.backoff_s
        while not self.stop_event.is_set():
            try:
                await observer.run(self.stop_event)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                self.restarts[observer.name] += 1
                log.exception("observer %s failed; restarting in %.1f s", observer.name, delay)
                try:
                    await asyncio.wait_for(self.stop_event.wait(), timeout=delay)
                except TimeoutError:
                    pass
                delay = min(delay * 2, self.max_backoff_s)

    async def stop(self) -> None:
        self.stop_event.set()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for o in self.observers:
            o.close()

"""Observers' blocking work runs off the event loop, and observers sharing a desktop take turns."""

from __future__ import annotations

import asyncio
import threading
import time

from tacitd.observers.base import Observer, Supervisor
from tacitd.observers.privacy import PrivacyFilter


class Slow(Observer):
    """Blocks like Tesseract or an X round trip would."""

    name, interval_s = "slow", 0.01

    def __init__(self, *args, desktop=None, name="slow", **kwargs):
        super().__init__(*args, **kwargs)
        self.desktop, self.name = desktop, name
        self.calls = 0

    def poll(self) -> None:
        self.calls += 1
        time.sleep(0.2)


def test_a_blocking_poll_does_not_stall_the_event_loop():
    async def scenario() -> tuple[int, int]:
        observer = Slow(lambda o: None, PrivacyFilter())
        supervisor = Supervisor([observer])
        ticks = 0
        supervisor.start()
        async with asyncio.timeout(10):
            while observer.calls < 3:
                await asyncio.sleep(0.01)
                ticks += 1
        await supervisor.stop()
        return ticks, observer.calls

    ticks, calls = asyncio.run(scenario())
    # Three polls of 0.2 s blocked for >= 0.4 s; a loop blocked by them could not tick 10 ms timers meanwhile.
    assert calls >= 3 and ticks >= 20


def test_observers_sharing_a_desktop_never_poll_at_once_and_others_run_alongside():
    active: dict[int, int] = {}
    overlaps = []
    guard = threading.Lock()

    class Counting(Slow):
        def poll(self) -> None:
            key = id(self.desktop)
            with guard:
                active[key] = active.get(key, 0) + 1
                if active[key] > 1:
                    overlaps.append(self.name)
            time.sleep(0.05)
            with guard:
                active[key] -= 1
            self.calls += 1

    desktop, other = object(), object()
    a = Counting(lambda o: None, PrivacyFilter(), desktop=desktop, name="screen")
    b = Counting(lambda o: None, PrivacyFilter(), desktop=desktop, name="window")
    c = Counting(lambda o: None, PrivacyFilter(), desktop=other, name="files")

    async def scenario() -> float:
        supervisor = Supervisor([a, b, c])
        supervisor.start()
        start = time.monotonic()
        async with asyncio.timeout(10):
            while min(a.calls, b.calls) < 5:
                await asyncio.sleep(0.01)
        await supervisor.stop()
        return time.monotonic() - start

    elapsed = asyncio.run(scenario())
    assert overlaps == []
    # "files" has its own desktop: it is not held behind the other two, so it polled more often than either.
    assert c.calls > max(a.calls, b.calls), (a.calls, b.calls, c.calls, elapsed)

"""Focused window and idle time: one observation per focus change, activity counts per minute."""

from __future__ import annotations

from datetime import datetime

from tacitd.memory.types import Observation, capped_duration, utcnow

from .base import Observer, Sink
from .platform import Desktop
from .privacy import PrivacyFilter, WindowInfo


class WindowObserver(Observer):
    """On each focus change, emits the window just left, with the time spent in it."""

    name = "window"

    def __init__(self, sink: Sink, privacy: PrivacyFilter, desktop: Desktop, interval_s: float = 1.0):
        super().__init__(sink, privacy)
        self.desktop, self.interval_s = desktop, interval_s
        self._current: WindowInfo | None = None
        self._since: datetime | None = None

    def snapshot(self) -> Observation | None:
        """The focused window right now (for `tacit observe --once`); nothing while paused."""
        if self.privacy.paused():
            return None
        active = self.desktop.active_window()
        return self._observation(active, utcnow(), 0.0) if active else None

    def poll(self) -> None:
        self.check()

    def once(self) -> Observation | None:
        obs = self.snapshot()
        return self.emit(obs) if obs else None

    def check(self, now: datetime | None = None) -> Observation | None:
        """Pause first: while paused the desktop is not read, and the time spent paused is not
        counted as time in the window that was focused when the pause began."""
        if self.privacy.paused():
            self._current = self._since = None
            return None
        now = now or utcnow()
        active = self.desktop.active_window()
        if active == self._current:
            return None
        left, since = self._current, self._since
        self._current, self._since = active, now
        if left is None or since is None:
            return None
        obs = self._observation(left, since, (now - since).total_seconds())
        return self.emit(obs)

    @staticmethod
    def _observation(w: WindowInfo, since: datetime, duration_s: float) -> Observation:
        return Observation(observer="window", app=w.app, window_title=w.title, url=w.url, captured_at=since,
                           duration_s=capped_duration(duration_s))


class InputObserver(Observer):
    """Active and idle seconds from the platform idle timer. Never keystrokes, not even counts."""

    name = "input"

    def __init__(self, sink: Sink, privacy: PrivacyFilter, desktop: Desktop, interval_s: float = 5.0,
                 report_every_s: float = 60.0, idle_after_s: float = 60.0):
        super().__init__(sink, privacy)
        self.desktop, self.interval_s = desktop, interval_s
        self.report_every_s, self.idle_after_s = report_every_s, idle_after_s
        self._active = self._idle = 0.0
        self._window_start = utcnow()

    def poll(self) -> None:
        self.sample()

    def once(self) -> Observation | None:
        if self.privacy.paused():
            return None
        idle = self.desktop.idle_seconds()
        return self.emit(Observation(observer="input", meta={"idle_s": idle})) if idle is not None else None

    def sample(self, now: datetime | None = None) -> Observation | None:
        """Pause first: paused time is counted neither as active nor as idle."""
        now = now or utcnow()
        if self.privacy.paused():
            self._active = self._idle = 0.0
            self._window_start = now
            return None
        idle = self.desktop.idle_seconds()
        if idle is None:
            return None
        if idle > self.idle_after_s:
            self._idle += self.interval_s
        else:
            self._active += self.interval_s
        if (now - self._window_start).total_seconds() < self.report_every_s:
            return None
        obs = Observation(observer="input", captured_at=self._window_start,
                          duration_s=capped_duration((now - self._window_start).total_seconds()),
                          meta={"active_s": self._active, "idle_s": self._idle})
        self._active = self._idle = 0.0
        self._window_start = now
        return self.emit(obs)

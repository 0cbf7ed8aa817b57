"""Text that other apps hand to tacit. It takes the same privacy path as everything observed."""

from __future__ import annotations

from typing import Any

from tacitd.memory.types import Observation

from .base import Sink
from .privacy import PrivacyFilter


class PushChannel:
    def __init__(self, sink: Sink, privacy: PrivacyFilter):
        self.sink, self.privacy = sink, privacy

    def push(self, text: str, *, app: str | None = None, window_title: str | None = None, url: str | None = None,
             meta: dict[str, Any] | None = None) -> Observation | None:
        """Validate, filter and deliver; returns what was stored, or None if the rules dropped it."""
        obs = Observation(observer="push", app=app, window_title=window_title, url=url, text=text, meta=meta or {})
        passed = self.privacy.apply(obs)
        if passed is not None:
            self.sink(passed)
        return passed

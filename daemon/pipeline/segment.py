"""Segment: pending observations become activities, and each activity is one model call.

A small model writes specific claims from one activity at a time and
generic ones from a mixed batch, so the unit of work is an activity:
contiguous observations of the same app and window-title family
(activity.title_family), with gaps up to `max_gap_s` allowed.

- Input records and file events have no activity of their own: they join
  the activity that is open (giving it duration and files), or group with
  each other when none is. An idle stretch ends the open activity.
- A line that an earlier frame of the segment already showed is dropped:
  screen text mostly repeats while the user stays on one thing.
- Each segment's text stays under a token cap. Tokens are estimated as
  characters / 4 (English prose and code run at 3.5–4.5 characters per
  token in the Qwen and Llama tokenizers); an activity longer than the cap
  continues in a new segment.
- Segment membership is decided once and persisted; `build_segment`
  rebuilds the same segment from its members after a restart.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from tacitd.memory.types import Observation, Segment, utcnow

from .activity import app_name, title_family

CHARS_PER_TOKEN = 4
CONTEXT_OBSERVERS = frozenset({"input", "idle"})  # members for their duration only
ATTACHING_OBSERVERS = CONTEXT_OBSERVERS | {"files"}  # join whatever activity is open
IDLE_AFTER_S = 60.0

Activity = tuple[str, str]  # (app, title family)


@dataclass(frozen=True)
class SegmentParams:
    max_gap_s: float = 300.0  # a pause longer than this ends an activity
    max_tokens: int = 400  # per segment, estimated as characters / CHARS_PER_TOKEN
    close_after_s: float = 600.0  # the newest activity is left pending until it has been quiet this long

    @property
    def max_chars(self) -> int:
        return self.max_tokens * CHARS_PER_TOKEN


def segment_key(observation_ids: Iterable[int]) -> str:
    """The same observations always make the same key (16 hex digits of a SHA-256)."""
    return hashlib.sha256(",".join(map(str, sorted(observation_ids))).encode()).hexdigest()[:16]


def activity_of(o: Observation) -> Activity | None:
    """The activity an observation belongs to; None for records that join the open one."""
    if o.observer in ATTACHING_OBSERVERS and not o.app:
        return None
    return app_name(o), title_family(o)


def is_idle(o: Observation) -> bool:
    """An input record saying the user was mostly away (idle longer than active, and at least a minute)."""
    if o.observer not in CONTEXT_OBSERVERS:
        return False
    idle, active = o.meta.get("idle_s", 0), o.meta.get("active_s", 0)
    return isinstance(idle, int | float) and isinstance(active, int | float) and idle >= IDLE_AFTER_S \
        and idle > active


def _line_key(line: str) -> str:
    return " ".join(line.split()).lower()


def new_lines(text: str, seen: set[str]) -> list[str]:
    """The lines of `text` that no earlier frame showed; records them as seen."""
    fresh = []
    for line in text.splitlines():
        key = _line_key(line)
        if key and key not in seen:
            seen.add(key)
            fresh.append(" ".join(line.split()))
    return fresh


def _end(o: Observation) -> datetime:
    return o.captured_at + timedelta(seconds=o.duration_s)


@dataclass
class _Group:
    activity: Activity
    members: list[Observation] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    chars: int = 0
    end: datetime | None = None

    def fits(self, o: Observation, activity: Activity | None, params: SegmentParams) -> bool:
        if self.end is not None and (o.captured_at - self.end).total_seconds() > params.max_gap_s:
            return False
        if activity is not None and activity != self.activity:
            return False
        extra = sum(len(line) + 1 for line in new_lines(o.text, set(self.seen)))
        return not (self.chars and self.chars + extra > params.max_chars)

    def add(self, o: Observation) -> None:
        self.members.append(o)
        self.chars += sum(len(line) + 1 for line in new_lines(o.text, self.seen))
        self.end = max(self.end, _end(o)) if self.end else _end(o)


def group(observations: Sequence[Observation], params: SegmentParams) -> list[list[Observation]]:
    """Observations (in capture order) grouped into activities; pure, no store."""
    groups: list[_Group] = []
    current: _Group | None = None
    for o in sorted(observations, key=lambda x: (x.captured_at, x.id or 0)):
        activity = ("", "idle") if is_idle(o) else activity_of(o)
        if current is None or not current.fits(o, activity, params):
            if activity is None:
                activity = ("", o.observer)
            current = _Group(activity)
            groups.append(current)
        current.add(o)
    return [g.members for g in groups]


def build_segment(members: Sequence[Observation], params: SegmentParams, key: str | None = None) -> Segment:
    """The segment as the model sees it: repeated lines dropped, text under the cap.

    `key` is the persisted one when rebuilding (a forget may have removed
    members since); a new segment's key comes from its members' ids.
    """
    if not members or any(o.id is None for o in members):
        raise ValueError("a segment needs stored observations (with ids)")
    seen: set[str] = set()
    budget = params.max_chars
    shown = []
    for o in members:
        if o.observer in CONTEXT_OBSERVERS:
            continue
        text = "\n".join(new_lines(o.text, seen))[:max(budget, 0)]
        budget -= len(text) + 1
        if text or o.observer == "window":
            shown.append(o.model_copy(update={"text": text}))
    activities = [a for a in (activity_of(o) for o in members) if a is not None]
    apps = Counter(a for a, _ in activities if a)
    return Segment(
        key=key or segment_key(o.id for o in members),
        app=apps.most_common(1)[0][0] if apps else None,
        family=activities[0][1] if activities else "",
        observation_ids=[o.id for o in members],
        observations=shown,
        started_at=min(o.captured_at for o in members),
        ended_at=max(_end(o) for o in members),
    )


def segment(observations: Sequence[Observation], params: SegmentParams, *, now: datetime | None = None,
            flush: bool = False) -> tuple[list[Segment], list[Observation]]:
    """Closed segments, and the observations of the newest activity if it may still grow.

    With `flush` every activity is closed (a batch run such as `tacit
    process`); otherwise the newest stays pending until it has been quiet
    for `close_after_s`.
    """
    groups = group(observations, params)
    rest: list[Observation] = []
    if groups and not flush:
        quiet = ((now or utcnow()) - max(_end(o) for o in groups[-1])).total_seconds()
        if quiet < params.close_after_s:
            rest = groups.pop()
    return [build_segment(g, params) for g in groups], rest

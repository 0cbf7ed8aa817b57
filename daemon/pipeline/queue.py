"""Queue: drives pending observations through segment, screen and the model steps, and commits.

One segment at a time:
1. pending observations are grouped into segments (segment.py), and the
   grouping is committed (memory/queue.py keeps the states);
2. the screen (screen.py) skips segments with nothing to learn from;
3. the try is counted and committed, then `step` runs: the slow model
   work (propose, revise, audit), outside any transaction, so that capture
   and the API are never blocked behind the model;
4. the step's `Outcome` (the writes it decided on) is applied in one
   transaction together with marking the segment processed.

A crash before 4 commits leaves the segment open, and the next run redoes
it; a crash after leaves it done; so results are never written twice. If
another process finished the segment meanwhile, the outcome is discarded.
A step that raises puts the segment in quarantine (quarantine.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tacitd.memory.queue import DONE
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, utcnow
from tacitd.memory.vectors import Vector

from .quarantine import RetryPolicy, record_crashes, record_failure
from .screen import Screened, screen
from .segment import SegmentParams, build_segment, segment

BATCH = 10_000  # pending observations segmented per pass


@dataclass(frozen=True)
class Add:
    """unrelated: a new proposition, version 1 of its own revision group."""

    proposition: Proposition
    evidence: Sequence[int] = ()
    embedding: Vector | None = None


@dataclass(frozen=True)
class Link:
    """identical: more evidence for a proposition that is already there."""

    proposition_id: int
    evidence: Sequence[int] = ()


@dataclass(frozen=True)
class Revise:
    """refines or contradicts: a new version; the old one is closed with `valid_to`, never overwritten.

    `inherit_evidence` is False for a contradiction: the new claim carries only its own evidence.
    """

    proposition_id: int
    changes: dict[str, Any]
    evidence: Sequence[int] = ()
    embedding: Vector | None = None
    inherit_evidence: bool = True


Action = Add | Link | Revise


@dataclass
class Outcome:
    """What a step decided for one segment; nothing is written until it is applied."""

    actions: list[Action] = field(default_factory=list)
    note: str = ""


Step = Callable[[Screened], Outcome]


@dataclass(frozen=True)
class PipelineParams:
    segment: SegmentParams = SegmentParams()
    retry: RetryPolicy = RetryPolicy()


@dataclass
class RunReport:
    segments: dict[str, str] = field(default_factory=dict)  # key -> state it ended in
    written: list[int] = field(default_factory=list)  # proposition ids added, linked or revised

    def count(self, state: str) -> int:
        return sum(1 for s in self.segments.values() if s == state)

    def summary(self) -> dict[str, Any]:
        states = ("processed", "skipped", "quarantined", "dropped", "done elsewhere")
        return {"segments": len(self.segments), **{s: self.count(s) for s in states},
                "propositions_written": len(self.written)}


def apply(store: Store, actions: Sequence[Action]) -> list[int]:
    """Write a step's decisions (call inside the transaction that finishes the segment)."""
    ids = []
    for action in actions:
        if isinstance(action, Add):
            ids += store.add_propositions([(action.proposition, action.evidence, action.embedding)])
        elif isinstance(action, Link):
            ids.append(store.link_evidence(action.proposition_id, action.evidence).id)
        else:
            ids.append(store.revise(action.proposition_id, evidence=action.evidence, embedding=action.embedding,
                                    inherit_evidence=action.inherit_evidence, **action.changes).id)
    return ids


def enqueue(store: Store, observations: Sequence[Observation], now: datetime | None = None) -> list[int]:
    """Store observations and queue them, in one transaction: what a capture sink or an ingest does.

    They must have passed the privacy filter already.
    """
    with store.transaction():
        ids = [o.id for o in store.add_observations(observations) if o.id is not None]
        store.queue.enqueue(ids, now)
    return ids


def take_pending(store: Store, params: SegmentParams, now: datetime, flush: bool) -> int:
    """Group pending observations into segments, in one transaction; returns how many segments."""
    with store.transaction():
        pending = store.queue.pending(BATCH)
        segments, _rest = segment(pending, params, now=now, flush=flush and len(pending) < BATCH)
        for s in segments:
            store.queue.open_segment(s.key, s.observation_ids, now)
    return len(segments)


def process(store: Store, key: str, step: Step, params: PipelineParams, now: datetime,
            report: RunReport) -> str:
    """Take one segment through screen and `step`; returns the state it ends in."""
    members = store.queue.members(key)
    if not members:
        store.queue.finish(key, "dropped", "its observations were forgotten", now)
        return "dropped"
    screened = screen(build_segment(members, params.segment, key=key))
    if screened.action == "skip":
        store.queue.finish(key, "skipped", screened.reason, now)
        return "skipped"
    tries = store.queue.begin_attempt(key, now)
    if tries > params.retry.max_tries:
        record_crashes(store, key, tries - 1, now)
        return "quarantined"
    try:
        outcome = step(screened)
        return _commit(store, key, screened, outcome, now, report)
    except KeyboardInterrupt:  # the user stopped `tacit process`: not the segment's failure, the try is given back
        store.queue.release_attempt(key, now)
        raise
    except Exception as exc:  # a model crash, bad output or a bug: kept, with its error, for a retry
        record_failure(store, key, exc, tries, now, params.retry)
        return "quarantined"


def _commit(store: Store, key: str, screened: Screened, outcome: Outcome, now: datetime,
            report: RunReport) -> str:
    with store.transaction():
        if store.queue.state(key) in DONE:
            return "done elsewhere"
        written = apply(store, outcome.actions)
        note = f"{screened.action}: {screened.reason}" + (f"; {outcome.note}" if outcome.note else "")
        store.queue.finish(key, "processed", note, now)
    report.written += written
    return "processed"


def run(store: Store, step: Step, params: PipelineParams = PipelineParams(), *, flush: bool = True,
        now: Callable[[], datetime] = utcnow, on_segment: Callable[[str, str], None] | None = None) -> RunReport:
    """Process until nothing is pending or due: what a `tacit process` run or a daemon tick does."""
    report = RunReport()
    while True:
        take_pending(store, params.segment, now(), flush)
        due = [k for k in store.queue.due(now()) if k not in report.segments]
        if not due:
            return report
        for key in due:
            state = process(store, key, step, params, now(), report)
            report.segments[key] = state
            if on_segment:
                on_segment(key, state)

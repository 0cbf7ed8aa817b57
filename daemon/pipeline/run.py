"""Run: the model steps for one segment (propose → retrieve → revise → audit), and a whole pass.

`Pipeline.step` is the `queue.Step` that `queue.run` calls for each
screened segment: it returns an `Outcome` and writes nothing itself, so a
crash or a kill anywhere in it leaves the segment to be redone. Each
phase's time and model calls are counted per segment, for `tacit process`
and bench/pipeline.py.

`process` is one pass: every pending observation through the queue, then
the stats propositions measured again (stats.py), because the
observations just processed changed them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, utcnow
from tacitd.memory.vectors import Vector
from tacitd.models.llm import LLM
from tacitd.models.prompts import EXAMPLE_ANSWER

from . import queue, stats
from .audit import AuditDecision, AuditParams, audit
from .propose import Dropped, Proposals, like_example, propose, session_text
from .queue import Outcome, PipelineParams, RunReport
from .revise import Decision, Embed, ReviseParams, cosine, revise
from .screen import Screened

Propose = Callable[[LLM, Screened, str], Proposals]
Audit = Callable[[LLM, Proposition, AuditParams], AuditDecision]


@dataclass
class SegmentTiming:
    key: str
    action: str  # the screen's decision
    propose_s: float = 0.0
    revise_s: float = 0.0
    audit_s: float = 0.0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    drafts: int = 0


@dataclass
class Learned:
    """What a pass learned, for the CLI report: decisions per draft and drafts the audit held back."""

    decisions: list[tuple[str, Decision]] = field(default_factory=list)  # (segment key, decision)
    audited_out: list[tuple[str, str, str]] = field(default_factory=list)  # (segment key, draft text, reason)
    dropped: list[tuple[str, Dropped]] = field(default_factory=list)  # drafts propose filtered out
    timings: list[SegmentTiming] = field(default_factory=list)


@dataclass
class Pipeline:
    """The model side of the pipeline; `step` is what the queue calls per segment."""

    store: Store
    llm: LLM
    embed: Embed | None
    user: str = "the user"
    propose: Propose = propose
    audit: Audit = audit
    audit_params: AuditParams = AuditParams()
    revise_params: ReviseParams = ReviseParams()
    # News only read: the default model still wrote "Sam read a news article about markets" with the
    # prompt told it was merely seen; so by default no call is spent on it (stats still count its time).
    propose_low_information: bool = False
    learned: Learned = field(default_factory=Learned)
    _examples: list[tuple[str, Vector]] | None = field(default=None, init=False, repr=False)

    def drop_example_like(self, proposals: Proposals, observations: Sequence[Observation],
                          embed: Embed | None = None) -> Proposals:
        """Drafts that say what a worked example says, by meaning (propose.like_example); needs the embedder."""
        embed = embed or self.embed
        if embed is None or not proposals.propositions:
            return proposals
        if self._examples is None:
            self._examples = [(d.text, v) for d in EXAMPLE_ANSWER.propositions if (v := embed(d.text)) is not None]
        # what the model was shown (a stand-in propose may not say)
        session, kept = proposals.session or session_text(observations, self.user)[0], []
        for p in proposals.propositions:
            vector = embed(p.text)
            similar = [] if vector is None else [(text, cosine(vector, v)) for text, v in self._examples]
            if like_example(p.text, session, similar):
                proposals.dropped.append(Dropped(p.text, "copies the worked example (by meaning)"))
            else:
                kept.append(p)
        proposals.propositions = kept
        return proposals

    def step(self, screened: Screened) -> Outcome:
        seg = screened.segment
        timing = SegmentTiming(seg.key, screened.action)
        self.learned.timings.append(timing)
        if screened.action == "low_information" and not self.propose_low_information:
            return Outcome(note="low information: not sent to the model")
        calls_before = len(self.llm.usage.calls)
        t0 = time.perf_counter()
        # each draft is embedded once, for the example check and for revise
        embed = functools.lru_cache(maxsize=None)(self.embed) if self.embed is not None else None
        proposals = self.drop_example_like(self.propose(self.llm, screened, self.user), seg.observations, embed)
        drafts = proposals.propositions
        self.learned.dropped += [(seg.key, d) for d in proposals.dropped]
        t1 = time.perf_counter()
        kept, notes = [], []
        if proposals.neutralised:  # injection.py: the segment gave orders to an AI
            notes.append(f"withheld from the model: {proposals.neutralised} text(s) addressing an AI")
        for d in drafts:
            verdict = self.audit(self.llm, d, self.audit_params)
            if verdict.keep:
                kept.append(d)
            else:
                self.learned.audited_out.append((seg.key, d.text, verdict.reason))
            if verdict.categories or not verdict.keep:
                notes.append(verdict.note)
        t2 = time.perf_counter()
        evidence = [o.id for o in seg.observations if o.id is not None and o.text.strip()] or seg.observation_ids
        result = revise(self.store, self.llm, kept, evidence, embed, seg.started_at, self.revise_params)
        t3 = time.perf_counter()
        timing.propose_s, timing.audit_s, timing.revise_s = t1 - t0, t2 - t1, t3 - t2
        timing.drafts = len(drafts)
        calls = self.llm.usage.calls[calls_before:]
        timing.llm_calls = len(calls)
        timing.prompt_tokens = sum(c.prompt_tokens for c in calls)
        timing.completion_tokens = sum(c.completion_tokens for c in calls)
        self.learned.decisions += [(seg.key, d) for d in result.decisions]
        summary = ", ".join(f"{d.relation}{' (rejected before)' if d.blocked else ''}" for d in result.decisions)
        note = f"{len(drafts)} draft(s): {summary}" if drafts else "no drafts"
        return Outcome(actions=result.actions, note="; ".join([note, *notes]))


@dataclass
class PassReport:
    run: RunReport
    learned: Learned
    stats: stats.StatsReport
    seconds: float

    def summary(self) -> dict[str, Any]:
        timings = self.learned.timings
        return {
            **self.run.summary(),
            "llm_calls": sum(t.llm_calls for t in timings),
            "seconds": round(self.seconds, 2),
            "propose_s": round(sum(t.propose_s for t in timings), 2),
            "revise_s": round(sum(t.revise_s for t in timings), 2),
            "audit_s": round(sum(t.audit_s for t in timings), 2),
            "drafts_dropped": len(self.learned.dropped),
            "stats_added": len(self.stats.added),
            "stats_revised": len(self.stats.revised),
        }


def process(pipeline: Pipeline, params: PipelineParams = PipelineParams(), *, once: bool = False,
            tz: tzinfo | None = None, now: Callable[[], datetime] = utcnow,
            on_segment: Callable[[str, str], None] | None = None) -> PassReport:
    """Run the queue until nothing is pending or due (`once`: one pass, retries left for later), then stats."""
    start = time.perf_counter()
    run = queue.run(pipeline.store, pipeline.step, params, now=now, on_segment=on_segment)
    while not once and _pending(pipeline.store):
        more = queue.run(pipeline.store, pipeline.step, params, now=now, on_segment=on_segment)
        if not more.segments:
            break
        run.segments.update(more.segments)
        run.written += more.written
    report = stats.update(pipeline.store, pipeline.user, tz, embed=pipeline.embed, now=now())
    return PassReport(run, pipeline.learned, report, time.perf_counter() - start)


def _pending(store: Store) -> bool:
    return store.queue.counts()["pending"] > 0


def believed(store: Store, limit: int = 50) -> list[tuple[Proposition, list[Observation]]]:
    """What tacit now believes (current propositions, most confident first), each with its evidence."""
    props = sorted(store.recent(limit), key=lambda p: (-p.confidence, p.id or 0))
    return [(p, store.evidence_for(p.id or 0, limit=5)) for p in props]


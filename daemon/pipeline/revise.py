"""Revise: each draft against what tacit already believes, decided as identical, refines, contradicts or unrelated.

For a draft, hybrid retrieval (memory/retrieve.py) finds related existing
propositions: current ones, and rejected ones, so that a claim the user
turned down is recognised when the model proposes it again. Stats
propositions are left out: they are measured, not proposed, and stats.py
revises them itself. Then, by the cosine between the draft's vector and the
closest candidate's:

- at or above `identical_at`, when the words that differ carry nothing
  specific (no name, number or negation): the same claim in other words,
  decided without a model call;
- between `related_at` and `identical_at`, or above it with a specific
  difference: the model decides, with a schema (`Relation`), on that one
  candidate: one call per draft at most;
- below `related_at`: unrelated, without a call.

Calibrated on all-MiniLM-L6-v2 (the default embedder; tests/test_revise.py
holds the pairs): paraphrases score 0.94-0.97 and unrelated claims about
the same user 0.25-0.32, but "a trip to Osaka in March" against "... in
April" scores 0.94 too, and a refinement that adds a detail can score
0.56. Cosine alone cannot tell a paraphrase from a changed date, hence the
check on the differing words; and the band is wide, because a model call
per related draft is cheaper than a wrong merge.

The decision becomes one of the queue's actions (queue.py), written in
the transaction that finishes the segment:
- identical: `Link` the new evidence; when the new support (another
  session, another day) raises the confidence computed from evidence
  (confidence.py), a `Revise` with only the new confidence instead, so the
  old level stays in the history;
- refines: `Revise` with the new text: a new version, the old one closed;
- contradicts: `Revise` as well: the old claim is superseded (status
  `superseded`, `valid_to` set) and the new text starts with the prior of
  its one session and carries only this segment's evidence, because the
  old claim's support does not back it (the old version keeps its own);
- unrelated: `Add` with the single-session prior;
- a draft that is identical to, or refines, a rejected proposition is not
  stored: the user said no to that claim (nor one the model calls a
  contradiction while it stays close to it, see `blocks`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

import numpy as np
from pydantic import BaseModel, Field

from tacitd.memory import retrieve
from tacitd.memory.store import Store
from tacitd.memory.types import Proposition, SearchFilters, Support
from tacitd.memory.vectors import Vector
from tacitd.models.llm import LLM

from ..timespec import utc_offset_minutes
from .confidence import ConfidenceParams, confidence
from .queue import Action, Add, Link, Revise

RelationKind = Literal["identical", "refines", "contradicts", "unrelated"]
Embed = Callable[[str], Vector | None]


class Relation(BaseModel):
    """The model's answer for one (existing, new) pair: three yes/no questions, the relation follows.

    A 1.5B model asked to pick a label called a switch of editor "refines";
    asked whether both statements can be true at once, it says no. The
    reason comes first so that the answers follow from it.
    """

    reason: str = Field(min_length=3, max_length=200)
    same_subject: bool = Field(description="both are about the same activity, tool, plan or trait")
    both_true_now: bool = Field(description="both can be true at the same time")
    new_adds_detail: bool = Field(description="the new statement says something the existing one does not")

    @property
    def relation(self) -> RelationKind:
        if not self.same_subject:
            return "unrelated"
        if not self.both_true_now:
            return "contradicts"
        return "refines" if self.new_adds_detail else "identical"


@dataclass(frozen=True)
class ReviseParams:
    identical_at: float = 0.9  # cosine at or above (and nothing specific differs): the same claim, no model call
    related_at: float = 0.5  # cosine below: unrelated, no model call
    # This close to a rejected claim, a "contradiction" is blocked too (see blocks): the default model called
    # "Sam opens train_lora.py in the editor" a contradiction of the rejected "Sam writes code to finetune
    # LoRA models in train_lora.py" (0.77); both are the activity the user said was not theirs.
    rejected_block_at: float = 0.7
    # Two drafts of one segment this close are one claim said twice ("planning a trip to Osaka" / "looking for
    # flights to Osaka": 0.82); different aspects of one activity stay apart ("... Osaka in March" / "booking
    # a ryokan in Kyoto": 0.62; "writing a grant proposal" / "has a grant deadline on 1 December": 0.53).
    same_segment_at: float = 0.7
    candidates: int = 5  # retrieved per draft
    max_tokens: int = 160
    confidence: ConfidenceParams = ConfidenceParams()

    def __post_init__(self) -> None:
        if not -1 <= self.related_at <= self.identical_at <= 1:
            raise ValueError("revise: need -1 <= related_at <= identical_at <= 1")
        if not -1 <= self.same_segment_at <= 1:
            raise ValueError("revise: need -1 <= same_segment_at <= 1")


@dataclass(frozen=True)
class Decision:
    """What was decided for one draft, and how (kept for the report and the bench)."""

    draft: Proposition
    relation: RelationKind
    by: Literal["embedding", "model", "batch"]
    target: Proposition | None = None
    similarity: float | None = None
    reason: str = ""
    blocked: bool = False  # a rejected claim coming back: not stored


@dataclass
class Revised:
    actions: list[Action] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    llm_calls: int = 0


SYSTEM = (
    "You compare an existing statement about a user with a new one. Answer three questions: are both about "
    "the same subject (activity, tool, plan or trait)? Can both be true at the same time? Does the new one say "
    "something the existing one does not? Give a short reason first."
)
EXAMPLES = (
    ("Existing: Sam uses Vim to write Python\nNew: Sam now writes Python in VS Code",
     Relation(reason="Sam switched editors: from Vim to VS Code",
              same_subject=True, both_true_now=False, new_adds_detail=True)),
    ("Existing: Sam is planning a trip to Japan\nNew: Sam is booking flights to Osaka for March",
     Relation(reason="the same trip, now with the city and the month", same_subject=True, both_true_now=True,
              new_adds_detail=True)),
)


def relation_messages(existing: str, new: str) -> list[dict[str, str]]:
    """The prompt for the middle band: two worked examples (a change and a detail), then the pair."""
    shots = [m for pair, answer in EXAMPLES for m in (
        {"role": "user", "content": pair}, {"role": "assistant", "content": answer.model_dump_json()})]
    return [{"role": "system", "content": SYSTEM}, *shots, {"role": "user", "content": f"Existing: {existing}\nNew: {new}"}]


SPECIFIC_WORDS = frozenset({"no", "not", "never", "longer", "stopped", "quit", "instead", "anymore", "nor",
                            "without", "isn", "doesn", "didn", "won", "hasn", "aren", "wasn"})


def specific_difference(a: str, b: str) -> frozenset[str]:
    """Words in one text and not the other that change its meaning: names, numbers, negations.

    A capitalised word counts unless it starts the text; so do words with digits.
    """
    def specific(text: str) -> set[str]:
        words = re.findall(r"[\w'’:.-]*\w", text)
        return {w.lower() for i, w in enumerate(words)
                if any(c.isdigit() for c in w) or (i > 0 and w[0].isupper()) or w.lower() in SPECIFIC_WORDS}

    def plain(text: str) -> set[str]:
        return {w.lower() for w in re.findall(r"[\w'’:.-]*\w", text)}

    return frozenset((specific(a) - plain(b)) | (specific(b) - plain(a)))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denom) if denom else 0.0


def related(store: Store, draft: Proposition, embedding: Vector | None,
            params: ReviseParams) -> list[tuple[Proposition, float]]:
    """Current and rejected non-stats propositions near the draft, with their similarity, closest first.

    The similarity is the cosine to the draft; without vectors, the lexical
    match quality (the share of the draft's terms the candidate holds).
    """
    filters = SearchFilters(status=("current", "rejected"), source=("llm", "user"))
    hits = retrieve.search(store, draft.text, embedding=None if embedding is None else np.asarray(embedding),
                           limit=params.candidates, filters=filters,
                           params=retrieve.RetrievalParams(time_weight=0, evidence_snippets=0))
    scored = [(h.proposition, h.parts.similarity if h.parts.similarity is not None else h.parts.lexical)
              for h in hits]
    return sorted(scored, key=lambda x: -x[1])


def blocks(target: Proposition | None, relation: RelationKind, similarity: float | None,
           params: ReviseParams) -> bool:
    """Whether a draft is a rejected claim coming back, and so is not stored.

    Identical or refining: yes. Contradicting: only when it is far from the
    rejected text, because the default model calls added detail a
    contradiction ("training a reward model" against "... on preference
    pairs": "same task, different details"), and a claim the user turned
    down must not come back by that door.
    """
    if target is None or target.status != "rejected" or relation == "unrelated":
        return False
    return relation != "contradicts" or (similarity or 0) >= params.rejected_block_at


def decide(llm: LLM | None, draft: Proposition, candidates: Sequence[tuple[Proposition, float]],
           params: ReviseParams) -> tuple[Decision, int]:
    """The relation of a draft to its closest candidate, and how many model calls that took."""
    if not candidates or candidates[0][1] < params.related_at:
        best = candidates[0][1] if candidates else None
        return Decision(draft, "unrelated", "embedding", similarity=best, reason="nothing close"), 0
    target, sim = candidates[0]
    differs = specific_difference(target.text, draft.text)
    if sim >= params.identical_at and not differs:
        return Decision(draft, "identical", "embedding", target, sim, f"cosine {sim:.2f}",
                        blocks(target, "identical", sim, params)), 0
    if llm is None:
        return Decision(draft, "unrelated", "embedding", target, sim, "no model to decide the middle band"), 0
    answer = llm.complete_json(relation_messages(target.text, draft.text), Relation, max_tokens=params.max_tokens)
    relation = answer.relation
    return Decision(draft, relation, "model", target, sim, answer.reason, blocks(target, relation, sim, params)), 1


def raised_support(store: Store, target_id: int, when: datetime, session_new: bool = True) -> Support:
    """The target's support once this segment's evidence is linked: one more session, maybe one more day.

    Days are the user's calendar days, as the TUI and `tacit show` count them: in UTC, one evening
    west of Greenwich spans two days and would raise confidence as if seen on two.
    """
    offset = utc_offset_minutes(when)
    support = store.queue.support([target_id], offset)[target_id]
    new_day = not store.queue.seen_on_day(target_id, when, offset)
    return Support(sessions=support.sessions + int(session_new), days=support.days + int(new_day),
                   confirmed=support.confirmed)


def action_for(store: Store, d: Decision, evidence: Sequence[int], embedding: Vector | None, when: datetime,
               params: ReviseParams) -> Action | None:
    """The queue action that carries out a decision; None when nothing is written."""
    one = confidence(d.draft.confidence, Support(sessions=1, days=1), params.confidence)
    if d.blocked:
        return None
    if d.target is None or d.relation == "unrelated" or d.target.status != "current":
        return Add(d.draft.model_copy(update={"confidence": one}), evidence, embedding)
    tid = d.target.id or 0
    if d.target.source == "user" and d.relation in ("refines", "contradicts"):
        # The model never rewrites what the user said about themself (its text would be stored under the
        # user's name): a refinement only adds support, and a contradiction is not stored.
        return Link(tid, evidence) if d.relation == "refines" else None
    if d.relation == "contradicts":
        return Revise(tid, {"text": d.draft.text, "confidence": one, "half_life_days": d.draft.half_life_days,
                            "reasoning": f"{d.draft.reasoning} (replaces: {d.target.text}; {d.reason})"[:8000]},
                      evidence, embedding, inherit_evidence=False)
    support = raised_support(store, tid, when)
    if d.relation == "refines":  # the support carries over; a confirm was of the old text, not of this one
        level = confidence(d.draft.confidence, support.model_copy(update={"confirmed": False}), params.confidence)
        return Revise(tid, {"text": d.draft.text, "reasoning": d.draft.reasoning, "confidence": level},
                      evidence, embedding)
    level = confidence(max(d.draft.confidence, d.target.confidence), support, params.confidence)
    if level > d.target.confidence + 1e-3:
        return Revise(tid, {"confidence": level}, evidence)
    return Link(tid, evidence)


def same_in_segment(drafts: Sequence[Proposition], vectors: Sequence[Vector | None],
                    params: ReviseParams) -> list[int | None]:
    """For each draft, the index of an earlier draft of the segment it repeats (None: it is new).

    One segment is one activity, and a small model often says one thing
    twice in it, in other words ("planning a trip to Osaka", "looking for
    flights to Osaka"), or even word for word. Drafts this close
    (`same_segment_at`) are one claim: the first is kept, and the store is
    searched once, not once per wording. Without vectors, only equal texts match.
    """
    out: list[int | None] = []
    for i, (draft, vector) in enumerate(zip(drafts, vectors, strict=True)):
        match = None
        for j in range(i):
            if out[j] is not None:
                continue
            if " ".join(draft.text.lower().split()) == " ".join(drafts[j].text.lower().split()) or (
                    vector is not None and vectors[j] is not None
                    and cosine(np.asarray(vector), np.asarray(vectors[j])) >= params.same_segment_at):
                match = j
                break
        out.append(match)
    return out


def revise(store: Store, llm: LLM | None, drafts: Sequence[Proposition], evidence: Sequence[int],
           embed: Embed | None, when: datetime, params: ReviseParams = ReviseParams()) -> Revised:
    """Decide each draft against the store, after merging the drafts of this segment that say one thing.

    Nothing is written here: the actions go back to the queue, which applies
    them with the segment's commit. Drafts that repeat an earlier one of the
    segment (same_in_segment) are decided as 'identical' to it, by 'batch',
    and write nothing.
    """
    out = Revised()
    vectors = [embed(d.text) if embed else None for d in drafts]
    touched: set[int] = set()
    for draft, vector, repeats in zip(drafts, vectors, same_in_segment(drafts, vectors, params), strict=True):
        if repeats is not None:
            out.decisions.append(Decision(draft, "identical", "batch", reason=f"repeats: {drafts[repeats].text}"))
            continue
        decision, calls = decide(llm, draft, related(store, draft, vector, params), params)
        out.llm_calls += calls
        out.decisions.append(decision)
        action = action_for(store, decision, evidence, vector, when, params)
        if action is None:
            continue
        target = getattr(action, "proposition_id", None)
        if target in touched:  # a second change to one proposition: keep the first
            continue
        if target is not None:
            touched.add(target)
        out.actions.append(action)
    return out

"""Propose: one app session of observations in, draft propositions out.

The first step of the pipeline (DESIGN.md). The session is laid out as short
lines, capped, and fenced by the prompt; drafts that copy the worked example
are dropped. A SchemaError from the model propagates with its raw output so
the caller can quarantine it.
"""

from __future__ import annotations

from collections.abc import Sequence

from tacitd.memory.types import Observation, Proposition
from tacitd.models.llm import LLM
from tacitd.models.prompts import Drafts, copies_example, propose_messages

MAX_SESSION_CHARS = 1800


def session_text(observations: Sequence[Observation]) -> str:
    lines = []
    for o in observations:
        parts = [f"app: {o.app or o.observer}"]
        if o.window_title:
            parts.append(f"window: {o.window_title}")
        if o.duration_s:
            parts.append(f"{o.duration_s / 60:.0f} min")
        if o.text:
            parts.append("text: " + " ".join(o.text.split())[:400])
        lines.append(" | ".join(parts))
    return "\n".join(lines)[:MAX_SESSION_CHARS]


def propose(llm: LLM, observations: Sequence[Observation], user_name: str = "the user") -> list[Proposition]:
    drafts = llm.complete_json(propose_messages(session_text(observations), user_name), Drafts, max_tokens=320)
    start = min(o.captured_at for o in observations)
    return [
        Proposition(text=d.text, reasoning=d.reasoning, confidence=d.confidence, half_life_days=d.half_life_days,
                    source="llm", valid_from=start)
        for d in drafts.propositions
        if not copies_example(d.text)
    ]

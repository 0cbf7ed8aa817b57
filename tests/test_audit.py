"""Audit: a cheap screen for every draft; sensitive ones need the model's contextual-integrity check."""

from __future__ import annotations

import pytest

from tacitd.daemon.pipeline.audit import AuditParams, audit, sensitive_categories
from tacitd.memory.types import Proposition
from tacitd.models.errors import SchemaError
from tacitd.models.llm import Usage
from tacitd.models.prompts import IntegrityCheck, output_budget


def draft(text: str, reasoning: str = "seen in the session") -> Proposition:
    return Proposition(text=text, reasoning=reasoning, confidence=0.5)


class StandIn:
    """Answers the integrity check with a fixed verdict, or fails like a model whose output broke the schema."""

    name = "stand-in"

    def __init__(self, keep: bool = True, fail: bool = False):
        self.keep, self.fail, self.usage, self.calls = keep, fail, Usage(), []

    def complete_json(self, prompt, schema, *, max_tokens=512):
        self.calls.append((prompt, schema, max_tokens))
        if self.fail:
            raise SchemaError("stand-in: output did not fit IntegrityCheck", raw="{", prompt=prompt)
        return IntegrityCheck(context="a news page the user read", reason="inferred from content only seen",
                              guesses_private_trait=not self.keep, own_work_or_plan=self.keep)


@pytest.mark.parametrize(("text", "expected"), [
    ("Sam is researching ADHD medication side effects", ("health",)),
    ("Sam attends Friday prayers at the mosque", ("religion",)),
    ("Sam uses a dating app in the evenings", ("sexuality",)),
    ("Sam is interested in the county elections", ("politics",)),
    ("Sam is behind on the mortgage payments", ("finances",)),
    ("Sam's colleague Priya is going through a divorce", ("other people's private lives",)),
    ("Sam investigates a memory leak in the updating service", ()),
    ("Sam writes the syntax highlighter for the healthcheck endpoint", ()),
])
def test_the_cheap_screen_names_sensitive_categories(text, expected):
    assert sensitive_categories(text) == expected


def test_a_draft_that_touches_nothing_sensitive_is_kept_without_a_model_call():
    llm = StandIn(keep=False)
    decision = audit(llm, draft("Sam is fine-tuning a language model with LoRA"))
    assert decision.keep and decision.checked_by == "screen" and llm.calls == []
    assert decision.note == "audit (screen): kept: no sensitive category"


@pytest.mark.parametrize("keep", [True, False])
def test_a_sensitive_draft_follows_the_integrity_check_and_records_its_reason(keep):
    llm = StandIn(keep=keep)
    decision = audit(llm, draft("Sam is interested in the county elections", "BBC politics page"))
    assert decision.keep is keep and decision.checked_by == "llm" and decision.categories == ("politics",)
    assert "inferred from content only seen" in decision.reason and "a news page" in decision.reason
    [(prompt, schema, max_tokens)] = llm.calls
    assert schema is IntegrityCheck and max_tokens == output_budget(IntegrityCheck)
    assert "county elections" in prompt[-1]["content"] and "BBC politics page" in prompt[-1]["content"]


def test_a_failed_check_holds_the_draft_back():
    decision = audit(StandIn(fail=True), draft("Sam is behind on the mortgage payments"))
    assert not decision.keep and "check failed" in decision.reason and decision.categories == ("finances",)


def test_without_a_model_check_sensitive_drafts_are_held_back():
    llm = StandIn(keep=True)
    for model, params in ((llm, AuditParams(llm_check=False)), (None, AuditParams())):
        decision = audit(model, draft("Sam attends Friday prayers at the mosque"), params)
        assert not decision.keep and decision.checked_by == "screen"
    assert llm.calls == []


def test_switched_off_it_keeps_everything_and_still_says_what_it_touched():
    llm = StandIn(keep=False)
    decision = audit(llm, draft("Sam is behind on the mortgage payments"), AuditParams(enabled=False))
    assert decision.keep and decision.checked_by == "off" and llm.calls == []
    assert decision.note == "audit (off): kept: audit switched off (touches finances)"


# -- with the real default model ---------------------------------------------------------------------------


def test_real_model_holds_back_a_health_guess_and_the_segment_records_why(store, qwen):
    """A draft inferring a health condition from a page the user read goes to the model's integrity check;
    the check's verdict and reason are kept with the segment, and a held-back draft is not stored."""
    from pipeline_helpers import add_records, frame

    from tacitd.daemon.pipeline.propose import Proposals
    from tacitd.daemon.pipeline.run import Pipeline, process

    guess = draft("Sam may be suffering from depression",
                  "Sam read an NHS page that lists the symptoms of depression for 20 minutes")
    add_records(store, [frame(0, "firefox", "Depression: symptoms — NHS", "Symptoms of depression include "
                              "feeling low for two weeks or more", url="https://www.nhs.uk/mental-health/depression")])
    pipeline = Pipeline(store, qwen, None, user="Sam", propose=lambda llm, screened, user: Proposals([guess]))
    process(pipeline, once=True)
    [(key, text, reason)] = pipeline.learned.audited_out
    assert text == guess.text and reason.startswith("touches health; ") and len(reason) > len("touches health; ") + 10
    assert [p for p in store.recent(10) if p.source == "llm"] == []
    [note] = [r[0] for r in store.queue.conn.execute("SELECT note FROM segments WHERE key = ?", [key])]
    assert "audit (llm): held back: touches health; " in note, note


def test_real_model_keeps_a_sensitive_topic_of_the_users_own_work(qwen):
    """The same check does not hold back everything: a health topic in a document the user writes is kept."""
    decision = audit(qwen, draft("Sam is writing a grant proposal for a diabetes clinic study",
                                 "Sam edits 'Clinic study proposal.docx' in Word"))
    assert decision.keep and decision.checked_by == "llm" and decision.categories == ("health",), decision.reason

"""Propose: a session of observations becomes draft propositions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher

from tacitd.daemon.propose import propose, session_text
from tacitd.memory.types import Observation
from tacitd.models.llm import Usage
from tacitd.models.prompts import Draft, Drafts

START = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SESSION = [
    Observation(observer="window", app="code", window_title="train_lora.py — finetune", duration_s=2400,
                text="from peft import LoraConfig, get_peft_model\nmodel = AutoModelForCausalLM.from_pretrained",
                captured_at=START),
    Observation(observer="screen", app="firefox", window_title="LoRA — PEFT documentation",
                text="LoRA reduces the number of trainable parameters", captured_at=START + timedelta(minutes=40)),
    Observation(observer="window", app="kitty", window_title="nvidia-smi", duration_s=300,
                text="GPU 0 21GiB / 24GiB python train_lora.py", captured_at=START + timedelta(minutes=45)),
]


class StandIn:
    """Returns fixed drafts: for the pipeline logic only, not for the model."""

    name = "stand-in"

    def __init__(self, drafts: Drafts):
        self.drafts, self.usage, self.seen = drafts, Usage(), None

    def complete_json(self, prompt, schema, *, max_tokens=512):
        self.seen = prompt
        return self.drafts


def test_session_is_fenced_and_capped():
    stand_in = StandIn(Drafts(propositions=[Draft(text="Sam fine-tunes models with LoRA",
                                                  reasoning="train_lora.py", confidence=0.7, half_life_days=14)]))
    props = propose(stand_in, SESSION, user_name="Sam")
    last = stand_in.seen[-1]["content"]
    assert last.startswith("<activity>\n") and "</activity>" in last and "train_lora.py" in last
    assert [p.text for p in props] == ["Sam fine-tunes models with LoRA"]
    assert props[0].valid_from == START and props[0].source == "llm"
    long = [Observation(observer="push", text="x" * 50_000)]
    assert len(session_text(long)) <= 1800


def test_claims_copied_from_the_worked_example_are_dropped():
    stand_in = StandIn(Drafts(propositions=[
        Draft(text="Alex is writing a thesis on urban heat islands", reasoning="copied", confidence=0.9,
              half_life_days=60),
        Draft(text="Sam monitors GPU memory while training", reasoning="nvidia-smi", confidence=0.6,
              half_life_days=14),
    ]))
    assert [p.text for p in propose(stand_in, SESSION)] == ["Sam monitors GPU memory while training"]


def longest_shared_run(a: str, b: str) -> int:
    match = SequenceMatcher(None, a.lower(), b.lower(), autojunk=False)
    return match.find_longest_match(0, len(a), 0, len(b)).size


def test_default_model_proposes_specific_claims_about_the_session(qwen):
    """Claims about Sam, on the session's topic, in the model's own words: an echo of the input fails."""
    props = propose(qwen, SESSION, user_name="Sam")
    assert props, "the default model should propose at least one claim"
    seen = session_text(SESSION)
    for p in props:
        assert p.text.startswith("Sam "), p.text
        assert longest_shared_run(p.text, seen) < 25, f"copied from the screen: {p.text}"
    text = " ".join(p.text.lower() for p in props)
    assert any(word in text for word in ("lora", "fine-tun", "peft", "train", "gpu"))
    assert all(0 <= p.confidence <= 1 and p.half_life_days in (3, 14, 60, 365) for p in props)

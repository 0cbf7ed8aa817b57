"""Shared by the pipeline tests: a day of activity, and a stand-in step that needs no model.

The stand-in is for the queue, crash, retry and quarantine logic only; what
the model proposes is tested with the real model elsewhere.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from tacitd.daemon.pipeline.queue import Add, Outcome, enqueue
from tacitd.daemon.pipeline.screen import Screened
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition

DAY1 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def frame(minute: float, app: str, title: str, text: str, start: datetime = DAY1, **fields: Any) -> dict[str, Any]:
    return {"observer": "screen", "app": app, "window_title": title, "text": text,
            "captured_at": (start + timedelta(minutes=minute)).isoformat(), **fields}


def workday(start: datetime = DAY1) -> list[dict[str, Any]]:
    """Three activities a few minutes apart, each a separate segment: code, docs, a terminal."""
    return [
        frame(0, "code", "train_lora.py — finetune", "from peft import LoraConfig", start),
        frame(2, "code", "train_lora.py — finetune", "model = get_peft_model(model, config)", start),
        frame(4, "firefox", "LoRA — PEFT documentation", "LoRA reduces the number of trainable parameters",
              start, url="https://huggingface.co/docs/peft"),
        frame(6, "firefox", "LoRA — PEFT documentation", "r is the rank of the update matrices", start,
              url="https://huggingface.co/docs/peft"),
        frame(8, "kitty", "nvidia-smi", "GPU 0 21GiB / 24GiB python train_lora.py", start),
    ]


def add_records(store: Store, records: list[dict[str, Any]]) -> list[int]:
    """Store and queue records as `tacit ingest` would (no privacy filter: the tests' text is clean)."""
    observations = [Observation.model_validate(r) for r in records]
    return enqueue(store, observations)


def learn_one_per_segment(screened: Screened) -> Outcome:
    """One proposition per segment, named after its key, with the segment's observations as evidence."""
    s = screened.segment
    return Outcome([Add(Proposition(text=f"learned from segment {s.key}", confidence=0.5), s.observation_ids)])


def jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def failing(exc: Exception) -> Callable[[Screened], Outcome]:
    calls: list[str] = []

    def step(screened: Screened) -> Outcome:
        calls.append(screened.segment.key)
        raise exc

    step.calls = calls  # type: ignore[attr-defined]
    return step

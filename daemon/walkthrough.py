"""A guided tour of the memory layer on sample data, in a throwaway database.

This is the "main job" until the daemon and the model layer land: it shows
observations becoming evidence, propositions being revised (history kept),
confirmed, rejected, and found again by hybrid retrieval.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from tacitd.memory import retrieve
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, utcnow

from . import render
from .config import Settings
from .pipeline.propose import propose
from .pipeline.screen import screen
from .pipeline.segment import SegmentParams, build_segment

SAMPLE_OBSERVATIONS = [
    ("window", "code", "train_lora.py — finetune", "import torch; from peft import LoraConfig"),
    ("screen", "firefox", "PyTorch docs — torch.optim.AdamW", "AdamW optimizer weight decay"),
    ("window", "kitty", "nvidia-smi", "GPU 0: 21GiB / 24GiB used, python train_lora.py"),
    ("screen", "firefox", "Lisbon flights — Skyscanner", "Return flights to Lisbon, 14–21 March"),
    ("window", "obsidian", "Running log", "Tempo run 8 km, 4:55/km; long run Sunday"),
]

SAMPLE_PROPOSITIONS = [
    ("Sam is fine-tuning a language model with LoRA in PyTorch", 0.8, 30, [0, 1, 2]),
    ("Sam is planning a trip to Lisbon in March", 0.6, 14, [3]),
    ("Sam trains for running and logs workouts in Obsidian", 0.7, 90, [4]),
    ("Sam prefers Firefox as a browser", 0.5, 180, [1, 3]),
]


def run(settings: Settings | None = None) -> None:
    """Runs in its own temporary database so the user's memory is untouched.

    With `settings`, step 6 has the configured (default: bundled) LLM propose
    from one sample session; without, the model step is skipped.
    """
    console = render.console
    with tempfile.TemporaryDirectory(prefix="tacit-walkthrough-") as tmp, Store(Path(tmp) / "tacit.db") as store:
        console.rule("[bold]tacit walkthrough[/bold]: the memory store and hybrid retrieval")
        console.print(f"(a throwaway database at {store.path}; your own memory is not touched)\n")
        start = utcnow() - timedelta(hours=3)
        observations = store.add_observations(
            Observation(observer=o, app=a, window_title=t, text=x, captured_at=start + timedelta(minutes=20 * i))
            for i, (o, a, t, x) in enumerate(SAMPLE_OBSERVATIONS)
        )
        console.print(f"1. Stored {len(observations)} observations (what tacit saw, with capture times).")
        props = [
            store.add_proposition(
                Proposition(text=text, confidence=conf, half_life_days=hl, source="llm",
                            reasoning="sample evidence"),
                evidence=[observations[i].id for i in ev],
            )
            for text, conf, hl, ev in SAMPLE_PROPOSITIONS
        ]
        render.propositions(props, "2. Propositions inferred from them")

        revised = store.revise(props[1].id, text="Sam is flying to Lisbon on 14 March", confidence=0.75)
        console.print("\n3. New evidence refines a claim: a new version, the old one closed, nothing lost.")
        render.propositions(store.history(revised.id), f"History of #{revised.id}")

        store.confirm(props[0].id, note="yes, that's my weekend project")
        store.reject(props[3].id, note="I use Chromium mostly")
        console.print("\n4. You confirmed #%d (confidence → 1) and rejected #%d (kept, never re-proposed)."
                      % (props[0].id, props[3].id))

        for question in ("fine-tuning a language model", "Lisbon trip"):
            console.print(f"\n5. Query: [bold]{question!r}[/bold]")
            render.hits(retrieve.search(store, question, limit=3), question)
        if settings is not None:
            _model_step(store, observations[:3], settings)
        console.rule("done — try `tacit add`, `tacit query`, `tacit --help`")


def _model_step(store: Store, session: list[Observation], settings: Settings) -> None:
    from .backends import build_llm

    console = render.console
    llm = build_llm(settings.models)
    console.print(f"\n6. The local model ({llm.name}) reads one app session and proposes:")
    with console.status("thinking (10–30 s on 2 CPU cores)…"):
        drafts = propose(llm, screen(build_segment(session, SegmentParams())), user_name="Sam").propositions
    stored = store.add_propositions((d, [o.id for o in session], None) for d in drafts)
    render.propositions([store.get(pid) for pid in stored], "Proposed by the model, with the session as evidence")
    totals = llm.usage.totals()
    console.print(f"[dim]{totals['prompt_tokens']} prompt + {totals['completion_tokens']} generated tokens "
                  f"in {totals['seconds']:.1f} s[/dim]")

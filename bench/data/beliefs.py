"""Seeded beliefs for the TUI's tests and bench/tui.py: any number of varied propositions with evidence.

Deterministic for a given `n` and `now`. The first few are named facts the
tests look for (FACTS); the rest are generated from templates, with sources,
confidences and ages spread out so that sorting and filtering have work to do.
Every age is a whole number of hours and a half, so an age shown as `3h`,
`5d` or `2w` stays the same for half an hour (snapshot tests rely on it).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition
from tacitd.models.embed import Embedder

# (text, source, confidence, app, window title, screen text)
FACTS = [
    ("Sam is fine-tuning a language model with PyTorch and LoRA adapters", "llm", 0.82, "code",
     "train_lora.py — Visual Studio Code", "trainer = Trainer(model, peft_config=LoraConfig(r=16))"),
    ("Sam plans a trip to Lisbon in March", "llm", 0.55, "firefox",
     "Flights to Lisbon — Mozilla Firefox", "Return flights Berlin to Lisbon, 14 March, 2 adults"),
    ("Sam prefers dark mode in every editor", "user", 1.0, None, None, None),
    ("Sam spends most mornings in Visual Studio Code", "stats", 0.9, "code",
     "tacit — Visual Studio Code", "def search(store, text, limit=10):"),
    ("Sam reviews pull requests for the tacit project on GitHub", "llm", 0.64, "firefox",
     "Pull request #42 · tacit — Mozilla Firefox", "Review requested: fix inverted half-life decay"),
]

_SUBJECTS = ["Rust", "PyTorch", "SQLite", "Kubernetes", "the garden", "Spanish lessons", "a bike repair", "tax forms",
             "a piano piece", "the quarterly report", "sourdough", "a chess opening", "Linux audio", "a podcast"]
_TEMPLATES = ["Sam is learning {s} (note {i})", "Sam often reads about {s} in the evening (note {i})",
              "Sam keeps a checklist for {s} (note {i})", "Sam asked colleagues about {s} (note {i})",
              "Sam watches videos on {s} at weekends (note {i})"]
_APPS = [("code", "main.rs — Visual Studio Code"), ("firefox", "Search results — Mozilla Firefox"),
         ("slack", "#general — Slack"), ("terminal", "sam@laptop: ~/src"), ("evince", "notes.pdf — Document Viewer")]


def seed(store: Store, n: int, now: datetime | None = None, embedder: Embedder | None = None) -> list[int]:
    """Add `n` current propositions (the FACTS first) with evidence; returns their ids in order.

    With `embedder` (the one the daemon will use) each gets its vector, so search finds them by meaning too.
    """
    now = now or datetime.now(UTC)
    rng = random.Random(n)
    # Shared evidence is seen around a past noon, whole days apart, so how many days support a belief
    # does not depend on the hour the seed runs at (a snapshot test failed after 11:00 UTC).
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0) - timedelta(days=1)
    observations = store.add_observations(
        Observation(observer="screen", app=app, window_title=title, text=f"{title}: page {k}",
                    captured_at=noon - timedelta(days=k * 7 % 1400 // 24, minutes=k % 60), duration_s=30.0)
        for k, (app, title) in ((k, _APPS[k % len(_APPS)]) for k in range(max(10, min(n, 500)))))
    items = []
    for i in range(n):
        if i < len(FACTS):
            text, source, confidence, app, title, screen = FACTS[i]
            updated = now - timedelta(hours=2 + i, minutes=30)
            evidence = [] if app is None else [o.id for o in store.add_observations([Observation(
                observer="screen", app=app, window_title=title, text=screen, captured_at=updated - timedelta(hours=1),
                duration_s=120.0)])]
        else:
            text = rng.choice(_TEMPLATES).format(s=rng.choice(_SUBJECTS), i=i)
            source = rng.choices(["llm", "stats", "user"], weights=[7, 2, 1])[0]
            confidence = round(rng.uniform(0.2, 0.95), 2)
            updated = now - timedelta(hours=rng.randrange(24 * 60), minutes=30)
            evidence = [o.id for o in rng.sample(observations, rng.randint(1, 3))] if source != "user" else []
        reasoning = ("You said so." if source == "user" else
                     f"Seen on screen in {app}: {title}." if i < len(FACTS) else "Inferred from repeated activity.")
        p = Proposition(text=text, confidence=confidence, source=source, reasoning=reasoning,
                        valid_from=updated - timedelta(days=1), created_at=updated, updated_at=updated,
                        half_life_days=30.0 if source == "llm" else 180.0)
        items.append((p, [e for e in evidence if e is not None], None))
    if embedder is not None:
        store.ensure_vector_index(embedder.name, embedder.dim)
        vectors = embedder.embed([p.text for p, _, _ in items])  # it batches itself
        items = [(p, ev, v) for (p, ev, _), v in zip(items, vectors, strict=True)]
    return store.add_propositions(items)

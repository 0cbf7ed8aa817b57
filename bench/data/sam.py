"""A labelled memory of one fictional user, Sam, for retrieval-quality benchmarks.

    items, queries = sam.build()          # deterministic: seeded, no clock read

What it holds (numbers for the default seed; `summary()` reports them):
- ~1,050 propositions, each with realistic times and one observation as evidence:
  * 126 lasting facts (sam_facts.FACTS), written by hand, each with the window
    or page it was seen in;
  * ~170 episodes over six weeks (sam_days), each valid only while it happened
    and last supported when it ended;
  * ~750 distractors of five kinds (sam_noise): other people's facts phrased
    like Sam's (hard negatives), glimpses, weekly usage statistics, short-lived
    trivia, and what used to be true.
- 300+ questions, each with its relevant propositions:
  * "fact": a paraphrase of one fact;
  * "blind": a paraphrase sharing no content word with its fact;
  * "multi": several right answers (sam_facts.GROUPS);
  * "time": only the stored times answer it ("what was Sam doing last Tuesday");
  * "topic_time": a kind of episode inside a window ("who did Sam meet yesterday");
  * "episode": a kind of episode, any time.

Confidence, half-life and age are drawn from the same distributions for
answers and distractors (see `_lasting`), so confidence and recency cannot
tell them apart. `split()` halves the questions (seeded, stratified by kind)
into a tuning half and a held-out half.

`NOW` is the benchmark's clock (a Friday evening, UTC); pass it to retrieval so
"yesterday" means the same day on every run.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sam_days
import sam_facts
import sam_noise

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
DAYS = 42
SEED = 20261120


@dataclass(frozen=True)
class Evidence:
    app: str
    title: str
    text: str
    captured_at: datetime


@dataclass(frozen=True)
class Item:
    """One proposition to store, with the times a real pipeline would have given it."""

    key: str
    text: str
    confidence: float
    half_life_days: float
    source: str
    valid_from: datetime
    valid_to: datetime | None
    updated_at: datetime
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class Query:
    text: str
    relevant: tuple[str, ...]
    kind: str


def _ago(rng: random.Random, lo_days: float, hi_days: float) -> datetime:
    return NOW - timedelta(days=rng.uniform(lo_days, hi_days))


# Confidence, half-life and age come from ONE distribution per kind of proposition, shared by answers
# and distractors alike: a lasting state (a fact, another person's fact, trivia, what used to be
# true, a weekly figure) or a momentary event (an episode, a glimpse). Distractors that were cheaper
# to believe or decayed faster than the answers would let confidence and recency find the answers,
# and the benchmark would credit fusion for what the data generator decided.
MOMENTARY_HALF_LIFE = 14.0


def _lasting(rng: random.Random) -> tuple[float, float, datetime]:
    """(confidence, half-life in days, last supported) of a lasting state."""
    return round(rng.uniform(0.6, 0.95), 2), rng.choice((90.0, 180.0, 365.0)), _ago(rng, 0.5, 60)


def _momentary_confidence(rng: random.Random) -> float:
    return round(rng.uniform(0.65, 0.9), 2)


def _facts(rng: random.Random) -> list[Item]:
    items = []
    for key, text, _, evidence in sam_facts.FACTS:
        app, title, snippet = evidence.split("|")
        conf, half_life, seen = _lasting(rng)
        items.append(Item(key, text, conf, half_life, rng.choice(("llm", "llm", "llm", "user")),
                          _ago(rng, 60, 400), None, seen, (Evidence(app, title, snippet, seen),)))
    return items


def _episodes(rng: random.Random) -> tuple[list[Item], list[sam_days.Episode]]:
    eps = sam_days.episodes(NOW, DAYS, rng)
    items = [Item(e.key, e.text, _momentary_confidence(rng), MOMENTARY_HALF_LIFE, "llm", e.start, e.end, e.end,
                  tuple(Evidence(*ev) for ev in e.evidence)) for e in eps]
    return items, eps


def _noise(rng: random.Random) -> list[Item]:
    """Distractors, with confidence, half-life and age drawn like the answers' (see `_lasting`)."""
    items = []

    def add(kind: str, texts: list[str], app: str, lasted: timedelta | None = None) -> None:
        """`lasted`: a momentary event inside the six weeks (like an episode), else a lasting state."""
        for i, text in enumerate(texts):
            if lasted:
                conf, half_life, seen = _momentary_confidence(rng), MOMENTARY_HALF_LIFE, _ago(rng, 0, DAYS)
            else:
                conf, half_life, seen = _lasting(rng)
            title = text.split(" about ")[-1] if " about " in text else text.split(" ")[0]
            start = seen - lasted if lasted else seen
            items.append(Item(f"{kind}-{i}", text, conf, half_life, "llm", start, seen if lasted else None, seen,
                              (Evidence(app, title, text.removeprefix("Sam "), seen),)))

    add("other", sam_noise.others(rng, 320), "Slack")
    add("glimpse", sam_noise.glimpses(rng, 320), "Firefox", lasted=timedelta(minutes=rng.choice((3, 20, 60))))
    add("trivia", list(sam_noise.TRIVIA), "Mail")
    add("past", list(sam_noise.PAST), "Obsidian")
    monday = NOW.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=NOW.weekday())
    for w in range(1, 7):  # weekly usage figures, each valid for its week
        start = monday - timedelta(days=7 * w)
        for i, text in enumerate(sam_noise.stats(rng, [f"{start:%-d %B}"])):
            end = start + timedelta(days=7)
            conf, half_life, _ = _lasting(rng)
            items.append(Item(f"stats-{w}-{i}", text, conf, half_life, "stats", start, end,
                              end, (Evidence("tacit", "weekly usage", text.removeprefix("Sam "), end),)))
    return items


def split(queries: list[Query], seed: int = SEED) -> tuple[list[int], list[int]]:
    """(tuning, held-out) question indices: a seeded half of each kind in each, so weights are
    chosen on one half and judged on the other."""
    rng = random.Random(seed + 1)
    tuning: list[int] = []
    for kind in sorted({q.kind for q in queries}):
        members = [i for i, q in enumerate(queries) if q.kind == kind]
        tuning += rng.sample(members, len(members) // 2)
    held_out = sorted(set(range(len(queries))) - set(tuning))
    return sorted(tuning), held_out


def build(seed: int = SEED) -> tuple[list[Item], list[Query]]:
    """Every proposition (facts, episodes, distractors, in a seeded shuffle) and every question."""
    rng = random.Random(seed)
    facts = _facts(rng)
    episode_items, eps = _episodes(rng)
    items = facts + episode_items + _noise(rng)
    rng.shuffle(items)
    queries = [Query(question, (key,), "fact") for key, _, question, _ in sam_facts.FACTS]
    queries += [Query(question, (key,), "blind") for key, question in sam_facts.BLIND.items()]
    queries += [Query(question, tuple(keys), "multi") for question, keys in sam_facts.GROUPS]
    queries += [Query(q, tuple(keys), kind) for q, keys, kind in sam_days.time_questions(eps, NOW, rng)]
    known = {item.key for item in items}
    missing = {k for q in queries for k in q.relevant} - known
    if missing:
        raise ValueError(f"questions name unknown propositions: {sorted(missing)}")
    return items, queries


def summary(items: list[Item], queries: list[Query]) -> dict[str, object]:
    kinds: dict[str, int] = {}
    for q in queries:
        kinds[q.kind] = kinds.get(q.kind, 0) + 1
    return {"propositions": len(items), "queries": len(queries), "by_kind": kinds,
            "multi_answer": sum(1 for q in queries if len(q.relevant) > 1)}

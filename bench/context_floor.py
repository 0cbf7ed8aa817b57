"""Which relevance floor should /v1/context use? Answerable recall against silence on questions with no answer.

    python bench/context_floor.py --json

`daemon/ops.context` shows as "relevant" the search hits whose relevance
clears max(MIN_RELEVANCE, RELATIVE_RELEVANCE * best) (`ops.relevant`), and
says "Nothing relevant is known." when none does. An assistant trusts those
lines, so a floor that is too low shows wrong lines for questions tacit knows
nothing about; one too high hides the answer.

The memory is bench/data/sam.py (~1,050 propositions about Sam, stored with
the real all-minilm-l6-v2 embedder, the default) with its 300+ answerable
questions, and bench/data/sam_unanswerable.py: 65 questions that it has no
answer to (35 near Sam's topics, many next to another person's fact; 30
far). Each question is searched once as the block does (`ops.CONTEXT_POOL`
hits, the default retrieval parameters, on the data set's clock); then every
(MIN_RELEVANCE, RELATIVE_RELEVANCE) on the grid is applied to those hits with
`ops.relevant` itself. Per floor:

- answerable: `recall`, the mean share of a question's right propositions
  among the relevant lines; `answered`, the share with at least one right
  line; `lines`, the mean number of relevant lines; `precision`, the mean
  share of those lines that are right;
- unanswerable: `empty`, the share that get no relevant line ("Nothing
  relevant is known."); `wrong_lines`, the mean number of lines shown.

The questions are halved (sam.split, seeded, stratified by kind) into a
tuning half and a held-out half. The floor is CHOSEN ON THE TUNING HALF by
`RULE` and reported on the held-out half, beside the hand-picked `BEFORE`;
both for the query embedded as asked (as_asked, before) and without the
user's name (name_removed, what ops.context embeds now: `ops.without_name`).
`held_out_change_before_to_now` is the change per question from before (the
name in the query, BEFORE) to now (ops.context as it is), with paired
bootstrap 95% intervals. `other_drops` shows what the rule would choose if it allowed other recall
drops. `separation` gives the best hit's relevance (and its parts) for answerable and
unanswerable questions, with the AUC of telling them apart by it.

The token budget is not modelled (lines are not cut); at the default budgets
(800 MCP, 1000 API) about 30 lines fit.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent / "data"))
import embed_quality  # noqa: E402
import sam  # noqa: E402
import sam_unanswerable  # noqa: E402

from tacitd.daemon import ops  # noqa: E402
from tacitd.daemon.config import Settings  # noqa: E402
from tacitd.memory.retrieve import search  # noqa: E402
from tacitd.memory.store import Store  # noqa: E402
from tacitd.memory.types import Hit  # noqa: E402
from tacitd.models.embed import LlamaCppEmbedder  # noqa: E402

EMBEDDER = "all-minilm-l6-v2"
BEFORE = (0.05, 0.3)  # the hand-picked (MIN_RELEVANCE, RELATIVE_RELEVANCE), with the name in the embedded query
USER_NAME = "Sam"  # how the data set's propositions name the user (DaemonSettings.user_name)
MIN_GRID = tuple(round(0.025 * i, 3) for i in range(21))  # 0 .. 0.5
RELATIVE_GRID = tuple(round(0.1 * i, 1) for i in range(10))  # 0 .. 0.9
MAX_RECALL_DROP = 0.05
OTHER_DROPS = (0.02, 0.1, 0.15)  # the same rule under other allowed drops, to show the trade-off
RULE = (f"on the tuning half: the most unanswerable questions left empty, then the fewest wrong lines on them, "
        f"while answerable recall stays within {MAX_RECALL_DROP} of the hand-picked constants' on the query as asked")


def searched(path: Path, queries: Sequence[sam.Query], qvecs: np.ndarray) -> list[list[Hit]]:
    """Each question's hits, searched the way ops.context searches (pool size, configured parameters)."""
    params = Settings().retrieval
    with Store(path) as store:
        return [search(store, q.text, embedding=qvecs[i], limit=ops.CONTEXT_POOL, params=params, now=sam.NOW)
                for i, q in enumerate(queries)]


def per_question(hits: list[list[Hit]], keys: dict[int, str], queries: Sequence[sam.Query], min_relevance: float,
                 relative: float) -> dict[str, np.ndarray]:
    """Each question's figures under one floor (answerable: recall, answered, lines, precision; else empty, wrong)."""
    out: dict[str, list[float]] = {k: [] for k in ("recall", "answered", "lines", "precision", "empty", "wrong")}
    for q, qhits in zip(queries, hits, strict=True):
        shown = [keys[h.proposition.id] for h in ops.relevant(qhits, min_relevance, relative)]
        if q.relevant:
            right = set(shown) & set(q.relevant)
            out["recall"].append(len(right) / len(q.relevant))
            out["answered"].append(float(bool(right)))
            out["lines"].append(len(shown))
            out["precision"].append(len(right) / len(shown) if shown else 0.0)
        else:
            out["empty"].append(float(not shown))
            out["wrong"].append(len(shown))
    return {k: np.array(v, dtype=float) for k, v in out.items()}


def measure(hits: list[list[Hit]], keys: dict[int, str], queries: Sequence[sam.Query], min_relevance: float,
            relative: float) -> dict[str, Any]:
    """The block's relevant lines under one floor: answerable recall and unanswerable silence."""
    v = per_question(hits, keys, queries, min_relevance, relative)
    near = np.array([q.kind == "none_near" for q in queries if not q.relevant], dtype=bool)
    return {"min_relevance": min_relevance, "relative_relevance": relative,
            "answerable": {"n": len(v["recall"]), "recall": _mean(v["recall"]), "answered": _mean(v["answered"]),
                           "lines": _mean(v["lines"]), "precision": _mean(v["precision"])},
            "unanswerable": {"n": len(v["empty"]), "empty": _mean(v["empty"]), "wrong_lines": _mean(v["wrong"]),
                             "near_empty": _mean(v["empty"][near]), "far_empty": _mean(v["empty"][~near])}}


def change(before: dict[str, np.ndarray], after: dict[str, np.ndarray], seed: int = 0) -> dict[str, Any]:
    """after - before on the same questions, each with a paired bootstrap 95% interval (questions resampled)."""
    rng = np.random.default_rng(seed)
    return {key: embed_quality.interval(after[key] - before[key], rng)
            for key in ("recall", "answered", "lines", "empty", "wrong")}


def _mean(values: np.ndarray) -> float:
    return round(float(values.mean()), 3) if len(values) else 0.0


def grid(hits: list[list[Hit]], keys: dict[int, str], queries: Sequence[sam.Query]) -> list[dict[str, Any]]:
    return [measure(hits, keys, queries, m, r) for m in MIN_GRID for r in RELATIVE_GRID]


def choose(rows: list[dict[str, Any]], baseline: dict[str, Any],
           drop: float = MAX_RECALL_DROP) -> dict[str, Any]:
    """RULE, on rows measured on the tuning half; last ties: the higher recall."""
    allowed = baseline["answerable"]["recall"] - drop
    ok = [r for r in rows if r["answerable"]["recall"] >= allowed]
    return max(ok, key=lambda r: (r["unanswerable"]["empty"], -r["unanswerable"]["wrong_lines"],
                                  r["answerable"]["recall"]))


def _brief(tuned: dict[str, Any], hits: list[list[Hit]], keys: dict[int, str],
           queries: Sequence[sam.Query]) -> dict[str, Any]:
    """The floor chosen under another allowed recall drop, with its held-out recall, empty share, wrong lines."""
    m, r = tuned["min_relevance"], tuned["relative_relevance"]
    held = measure(hits, keys, queries, m, r)
    return {"min_relevance": m, "relative_relevance": r, "held_out_recall": held["answerable"]["recall"],
            "held_out_empty": held["unanswerable"]["empty"],
            "held_out_wrong_lines": held["unanswerable"]["wrong_lines"]}


def separation(hits: list[list[Hit]], keys: dict[int, str], queries: Sequence[sam.Query]) -> dict[str, Any]:
    """The best hit's relevance (and cosine, lexical) for answerable vs unanswerable questions, with the AUC."""
    def top(q_hits: list[Hit], field: str) -> float:
        return max((getattr(h.parts, field) or 0.0 for h in q_hits), default=0.0)

    out: dict[str, Any] = {}
    answerable = [i for i, q in enumerate(queries) if q.relevant]
    untimed = [i for i in answerable if queries[i].kind not in embed_quality.TIMED]
    none = [i for i, q in enumerate(queries) if not q.relevant]
    # the relevance of the first right proposition among the hits (0 when search missed it)
    right = [max((h.parts.relevance for h in hits[i] if keys[h.proposition.id] in queries[i].relevant), default=0.0)
             for i in answerable]
    out["right_answer_relevance"] = _quantiles(np.array(right))
    for field in ("relevance", "similarity", "lexical"):
        a = np.array([top(hits[i], field) for i in untimed])
        n = np.array([top(hits[i], field) for i in none])
        out[f"best_{field}"] = {"answerable_untimed": _quantiles(a), "unanswerable": _quantiles(n),
                                "auc": round(float((a[:, None] > n[None, :]).mean()
                                                   + 0.5 * (a[:, None] == n[None, :]).mean()), 3)}
    return out


def _quantiles(values: np.ndarray) -> dict[str, float]:
    return {f"p{p}": round(float(np.percentile(values, p)), 3) for p in (5, 25, 50, 75, 95)}


def run(cache: Path, vector_cache: Path | None) -> dict[str, Any]:
    items, answerable = sam.build()
    unanswerable = sam_unanswerable.queries()
    a_tune, a_held = sam.split(answerable)
    u_tune, u_held = sam.split(unanswerable)
    queries = answerable + unanswerable
    offset = len(answerable)
    tune = [answerable[i] for i in a_tune] + [unanswerable[i] for i in u_tune]
    held = [answerable[i] for i in a_held] + [unanswerable[i] for i in u_held]
    tune_ix = a_tune + [offset + i for i in u_tune]
    held_ix = a_held + [offset + i for i in u_held]

    embedder = LlamaCppEmbedder(cache / "all-minilm-l6-v2-f16.gguf", name=EMBEDDER)
    vcache = embed_quality.VectorCache(vector_cache)
    vecs = vcache.get(EMBEDDER, [item.text for item in items], embedder.embed)
    embedded = {"as_asked": [q.text for q in queries],
                "name_removed": [ops.without_name(q.text, USER_NAME) for q in queries]}
    hits: dict[str, list[list[Hit]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "sam.db"
        keys = embed_quality.build_store(db, items, vecs, EMBEDDER, False)
        for variant, texts in embedded.items():
            hits[variant] = searched(db, queries, vcache.get(EMBEDDER + "/query", texts, embedder.embed_query))

    def on(variant: str, ix: list[int]) -> list[list[Hit]]:
        return [hits[variant][i] for i in ix]

    current = ops.MIN_RELEVANCE, ops.RELATIVE_RELEVANCE
    baseline = measure(on("as_asked", tune_ix), keys, tune, *BEFORE)
    out: dict[str, Any] = {
        "embedder": EMBEDDER, "pool": ops.CONTEXT_POOL, "rule": RULE,
        "data": {"propositions": len(items), "answerable": len(answerable), "unanswerable": len(unanswerable),
                 "tuning": len(tune), "held_out": len(held)},
        "before_constants": list(BEFORE), "ops_constants": list(current),
        "note": "as_asked: the query embedded as asked (before); name_removed: without the user's name, as "
                "ops.context embeds it now"}
    for variant in embedded:
        rows = grid(on(variant, tune_ix), keys, tune)
        tuned = choose(rows, baseline)
        chosen = tuned["min_relevance"], tuned["relative_relevance"]
        held_hits = on(variant, held_ix)
        out[variant] = {
            "before": {"tuning": measure(on(variant, tune_ix), keys, tune, *BEFORE),
                       "held_out": measure(held_hits, keys, held, *BEFORE)},
            "chosen": {"tuning": tuned, "held_out": measure(held_hits, keys, held, *chosen)},
            "chosen_is_ops": chosen == current,
            "other_drops": {str(drop): _brief(choose(rows, baseline, drop), held_hits, keys, held)
                            for drop in OTHER_DROPS},
            "separation_held_out": separation(held_hits, keys, held),
            "grid_held_out": [[row["min_relevance"], row["relative_relevance"], row["answerable"]["recall"],
                               row["unanswerable"]["empty"], row["unanswerable"]["wrong_lines"]]
                              for row in grid(held_hits, keys, held)],
        }
    out["held_out_change_before_to_now"] = {
        "before": "as_asked with BEFORE", "now": "name_removed with the ops constants",
        "after_minus_before": change(per_question(on("as_asked", held_ix), keys, held, *BEFORE),
                                     per_question(on("name_removed", held_ix), keys, held, *current))}
    out["grid_columns"] = ["min_relevance", "relative_relevance", "answerable_recall", "unanswerable_empty",
                           "unanswerable_wrong_lines"]
    return out


def main() -> None:
    args = embed_quality.parser_for(__doc__).parse_args()
    print(json.dumps(run(args.cache, args.vector_cache), indent=None if args.json else 2))


if __name__ == "__main__":
    main()

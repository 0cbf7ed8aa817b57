"""The whole pipeline on the bundled sample day, with the default model: can it keep up with a workday?

    python bench/pipeline.py --json [--no-busy] [--no-replay] [--quick]

Prints, for the sample day (bench/data/day.jsonl) in a fresh store:
- segments (formed, sent to the model, skipped by the screen),
  llm_calls_per_segment and seconds_per_segment (propose, revise and
  audit apart), both per segment the model worked on; prompt tokens per
  call and those llama.cpp actually evaluated (the rest came from the
  prefix cache); tokens_per_s (prompt evaluated, generated);
- keep_up_ratio: the day's active time (the spans of its activity
  segments) divided by the processing time. The model is loaded once
  before timing, as the daemon keeps it loaded (load_s says what it cost),
  and before each timed run its saved prompt states are dropped and one
  call on a neutral session puts the shared prefix (system prompt, worked
  example) back, as in a daemon that has run a while: the busy run does
  not reuse the quiet run's prompts.
  keep_up_ratio_10h_day: a 10-hour day with this day's density of model
  segments per active hour, at this run's model seconds per segment,
  plus one stats pass (model_segments_per_hour_breakeven is the density
  at which the ratio would fall to 1);
- keep_up_ratio_busy: the same run in a fresh store while a child process
  keeps one core busy spinning, as when the user is working;
- duplicates_after_replay: the day replayed 7 days later into the first
  store; new propositions whose text is a paraphrase (cosine at or above
  revise's identical_at) of one that was there must be 0, and the
  confidence of what was seen again must rise instead.

--quick keeps only the reward-model sessions (both days) and the noise
the screen skips: every figure is printed, in a few minutes, to check that
the bench runs; its ratios are not the sample day's.

Timings on a shared machine are noisy: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from tacitd.daemon.backends import build_embedder, build_llm
from tacitd.daemon.cli_pipeline import BACKGROUND_NICE
from tacitd.daemon.config import ModelSettings
from tacitd.daemon.pipeline.ingest import IngestReport, admit, parse
from tacitd.daemon.pipeline.queue import enqueue
from tacitd.daemon.pipeline.revise import ReviseParams, cosine
from tacitd.daemon.pipeline.run import Pipeline, PassReport, process
from tacitd.daemon.pipeline.segment import SegmentParams, segment
from tacitd.memory.store import Store
from tacitd.memory.types import Observation
from tacitd.models.embed import Embedder
from tacitd.models.errors import SchemaError
from tacitd.models.llm import LLM
from tacitd.models.prompts import Drafts, output_budget, propose_messages
from tacitd.observers.privacy import PrivacyFilter

DAY = Path(__file__).with_name("data") / "day.jsonl"
USER = "Sam"


QUICK_APPS = ("code", "thunderbird", None)  # the reward model on both days, the mails the screen skips


def day(shift_days: int = 0, quick: bool = False) -> list[Observation]:
    """The sample day through the privacy filter, as `tacit ingest` takes it, moved `shift_days` later."""
    observations = parse(DAY.read_text(encoding="utf-8").splitlines(keepends=True))
    passed = admit(observations, PrivacyFilter(), IngestReport(), lambda n: None)
    if quick:
        passed = [o for o in passed if o.app in QUICK_APPS]
    return [o.model_copy(update={"captured_at": o.captured_at + timedelta(days=shift_days)}) for o in passed]


def active_seconds(observations: list[Observation]) -> float:
    """The spans of the day's activity segments (idle stretches between them are not counted)."""
    numbered = [o.model_copy(update={"id": i + 1}) for i, o in enumerate(observations)]
    segments, _ = segment(numbered, SegmentParams(), flush=True)
    return sum(s.duration_s for s in segments)


def embed_fn(store: Store, embedder: Embedder) -> Callable[[str], np.ndarray]:
    store.ensure_vector_index(embedder.name, embedder.dim)
    return lambda text: embedder.embed([text])[0]


def run_day(store: Store, llm: LLM, embedder: Embedder, shift_days: int = 0, quick: bool = False) -> PassReport:
    enqueue(store, day(shift_days, quick))
    pipeline = Pipeline(store, llm, embed_fn(store, embedder), user=USER)
    return process(pipeline)


def figures(report: PassReport, active_s: float, calls_before: int, llm: LLM) -> dict[str, Any]:
    """The run's figures; per-segment ones over the segments the model worked on."""
    model = [t for t in report.learned.timings if t.llm_calls]
    n = max(len(model), 1)
    calls = llm.usage.calls[calls_before:]
    call_s = sum(c.seconds for c in calls)
    evaluated = sum(c.prompt_tokens if c.prompt_evaluated is None else c.prompt_evaluated for c in calls)
    s = report.summary()
    model_s = sum(t.propose_s + t.revise_s + t.audit_s for t in model)
    return {
        "segments": s["segments"],
        "model_segments": len(model),
        "skipped_by_screen": s["skipped"],
        "quarantined": s["quarantined"],
        "llm_calls": len(calls),
        "llm_calls_per_segment": round(len(calls) / n, 2),
        "seconds_per_segment": {
            "propose": round(sum(t.propose_s for t in model) / n, 2),
            "revise": round(sum(t.revise_s for t in model) / n, 2),
            "audit": round(sum(t.audit_s for t in model) / n, 2),
            "total": round(model_s / n, 2),
        },
        "prompt_tokens_per_call": round(sum(c.prompt_tokens for c in calls) / max(len(calls), 1), 1),
        "prompt_evaluated_per_call": round(evaluated / max(len(calls), 1), 1),
        "tokens_per_s": {  # over whole calls: the generated rate includes the prompt's evaluation time
            "generated": round(sum(c.completion_tokens for c in calls) / call_s, 2) if call_s else None,
            "prompt_evaluated": round(evaluated / call_s, 2) if call_s else None,
        },
        "processing_s": round(report.seconds, 2),
        "model_s": round(model_s, 2),
        "stats_s": round(report.seconds - model_s, 2),  # queue, screen, stats: everything but the model steps
        "active_s": round(active_s, 1),
        "keep_up_ratio": round(active_s / report.seconds, 2),
        "propositions_written": s["propositions_written"],
    }


def ten_hour_day(quiet: dict[str, Any]) -> dict[str, Any]:
    """The quiet run scaled to a 10-hour day of the same density: model time grows with it, one stats pass."""
    active_h = quiet["active_s"] / 3600
    per_segment = quiet["seconds_per_segment"]["total"]
    density = quiet["model_segments"] / active_h if active_h else 0.0
    processing = density * 10 * per_segment + quiet["stats_s"]
    return {"model_segments_per_active_hour": round(density, 2),
            "keep_up_ratio_10h_day": round(36000 / processing, 2) if processing else None,
            "model_segments_per_hour_breakeven": round(3600 / per_segment, 1) if per_segment else None}


def warm(llm: LLM) -> None:
    """Forget every saved prompt, then evaluate the shared prefix once (a call on a neutral session)."""
    forget = getattr(llm, "forget_prefixes", None)
    if forget is not None:
        forget()
    try:
        llm.complete_json(propose_messages("app: settings | window: Display settings", USER), Drafts,
                          max_tokens=output_budget(Drafts))
    except SchemaError:
        pass  # the prefix was evaluated all the same


def spinner() -> subprocess.Popen:
    """A child process that keeps one core busy, as the user's own work would."""
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def replay(store: Store, llm: LLM, embedder: Embedder, params: ReviseParams, quick: bool = False) -> dict[str, Any]:
    """The same day 7 days later into the same store: paraphrase duplicates, and confidence of what was seen again."""
    before = {p.id: p for p in store.recent(1000) if p.source == "llm"}
    vectors = store.embeddings(list(before))
    report = run_day(store, llm, embedder, shift_days=7, quick=quick)
    after = [p for p in store.recent(1000) if p.source == "llm"]
    old_groups = {p.revision_group for p in before.values()}
    new = [p for p in after if p.revision_group not in old_groups]
    duplicates = []
    for p in new:
        v = embedder.embed([p.text])[0]
        if any(cosine(v, w) >= params.identical_at for w in vectors.values()):
            duplicates.append(p.text)
    old_level = {p.revision_group: p.confidence for p in before.values()}
    seen_again = [(old_level[p.revision_group], p.confidence) for p in after
                  if p.revision_group in old_level and p.id not in before]
    return {
        "duplicates_after_replay": len(duplicates),
        "duplicate_texts": duplicates,
        "new_propositions_after_replay": len(new),
        "seen_again": len(seen_again),
        "confidence_rose": sum(1 for a, b in seen_again if b > a),
        "mean_confidence_before": round(float(np.mean([a for a, _ in seen_again])), 3) if seen_again else None,
        "mean_confidence_after": round(float(np.mean([b for _, b in seen_again])), 3) if seen_again else None,
        "replay_processing_s": round(report.seconds, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-busy", action="store_true", help="skip the run with one core kept busy")
    ap.add_argument("--no-replay", action="store_true", help="skip the replay (duplicates_after_replay)")
    ap.add_argument("--quick", action="store_true", help="a small part of the day: checks the bench runs")
    args = ap.parse_args()

    settings = ModelSettings()
    llm, embedder = build_llm(settings, nice=BACKGROUND_NICE), build_embedder(settings)
    t0 = time.perf_counter()
    llm.model()  # load the weights once, as the daemon does, outside the timed runs
    out: dict[str, Any] = {"model": llm.name, "embedder": embedder.name, "quick": args.quick,
                           "load_s": round(time.perf_counter() - t0, 2), "load_1m_at_start": os.getloadavg()[0]}
    active_s = active_seconds(day(quick=args.quick))
    with tempfile.TemporaryDirectory(prefix="tacit-bench-pipeline-") as tmp:
        with Store(Path(tmp) / "quiet.db", encrypt=False) as store:
            warm(llm)
            calls = len(llm.usage.calls)
            quiet = figures(run_day(store, llm, embedder, quick=args.quick), active_s, calls, llm)
            out.update(quiet)
            out.update(ten_hour_day(quiet))
            if not args.no_replay:
                out.update(replay(store, llm, embedder, ReviseParams(), args.quick))
        if not args.no_busy:
            child = spinner()
            try:
                with Store(Path(tmp) / "busy.db", encrypt=False) as store:
                    warm(llm)
                    calls = len(llm.usage.calls)
                    busy = figures(run_day(store, llm, embedder, quick=args.quick), active_s, calls, llm)
            finally:
                child.kill()
                child.wait()
            out["keep_up_ratio_busy"] = busy["keep_up_ratio"]
            out["busy"] = busy
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")


if __name__ == "__main__":
    main()

"""How many threads, and which OpenMP wait policy, should the pipeline's model use? Measured, not guessed.

    python bench/threads.py --json [--repeats 3] [--tokens 48] [--policies passive,active] [--nice 19]

For each wait policy, each thread count (1 and 2 by default) and each
machine state (quiet; one core kept busy by a spinning child process, as
when the user is working), a fresh worker process loads the default model
(OMP_WAIT_POLICY is read once, when llama.cpp loads, hence one process
per setting), evaluates a fixed prompt and generates `--tokens` tokens at
temperature 0, at the pipeline's priority (`--nice`, 19 as the pipeline
runs). It reports llama.cpp's own timers: generated tokens/s and prompt
tokens/s, the median of `--repeats` runs, settings interleaved so that a
change in background load hits them alike. The 1-minute load average at
the start of each run says how quiet the machine was.

`recommendation` picks the fastest thread count for each state, and says
whether adapting the thread count to the load (models/llm.py
`adapt_threads`) would pay: only if the best count differs between the
quiet and the busy machine by more than the noise (`margin`, 10%).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

PROMPT = ("Write a short paragraph about how a reward model for language model fine-tuning is trained "
          "from pairs of preferred and rejected answers, and what can go wrong.")
MARGIN = 0.10  # a difference below this share of the slower speed is noise on a shared machine


def worker(threads: int, tokens: int, nice: int) -> dict[str, float]:
    """Runs in the child: load, warm up, then time one prompt evaluation and one generation."""
    import llama_cpp

    from tacitd.models.bundled import QWEN_CODER_1_5B, ensure_bundled
    from tacitd.models.hardware import load_llama
    from tacitd.models.llm import lower_thread_priority

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
    from models_fixtures import CACHE

    lower_thread_priority(nice)
    llama = load_llama(ensure_bundled(QWEN_CODER_1_5B, CACHE), "tacit models list", n_ctx=1024, n_threads=threads,
                       n_gpu_layers=0, seed=0)
    llama.create_completion("Hello", max_tokens=2, temperature=0.0)  # warm up: pages the weights in
    llama.reset()
    llama_cpp.llama_perf_context_reset(llama.ctx)
    llama.create_completion(PROMPT, max_tokens=tokens, temperature=0.0)
    perf = llama_cpp.llama_perf_context(llama.ctx)
    return {"gen_tok_s": round(perf.n_eval / perf.t_eval_ms * 1000, 2) if perf.t_eval_ms else 0.0,
            "prompt_tok_s": round(perf.n_p_eval / perf.t_p_eval_ms * 1000, 2) if perf.t_p_eval_ms else 0.0,
            "generated": int(perf.n_eval)}


def run_one(policy: str, threads: int, busy: bool, tokens: int, nice: int) -> dict[str, Any]:
    """One setting in a fresh process (with a spinning sibling when `busy`)."""
    env = {**os.environ, "OMP_WAIT_POLICY": policy.upper()}
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if busy else None
    try:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        done = subprocess.run([sys.executable, __file__, "--worker", "--threads", str(threads), "--tokens",
                               str(tokens), "--nice", str(nice)], env=env, capture_output=True, text=True,
                              check=True)
        result = json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        if spinner is not None:
            spinner.kill()
            spinner.wait()
    return {**result, "load_1m": round(load, 2), "wall_s": round(time.perf_counter() - start, 1)}


def recommend(results: list[dict[str, Any]], policy: str) -> dict[str, Any]:
    """The fastest thread count per machine state, and whether adapting to the load would pay."""
    best: dict[str, tuple[int, float]] = {}
    for state in ("quiet", "busy"):
        rows = [r for r in results if r["policy"] == policy and r["state"] == state]
        top = max(rows, key=lambda r: r["gen_tok_s"])
        best[state] = (top["threads"], top["gen_tok_s"])
    busy_rows = {r["threads"]: r["gen_tok_s"] for r in results if r["policy"] == policy and r["state"] == "busy"}
    quiet_best, busy_best = best["quiet"][0], best["busy"][0]
    # Adapting pays only when, on a busy machine, the count a quiet machine wants is clearly slower.
    loss = (busy_rows[busy_best] - busy_rows[quiet_best]) / max(busy_rows[quiet_best], 1e-9)
    return {"policy": policy, "threads_quiet": quiet_best, "threads_busy": busy_best,
            "busy_gain_from_adapting": round(loss, 3), "adapt_threads": loss > MARGIN}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, nargs="*", default=None, help="thread counts (default 1 2)")
    ap.add_argument("--policies", default="passive", help="comma-separated OMP wait policies (passive, active)")
    ap.add_argument("--nice", type=int, default=19, help="the model's priority (the pipeline runs at 19)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.threads[0], args.tokens, args.nice)))
        return
    counts = args.threads or [1, 2]
    policies = [p.strip() for p in args.policies.split(",") if p.strip()]
    settings = [(p, t, b) for p in policies for t in counts for b in (False, True)]
    runs: dict[tuple[str, int, bool], list[dict[str, Any]]] = {s: [] for s in settings}
    for _ in range(args.repeats):  # interleaved: a drift in background load hits every setting alike
        for s in settings:
            runs[s].append(run_one(*s, tokens=args.tokens, nice=args.nice))
    results = []
    for (policy, threads, busy), rows in runs.items():
        results.append({
            "policy": policy, "threads": threads, "state": "busy" if busy else "quiet",
            "gen_tok_s": statistics.median(r["gen_tok_s"] for r in rows),
            "prompt_tok_s": statistics.median(r["prompt_tok_s"] for r in rows),
            "gen_tok_s_runs": [r["gen_tok_s"] for r in rows],
            "load_1m": [r["load_1m"] for r in rows],
        })
    out = {"cores": os.cpu_count(), "nice": args.nice, "tokens": args.tokens, "repeats": args.repeats,
           "results": results, "recommendation": [recommend(results, p) for p in policies]}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for r in results:
            print(f"{r['policy']:8} threads={r['threads']} {r['state']:5} gen {r['gen_tok_s']:6.2f} tok/s  "
                  f"prompt {r['prompt_tok_s']:6.2f} tok/s  load {r['load_1m']}")
        for rec in out["recommendation"]:
            print(rec)


if __name__ == "__main__":
    main()

"""LLM and embedder throughput through tacit's wrapper against raw llama-cpp-python, in one process.

    python bench/llm.py --json [--models gemma3-270m,qwen2.5-coder-1.5b-instruct]

For each bundled model, on the same prompts and the same grammar:
- prompt and generation tokens/s through `LlamaCppLLM.complete_json`;
- the same through raw `Llama.create_chat_completion` / `create_completion`;
- generation ratio wrapper ÷ raw (1.0 means the wrapper costs nothing);
- the schema-valid rate over `--calls` structured calls.
Then embedding texts/s with the default embedder, one at a time and batched.
The KV cache is reset before every call so no call reuses another's prompt.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Literal

import llama_cpp
import platformdirs
from pydantic import BaseModel, Field

from tacitd.models import presets
from tacitd.models.bundled import BUNDLED, ensure_bundled
from tacitd.models.embed import LlamaCppEmbedder
from tacitd.models.errors import SchemaError
from tacitd.models.grammar import grammar_schema
from tacitd.models.llm import LlamaCppLLM, as_messages, completion_prompt

CACHE = platformdirs.user_cache_path("tacit") / "models"


class Proposal(BaseModel):
    statement: str = Field(min_length=8, max_length=140)
    confidence: float = Field(ge=0, le=1)
    category: Literal["work", "hobby", "habit", "plan", "preference"]


ACTIVITIES = [
    "Sam edited train_lora.py in VS Code for 40 minutes and read the PEFT docs in Firefox.",
    "Sam spent an hour in Figma on a dashboard mockup titled 'Q3 revenue'.",
    "Sam searched Skyscanner for flights from Lisbon to Tokyo in April.",
    "Sam logged a 10 km run in the Garmin Connect app at 7am.",
    "Sam reviewed three pull requests in GitHub for the billing service.",
    "Sam practised Japanese in Anki for 20 minutes before bed.",
    "Sam wrote SQL window functions in DBeaver against the Snowflake warehouse.",
    "Sam watched a YouTube video about sourdough starters.",
    "Sam changed the VS Code theme to a dark theme and increased the font size.",
    "Sam compared standing desks on three shopping sites.",
]


def prompt_for(activity: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "Infer one specific fact about the user from the activity. Answer in JSON."},
            {"role": "user", "content": activity}]


def _perf(llama: Any) -> tuple[float, int]:
    data = llama_cpp.llama_perf_context(llama.ctx)
    return data.t_p_eval_ms / 1000, data.n_p_eval


def _timed(llama: Any, call: Any) -> dict[str, float]:
    llama.reset()
    llama_cpp.llama_perf_context_reset(llama.ctx)
    start = time.perf_counter()
    out = call()
    wall = time.perf_counter() - start
    prompt_s, prompt_n = _perf(llama)
    return {"wall": wall, "prompt_s": prompt_s, "prompt_n": prompt_n,
            "gen_n": out.get("completion_tokens", 0) if isinstance(out, dict) else 0}


def _rates(samples: list[dict[str, float]]) -> dict[str, float]:
    prompt_s = sum(s["prompt_s"] for s in samples)
    gen_s = sum(s["wall"] - s["prompt_s"] for s in samples)
    return {"prompt_tokens_per_s": round(sum(s["prompt_n"] for s in samples) / prompt_s, 1),
            "gen_tokens_per_s": round(sum(s["gen_n"] for s in samples) / gen_s, 2)}


def bench_model(name: str, calls: int, paired: int, max_tokens: int) -> dict[str, Any]:
    # No prefix cache: both paths must evaluate the whole prompt, or the second one of a pair
    # would be served the first one's cached prompt and the comparison would mean nothing.
    llm = LlamaCppLLM(ensure_bundled(BUNDLED[name], CACHE), name=name, n_ctx=2048, prefix_cache_mb=0)
    llama = llm.model()
    chat = llm.has_chat_template
    grammar = llama_cpp.LlamaGrammar.from_json_schema(json.dumps(grammar_schema(Proposal.model_json_schema())),
                                                      verbose=False)

    def raw(messages: list[dict[str, str]]) -> dict[str, int]:
        kwargs = {"grammar": grammar, "max_tokens": max_tokens, "temperature": 0.0, "repeat_penalty": 1.1}
        if chat:
            out = llama.create_chat_completion(messages=messages, **kwargs)
        else:
            out = llama.create_completion(prompt=completion_prompt(messages), **kwargs)
        return out["usage"]

    def wrapped(messages: list[dict[str, str]]) -> dict[str, int]:
        before = len(llm.usage.calls)
        try:
            llm.complete_json(messages, Proposal, max_tokens=max_tokens)
        except SchemaError:
            pass
        return {"completion_tokens": sum(c.completion_tokens for c in llm.usage.calls[before:])}

    wrapped(as_messages(prompt_for(ACTIVITIES[-1])))  # warm-up: first decode pays one-off costs
    wrapper_samples, raw_samples = [], []
    for i in range(paired):  # alternate, so drift on a noisy machine hits both paths alike
        messages = as_messages(prompt_for(ACTIVITIES[i % len(ACTIVITIES)]))
        wrapper_samples.append(_timed(llama, lambda: wrapped(messages)))
        raw_samples.append(_timed(llama, lambda: raw(messages)))

    valid = 0
    for i in range(calls):
        llama.reset()
        try:
            llm.complete_json(prompt_for(ACTIVITIES[i % len(ACTIVITIES)] + f" (session {i})"), Proposal,
                              max_tokens=max_tokens)
            valid += 1
        except SchemaError:
            pass
    wrapper, rawr = _rates(wrapper_samples), _rates(raw_samples)
    return {"wrapper": wrapper, "raw": rawr,
            "gen_ratio_wrapper_over_raw": round(wrapper["gen_tokens_per_s"] / rawr["gen_tokens_per_s"], 3),
            "schema_valid_rate": round(valid / calls, 3), "structured_calls": calls,
            "chat_template": chat, "gpu_offload": llm.gpu_offload, "threads": llm.n_threads}


def bench_embedder(n: int = 200) -> dict[str, Any]:
    path = CACHE / presets.get("all-minilm-l6-v2").filename
    if not path.is_file():
        return {"skipped": f"{path} missing; run `tacit models convert`"}
    embedder = LlamaCppEmbedder(path, name="all-minilm-l6-v2")
    texts = [f"{a} (variant {i})" for i, a in enumerate(ACTIVITIES * (n // len(ACTIVITIES)))]
    embedder.embed(texts[:2])  # load
    start = time.perf_counter()
    for text in texts:
        embedder.embed([text])
    single = n / (time.perf_counter() - start)
    start = time.perf_counter()
    embedder.embed(texts)
    batched = n / (time.perf_counter() - start)
    return {"name": embedder.name, "texts": n, "single_texts_per_s": round(single, 1),
            "batched_texts_per_s": round(batched, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="gemma3-270m,qwen2.5-coder-1.5b-instruct")
    parser.add_argument("--calls", type=int, default=20, help="structured calls for the valid rate (≥ 20)")
    parser.add_argument("--paired", type=int, default=6, help="prompts timed through both paths")
    parser.add_argument("--max-tokens", type=int, default=80)
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args()
    result: dict[str, Any] = {"llm": {}}
    for name in args.models.split(","):
        if name not in BUNDLED:
            parser.error(f"{name} is not a bundled model; choose from {', '.join(BUNDLED)}")
        result["llm"][name] = bench_model(name, args.calls, args.paired, args.max_tokens)
    result["embedder"] = bench_embedder()
    print(json.dumps(result, indent=None if args.json else 2))


if __name__ == "__main__":
    main()

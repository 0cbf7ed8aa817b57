"""Schema-constrained LLM calls: llama.cpp in process, or an OpenAI-compatible server.

`complete_json(prompt, Schema)` returns a validated pydantic object. Output is
constrained by the JSON schema (llama.cpp grammar locally, `response_format`
remotely), so even a tiny model emits parseable JSON. The grammar enforces
types, enums, required keys, string min/maxLength and array min/maxItems; it
does not enforce numeric minimum/maximum (llama-cpp-python's converter leaves
them out), so `grammar.grammar_schema` turns small bounded ranges into enums
and pydantic validates everything afterwards. A failure is retried
once with the validation error shown to the model; a second failure raises
SchemaError carrying the raw output and the prompt, for quarantine.

Cost settings of the in-process model (see LlamaCppLLM):
- prefix cache: every pipeline prompt starts with the same system prompt and
  worked example. llama.cpp keeps the previous prompt's tokens and evaluates
  only what differs after their common prefix; a RAM cache of saved states
  (LlamaRAMCache, keyed by token prefix) keeps that true when calls of
  different steps (propose, revise, audit) interleave. `CallStats.
  prompt_evaluated` counts the prompt tokens llama.cpp actually evaluated.
- priority: `nice` lowers the calling thread before any model work; the
  OpenMP workers llama.cpp starts from that thread inherit it (Linux keeps
  a nice value per thread, and a clone copies it), so capture and the
  user's own work come first. It cannot be raised again without privilege,
  so only the pipeline asks for it (on the thread that runs the model).
- threads and wait policy: llama.cpp's OpenMP threads spin while they wait for
  each other, and a spinning thread that shares its core with other work
  stalls the rest. Measured on the 2 shared cores (Qwen 1.5B, 24 tokens, load
  ~10): 2 threads spinning 0.18 tok/s, 1 spinning 1.06, 2 passive 3.47,
  1 passive 1.9 (issue 9's table, one core busy: 3.0 / 6.5 / 6.0). So this
  module asks for OMP_WAIT_POLICY=passive when it is imported (libgomp
  reads it once, when llama_cpp is first imported; an explicit environment
  value wins), and keeps all physical cores. `adapt_threads` (off) instead
  picks threads per call from the load average. It stays off because, with
  passive waiting, dropping to one thread on a busy machine did not pay:
  bench/threads.py (Qwen 1.5B, nice 19, one core kept busy by a spinning
  process, load 5-12 from other work, 2026-11-22) measured 1 thread 0.12
  and 2 threads 0.11 generated tok/s (within noise), and quiet 0.69 vs 3.56;
  the load G measured above gave 2 threads 3.47 vs 1 thread 1.9. Yielding to
  the user's work is left to `nice`. Re-run `bench/threads.py --json` on
  other hardware: its `recommendation` says whether adapting would pay.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import SchemaError
from .grammar import grammar_schema
from .hardware import gpu_offload_supported, load_llama, physical_cores

T = TypeVar("T", bound=BaseModel)
Message = dict[str, str]
Prompt = str | Sequence[Message]


@dataclass(frozen=True)
class CallStats:
    prompt_tokens: int
    completion_tokens: int
    seconds: float
    prompt_evaluated: int | None = None  # prompt tokens actually evaluated (the rest came from the cache)


@dataclass
class Usage:
    """Every call's token counts and time, for the daemon's stats."""

    calls: list[CallStats] = field(default_factory=list)

    def record(self, stats: CallStats) -> None:
        self.calls.append(stats)

    def totals(self) -> dict[str, float]:
        return {
            "calls": len(self.calls),
            "prompt_tokens": sum(c.prompt_tokens for c in self.calls),
            "completion_tokens": sum(c.completion_tokens for c in self.calls),
            "prompt_evaluated": sum(c.prompt_tokens if c.prompt_evaluated is None else c.prompt_evaluated
                                    for c in self.calls),
            "seconds": round(sum(c.seconds for c in self.calls), 3),
        }


class LLM(Protocol):
    name: str
    usage: Usage

    def complete_json(self, prompt: Prompt, schema: type[T], *, max_tokens: int = 512) -> T: ...

    def load(self) -> None: ...


def as_messages(prompt: Prompt) -> list[Message]:
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else list(prompt)


def _retry_messages(messages: list[Message], raw: str, error: ValidationError) -> list[Message]:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'root'}: {e['msg']}" for e in error.errors()[:5])
    return [
        *messages,
        {"role": "assistant", "content": raw},
        {"role": "user", "content": f"That JSON was invalid ({problems}). Answer again with valid JSON only."},
    ]


class _SchemaLLM:
    """complete_json on top of one `_generate(messages, schema, max_tokens, attempt)`."""

    name: str
    usage: Usage

    def _generate(self, messages: list[Message], schema: dict[str, Any], max_tokens: int,
                  attempt: int) -> tuple[str, CallStats]:
        raise NotImplementedError

    def load(self) -> None:
        """Get ready now, before any work is charged to the model: a bad model file is the model's fault,
        not the first segment's. Nothing to do for a remote model."""

    def complete_json(self, prompt: Prompt, schema: type[T], *, max_tokens: int = 512) -> T:
        messages = as_messages(prompt)
        json_schema = schema.model_json_schema()
        raw = ""
        for attempt in range(2):
            raw, stats = self._generate(messages, json_schema, max_tokens, attempt)
            self.usage.record(stats)
            try:
                return schema.model_validate_json(raw)
            except ValidationError as exc:
                error = exc
                messages = _retry_messages(messages, raw, exc)
        raise SchemaError(
            f"{self.name}: output did not fit {schema.__name__} after a retry ({error.error_count()} error(s))",
            raw=raw,
            prompt=as_messages(prompt),
        )


OMP_WAIT_POLICIES = ("active", "passive")


def set_omp_wait_policy(policy: str) -> bool:
    """Ask OpenMP to sleep ("passive") or spin ("active") between llama.cpp's parallel regions.

    Only works before llama_cpp is imported in this process (libgomp reads it once);
    returns whether it could still take effect. An explicit OMP_WAIT_POLICY in the environment wins.
    """
    import sys

    if policy not in OMP_WAIT_POLICIES:
        raise ValueError(f"OMP wait policy must be one of {OMP_WAIT_POLICIES}, not {policy!r}")
    if "llama_cpp" in sys.modules:
        return os.environ.get("OMP_WAIT_POLICY", "").lower() == policy
    os.environ.setdefault("OMP_WAIT_POLICY", policy.upper())
    return os.environ["OMP_WAIT_POLICY"].lower() == policy


DEFAULT_OMP_WAIT_POLICY = "passive"  # measured: see the module docstring
set_omp_wait_policy(DEFAULT_OMP_WAIT_POLICY)

_lowered: set[int] = set()


def threads_for_load(max_threads: int, own_threads: int = 0) -> int:
    """Threads for the next model call: the cores other work leaves free, at least one.

    llama.cpp's threads wait for each other at every layer, so one thread that
    shares its core with other work stalls them all: with one core of two busy,
    two threads generate at half the speed of one (the issue 9 table and
    /tmp measurements in the G report). Other work is the 1-minute load
    average less the model's own threads (`own_threads`, when it ran just now).
    """
    other = max(0.0, os.getloadavg()[0] - own_threads)
    return max(1, min(max_threads, int(max_threads - other + 0.5)))


def lower_thread_priority(nice: int) -> None:
    """Set the calling thread's nice value (Linux: per thread; elsewhere the process's), once per thread."""
    tid = threading.get_native_id()
    if tid in _lowered or not hasattr(os, "setpriority"):
        return
    target = tid if os.uname().sysname == "Linux" else 0
    try:
        os.setpriority(os.PRIO_PROCESS, target, max(nice, os.getpriority(os.PRIO_PROCESS, target)))
    except OSError:
        pass  # not permitted here: run at the priority we have
    _lowered.add(tid)


def keep_prefix_states(llama: Any, capacity_bytes: int) -> None:
    """Give `llama` a RAM cache of saved KV states, found again by the longest common token prefix.

    llama-cpp-python's own `save_state` also copies the logits buffer (n_batch x
    vocabulary floats: 311 MB for Qwen2.5) that its RAM cache neither needs nor
    counts against its capacity; these two replace it with the KV state and the
    tokens alone (~28 KB a token for the 1.5B default), so `capacity_bytes` holds.
    A restored state always evaluates at least one token before sampling
    (`_requires_eval`), so the logits are never read from it.
    """
    import ctypes

    import llama_cpp
    import numpy as np

    def save_state() -> Any:
        size = llama_cpp.llama_state_get_size(llama.ctx)
        buffer = (ctypes.c_uint8 * int(size))()
        written = int(llama_cpp.llama_state_get_data(llama.ctx, buffer, size))
        return llama_cpp.LlamaState(input_ids=llama.input_ids[:llama.n_tokens].copy(),
                                    scores=np.empty((0, 0), dtype=np.single), n_tokens=llama.n_tokens,
                                    llama_state=bytes(buffer)[:written], llama_state_size=written, seed=llama._seed)

    def load_state(state: Any) -> None:
        data = (ctypes.c_uint8 * state.llama_state_size).from_buffer_copy(state.llama_state)
        if llama_cpp.llama_state_set_data(llama.ctx, data, state.llama_state_size) != state.llama_state_size:
            raise RuntimeError("llama.cpp could not restore a saved prompt state")
        llama.input_ids[:state.n_tokens] = state.input_ids
        llama.n_tokens = state.n_tokens
        llama._requires_eval = True
        llama._seed = state.seed

    llama.save_state, llama.load_state = save_state, load_state
    llama.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=capacity_bytes))


class LlamaCppLLM(_SchemaLLM):
    """One GGUF in process, loaded on first use; calls are serialised (a context is not re-entrant).

    `prefix_cache_mb` (0: off) bounds the RAM kept for saved prompt states; `nice`
    (None: unchanged) is applied to each thread that runs the model (module docstring).
    """

    def __init__(self, path: Path | str, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, n_gpu_layers: int | None = None, seed: int = 0,
                 fix_hint: str = "tacit models list", prefix_cache_mb: int = 256, nice: int | None = None,
                 adapt_threads: bool = False):
        self.path = Path(path).expanduser()
        self.name = name or self.path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or physical_cores()
        self.n_gpu_layers = n_gpu_layers if n_gpu_layers is not None else (-1 if gpu_offload_supported() else 0)
        self.seed = seed
        self.prefix_cache_mb = prefix_cache_mb
        self.nice = nice
        self.adapt_threads = adapt_threads
        self._threads_now = self.n_threads
        self._last_call_end = 0.0
        self.usage = Usage()
        self._fix_hint = fix_hint
        self._lock = threading.RLock()
        self._llama: Any = None

    @property
    def gpu_offload(self) -> bool:
        return self.n_gpu_layers != 0

    def model(self) -> Any:
        """The loaded llama_cpp.Llama (loads it on first call)."""
        if self.nice is not None:
            lower_thread_priority(self.nice)
        with self._lock:
            if self._llama is None:
                llama = load_llama(self.path, self._fix_hint, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                   n_gpu_layers=self.n_gpu_layers, seed=self.seed)
                if self.prefix_cache_mb:
                    keep_prefix_states(llama, self.prefix_cache_mb << 20)
                self._llama = llama
            return self._llama

    def load(self) -> None:
        self.model()

    def forget_prefixes(self) -> None:
        """Drop the saved prompt states and the context's tokens: the next call evaluates its whole prompt.

        For benchmarks that time the same prompts twice (bench/pipeline.py's quiet and busy runs).
        """
        with self._lock:
            if self._llama is None:
                return
            self._llama.reset()
            if self.prefix_cache_mb:
                keep_prefix_states(self._llama, self.prefix_cache_mb << 20)

    def _fit_threads(self, llama: Any) -> None:
        """Use only the cores other work leaves free (threads_for_load); our own last call still shows in the
        load average for about a minute, so it is subtracted."""
        import llama_cpp

        own = self._threads_now if time.monotonic() - self._last_call_end < 60 else 0
        threads = threads_for_load(self.n_threads, own)
        if threads != self._threads_now:
            llama_cpp.llama_set_n_threads(llama.ctx, threads, threads)
            self._threads_now = threads

    def _evaluated(self) -> int:
        """Prompt tokens llama.cpp has evaluated in this context so far (its perf counter)."""
        import llama_cpp

        return int(llama_cpp.llama_perf_context(self.model().ctx).n_p_eval)

    @property
    def has_chat_template(self) -> bool:
        return "tokenizer.chat_template" in self.model().metadata

    def _generate(self, messages: list[Message], schema: dict[str, Any], max_tokens: int,
                  attempt: int) -> tuple[str, CallStats]:
        from llama_cpp import LlamaGrammar

        llama = self.model()
        grammar = LlamaGrammar.from_json_schema(json.dumps(grammar_schema(schema)), verbose=False)
        # The retry samples a little and penalises repeats: small models fail by looping.
        sampling = {"temperature": 0.0 if attempt == 0 else 0.4, "repeat_penalty": 1.1 if attempt == 0 else 1.3}
        chat = self.has_chat_template
        start = time.perf_counter()
        with self._lock:
            if self.adapt_threads:
                self._fit_threads(llama)
            evaluated = self._evaluated()
            if chat:
                out = llama.create_chat_completion(messages=messages, grammar=grammar, max_tokens=max_tokens,
                                                   **sampling)
                raw = out["choices"][0]["message"]["content"] or ""
            else:
                out = llama.create_completion(prompt=completion_prompt(messages), grammar=grammar,
                                              max_tokens=max_tokens, **sampling)
                raw = out["choices"][0]["text"]
            evaluated = self._evaluated() - evaluated
            self._last_call_end = time.monotonic()
        usage = out["usage"]
        return raw, CallStats(usage["prompt_tokens"], usage["completion_tokens"], time.perf_counter() - start,
                              evaluated)


def completion_prompt(messages: Sequence[Message]) -> str:
    """A base model has no chat template: lay the turns out as plain text ending in an answer slot."""
    lines = []
    for m in messages:
        label = {"system": "", "user": "Input:\n", "assistant": "Output:\n"}.get(m["role"], "")
        lines.append(f"{label}{m['content']}")
    return "\n\n".join(lines) + "\n\nOutput:\n"

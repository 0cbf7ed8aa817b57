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
"""

from __future__ import annotations

import json
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
            "seconds": round(sum(c.seconds for c in self.calls), 3),
        }


class LLM(Protocol):
    name: str
    usage: Usage

    def complete_json(self, prompt: Prompt, schema: type[T], *, max_tokens: int = 512) -> T: ...


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


class LlamaCppLLM(_SchemaLLM):
    """One GGUF in process, loaded on first use; calls are serialised (a context is not re-entrant)."""

    def __init__(self, path: Path | str, *, name: str | None = None, n_ctx: int = 4096,
                 n_threads: int | None = None, n_gpu_layers: int | None = None, seed: int = 0,
                 fix_hint: str = "tacit models list"):
        self.path = Path(path).expanduser()
        self.name = name or self.path.stem
        self.n_ctx = n_ctx
        self.n_threads = n_threads or physical_cores()
        self.n_gpu_layers = n_gpu_layers if n_gpu_layers is not None else (-1 if gpu_offload_supported() else 0)
        self.seed = seed
        self.usage = Usage()
        self._fix_hint = fix_hint
        self._lock = threading.RLock()
        self._llama: Any = None

    @property
    def gpu_offload(self) -> bool:
        return self.n_gpu_layers != 0

    def model(self) -> Any:
        """The loaded llama_cpp.Llama (loads it on first call)."""
        with self._lock:
            if self._llama is None:
                self._llama = load_llama(self.path, self._fix_hint, n_ctx=self.n_ctx, n_threads=self.n_threads,
                                         n_gpu_layers=self.n_gpu_layers, seed=self.seed)
            return self._llama

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
            if chat:
                out = llama.create_chat_completion(messages=messages, grammar=grammar, max_tokens=max_tokens,
                                                   **sampling)
                raw = out["choices"][0]["message"]["content"] or ""
            else:
                out = llama.create_completion(prompt=completion_prompt(messages), grammar=grammar,
                                              max_tokens=max_tokens, **sampling)
                raw = out["choices"][0]["text"]
        usage = out["usage"]
        return raw, CallStats(usage["prompt_tokens"], usage["completion_tokens"], time.perf_counter() - start)


def completion_prompt(messages: Sequence[Message]) -> str:
    """A base model has no chat template: lay the turns out as plain text ending in an answer slot."""
    lines = []
    for m in messages:
        label = {"system": "", "user": "Input:\n", "assistant": "Output:\n"}.get(m["role"], "")
        lines.append(f"{label}{m['content']}")
    return "\n\n".join(lines) + "\n\nOutput:\n"

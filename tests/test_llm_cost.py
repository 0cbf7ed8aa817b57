"""The in-process model's cost settings: the evaluated prompt prefix is reused across steps; model threads run niced."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from tacitd.models.llm import LlamaCppLLM, threads_for_load
from tacitd.models.prompts import audit_messages, propose_messages


def evaluated_per_call(llm: LlamaCppLLM, prompts: list[list[dict[str, str]]]) -> list[tuple[int, int]]:
    """(prompt tokens, prompt tokens llama.cpp evaluated) for each prompt, one token generated."""
    rows = []
    for messages in prompts:
        before = llm._evaluated()
        out = llm.model().create_chat_completion(messages=messages, max_tokens=1, temperature=0)
        rows.append((out["usage"]["prompt_tokens"], llm._evaluated() - before))
    return rows


# Propose calls with another step's prompt between them: the order a pipeline makes them in.
PROMPTS = [propose_messages("app: code | window: train_lora.py | text: LoraConfig(r=16)", "Sam"),
           audit_messages("Sam is behind on the mortgage", "bank letter", ["finances"]),
           propose_messages("app: winword | window: Thesis.docx | text: coral reef bleaching", "Sam"),
           audit_messages("Sam attends Friday prayers", "calendar", ["religion"]),
           propose_messages("app: firefox | window: Osaka hotels | text: Namba, 3 nights in April", "Sam")]


def test_the_shared_prefix_is_evaluated_once_across_interleaved_steps(gemma):
    cached = LlamaCppLLM(gemma.path, n_ctx=1024, prefix_cache_mb=64)
    uncached = LlamaCppLLM(gemma.path, n_ctx=1024, prefix_cache_mb=0)
    with_cache, without = evaluated_per_call(cached, PROMPTS), evaluated_per_call(uncached, PROMPTS)
    assert [t for t, _ in with_cache] == [t for t, _ in without]
    print("with cache", with_cache, "without", without)
    # Without it, llama.cpp reuses only what the previous prompt shares (the chat template's first tokens).
    assert all(evaluated > 0.9 * total for total, evaluated in without[2::2]), without
    # With it, the system prompt and worked example are evaluated once, on the first propose call.
    assert with_cache[0][1] > 0.9 * with_cache[0][0]
    assert all(evaluated < total / 3 for total, evaluated in with_cache[2::2]), with_cache


def test_forgetting_the_prefixes_makes_the_next_call_evaluate_its_whole_prompt(gemma):
    llm = LlamaCppLLM(gemma.path, n_ctx=1024, prefix_cache_mb=64)
    [(total, first)] = evaluated_per_call(llm, PROMPTS[:1])
    [(_, again)] = evaluated_per_call(llm, PROMPTS[:1])
    llm.forget_prefixes()
    [(_, after)] = evaluated_per_call(llm, PROMPTS[:1])
    assert first > 0.9 * total and again < total / 3 and after > 0.9 * total, (total, first, again, after)


def nice_of(tid: int) -> int:
    return int(Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_model_work_runs_at_the_lowest_priority_and_so_do_its_workers(gemma):
    llm = LlamaCppLLM(gemma.path, n_ctx=512, n_threads=2, prefix_cache_mb=0, nice=19)
    own = nice_of(threading.get_native_id())
    before = set(os.listdir("/proc/self/task"))
    seen: dict[str, object] = {}

    def work() -> None:
        llm.model().create_completion("Name three rivers:", max_tokens=4, temperature=0)
        me = threading.get_native_id()
        seen["model thread"] = nice_of(me)
        # OpenMP workers live as long as the thread that started them.
        seen["workers"] = {nice_of(int(t)) for t in set(os.listdir("/proc/self/task")) - before - {str(me)}}

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(timeout=120)
    assert seen == {"model thread": 19, "workers": {19}}
    assert nice_of(threading.get_native_id()) == own < 19  # the caller's own thread is untouched


def test_threads_follow_the_cores_other_work_leaves(monkeypatch):
    def load(value: float) -> None:
        monkeypatch.setattr(os, "getloadavg", lambda: (value, 0.0, 0.0))

    load(0.1)
    assert threads_for_load(2) == 2
    load(1.2)  # one core of two busy: one thread, not two stalled on each other
    assert threads_for_load(2) == 1
    load(2.1)  # that load was the model's own two threads: the machine is free
    assert threads_for_load(2, own_threads=2) == 2
    load(9.0)
    assert threads_for_load(2) == 1 and threads_for_load(16) == 7


def test_openmp_threads_sleep_while_waiting_unless_the_environment_says_otherwise():
    import subprocess
    import sys

    probe = "import os, tacitd.models.llm; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    runs = [subprocess.run([sys.executable, "-c", probe], env=e, capture_output=True, text=True, check=True)
            for e in (env, {**env, "OMP_WAIT_POLICY": "active"})]
    assert [r.stdout.strip() for r in runs] == ["PASSIVE", "active"]

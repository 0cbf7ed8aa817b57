"""`tacit process` and pipeline/run.py on the bundled sample day (bench/data/day.jsonl).

The model's answers come from a stand-in here (the pipeline's logic: what is
proposed from, what is linked, what is replayed); the default embedder and
the store are real, and the CLI talks to the stand-in over real HTTP as to
any OpenAI-compatible server. The real model runs the whole day in
`test_the_sample_day_with_the_default_model` (minutes; the main job).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from daemon_proc import daemon  # noqa: F401  (fixture: a real daemon, pipeline off)

from tacitd.daemon.pipeline.queue import enqueue
from tacitd.daemon.pipeline.revise import Relation, ReviseParams, cosine
from tacitd.daemon.pipeline.run import Pipeline, process
from tacitd.memory.store import Store
from tacitd.memory.types import Observation
from tacitd.models.llm import Usage
from tacitd.models.prompts import Draft, Drafts

ROOT = Path(__file__).parents[1]
DAY = ROOT / "bench" / "data" / "day.jsonl"
TACIT = Path(sys.executable).with_name("tacit")
NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
# What the stand-in "sees" in a segment, and the claim it makes; anything else gets a generic claim
# (which propose's filter drops).
CLAIMS = {
    "RewardModel": "Sam is training a reward model in PyTorch",
    "grant proposal": "Sam is writing a grant proposal on soil moisture sensors",
    "Osaka": "Sam is planning a trip to Osaka in March",
    "tokio": "Sam is debugging tokio::select! in a Rust project",
}
NOISE_WORDS = ("cruise", "hiking boots", "gift card", "hunter2", "password", "bank")
# The tokio forum thread holds an injection: its segment's text and titles are withheld (injection.py),
# so the stand-in sees only the app and the site, and nothing is learned from it.
LEARNED = sorted(set(CLAIMS.values()) - {CLAIMS["tokio"]})


def answer(messages: list[dict[str, str]], schema_title: str) -> dict:
    """The stand-in model: a fixed claim per activity, and 'unrelated' for every pair it is asked about."""
    if schema_title == "Relation":
        return Relation(reason="stand-in", same_subject=False, both_true_now=True, new_adds_detail=True).model_dump()
    session = messages[-1]["content"]
    claims = [text for marker, text in CLAIMS.items() if marker.lower() in session.lower()]
    did = {"basis": "did"} if "basis" in Draft.model_fields else {}  # G is adding 'basis' to Draft
    drafts = [Draft(text=t, reasoning="seen on screen in this session", confidence=0.9, half_life_days=14, **did)
              for t in claims or ["Sam uses Firefox to browse the web"]]
    return Drafts(propositions=drafts).model_dump()


class StandIn:
    name = "stand-in"

    def __init__(self):
        self.usage = Usage()
        self.sessions: list[str] = []

    def complete_json(self, prompt, schema, *, max_tokens=512):
        if schema is Drafts:
            self.sessions.append(prompt[-1]["content"])
        return schema.model_validate(answer(prompt, schema.__name__))


def day(shift_days: int = 0) -> list[Observation]:
    out = []
    for line in DAY.read_text(encoding="utf-8").splitlines():
        o = Observation.model_validate_json(line)
        out.append(o.model_copy(update={"captured_at": o.captured_at + timedelta(days=shift_days)}))
    return out


@pytest.fixture
def embed(store, minilm):
    store.ensure_vector_index(minilm.name, minilm.dim)
    return lambda text: minilm.embed([text])[0]


def llm_texts(store: Store) -> list[str]:
    return sorted(p.text for p in store.recent(100) if p.source == "llm")


def test_the_sample_day_proposes_only_from_activities_and_links_its_evidence(store, embed):
    stand_in = StandIn()
    enqueue(store, day())
    report = process(Pipeline(store, stand_in, embed, user="Sam"), now=lambda: NOW)
    s = report.summary()
    assert s["skipped"] == 4 and s["quarantined"] == 0  # the ad, the two mails, the terminal without text
    assert not any(w in session.lower() for session in stand_in.sessions
                   for w in ("cruise", "gift card", "boots", "markets fell"))  # noise, and news only read
    assert len(stand_in.sessions) == 5
    assert llm_texts(store) == LEARNED  # the two reward-model days give one claim
    for p in store.recent(100):
        evidence = store.evidence_for(p.id)
        assert evidence, p.text
        assert not any(w in o.text.lower() for o in evidence for w in ("cruise", "gift card", "boots"))
    reward = next(p for p in store.recent(100) if "reward model" in p.text)
    assert store.queue.support([reward.id])[reward.id].days == 2 and reward.confidence > 0.5
    assert s["stats_added"] >= 3 and store.queue.counts()["pending"] == 0


def test_a_draft_that_says_what_the_example_says_is_dropped_by_meaning(store, embed):
    copy = "Sam listens to Google Docs pages on Firefox while writing"  # Qwen 1.5B, in a run of `make demo`

    class Copier(StandIn):
        def complete_json(self, prompt, schema, *, max_tokens=512):
            out = super().complete_json(prompt, schema, max_tokens=max_tokens)
            if schema is Drafts and "grant proposal" in prompt[-1]["content"].lower():
                out = Drafts(propositions=[*out.propositions, out.propositions[0].model_copy(update={"text": copy})])
            return out

    enqueue(store, day())
    report = process(Pipeline(store, Copier(), embed, user="Sam"), now=lambda: NOW)
    assert copy not in llm_texts(store) and CLAIMS["grant proposal"] in llm_texts(store)
    assert (copy, "copies the worked example (by meaning)") in [(d.text, d.reason) for _, d in report.learned.dropped]


def test_replaying_the_day_adds_no_duplicate_and_raises_confidence(store, embed):
    pipeline = Pipeline(store, StandIn(), embed, user="Sam")
    enqueue(store, day())
    process(pipeline, now=lambda: NOW)
    before = {p.text: p.confidence for p in store.recent(100) if p.source == "llm"}
    enqueue(store, day(shift_days=7))
    process(pipeline, now=lambda: NOW + timedelta(days=7))
    after = {p.text: p.confidence for p in store.recent(100) if p.source == "llm"}
    assert sorted(after) == sorted(before)
    assert all(after[t] > before[t] for t in before), (before, after)


def test_a_second_run_on_an_empty_queue_calls_no_model(store, embed):
    enqueue(store, day())
    process(Pipeline(store, StandIn(), embed), now=lambda: NOW)
    idle = StandIn()
    report = process(Pipeline(store, idle, embed), now=lambda: NOW)
    assert report.summary()["segments"] == 0 and idle.usage.calls == [] and idle.sessions == []


# -- the CLI, against the stand-in over HTTP -----------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        fmt = body["response_format"]
        schema = fmt["json_schema"]["schema"] if "json_schema" in fmt else fmt["schema"]
        content = json.dumps(answer(body["messages"], schema["title"]))
        reply = json.dumps({"choices": [{"message": {"content": content}}],
                            "usage": {"prompt_tokens": 100, "completion_tokens": 20}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    thread.join()


@pytest.fixture
def tacit(tmp_path, monkeypatch, server, minilm_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\nbackend = "openai"\nopenai_base_url = "{server}"\n', encoding="utf-8")
    monkeypatch.setenv("TACIT_CONFIG", str(config))
    env = {**os.environ, "TACIT_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=300)

    return run


def test_cli_ingest_then_process_json_reports_decisions_and_beliefs_with_evidence(tacit):
    assert tacit("ingest", str(DAY)).returncode == 0
    proc = tacit("process", "--user", "Sam", "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["summary"]["skipped"] == 4 and out["queue"]["pending"] == 0 and out["quarantined"] == []
    believed = [b for b in out["believed"] if b["source"] == "llm"]
    assert sorted(b["text"] for b in believed) == LEARNED
    assert all(b["evidence"] for b in out["believed"])
    assert not any(w in b["text"].lower() for b in out["believed"] for w in NOISE_WORDS)
    relations = {d["draft"]: d["relation"] for d in out["decisions"] if d["stored"]}
    assert relations[CLAIMS["RewardModel"]] in ("unrelated", "identical")
    again = json.loads(tacit("process", "--json").stdout)
    assert again["summary"]["segments"] == 0 and again["decisions"] == []


def test_cli_process_prints_what_it_learned_and_believes(tacit):
    tacit("ingest", str(DAY))
    proc = tacit("process", "--user", "Sam")
    assert proc.returncode == 0, proc.stderr
    assert "learned" in proc.stdout and "seen again" in proc.stdout
    assert "what tacit believes" in proc.stdout and CLAIMS["Osaka"] in proc.stdout
    assert "confidence 0.50" in proc.stdout and "Skyscanner" in proc.stdout  # a belief, its confidence, its evidence


# -- beside a running daemon ---------------------------------------------------------------------------


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=300)


def test_process_is_refused_while_a_daemon_runs_and_ingest_feeds_the_daemon(daemon, server, minilm_path, tmp_path):
    env = dict(daemon.env)  # its data dir, socket and key; its pipeline is off, so the queue stays as it is
    ingested = _cli(env, "ingest", str(DAY), "--json")
    assert ingested.returncode == 0, ingested.stderr  # only adds to the durable queue, as POST /v1/observations
    queue = daemon.status()["queue"]
    assert queue["pending"] == json.loads(ingested.stdout)["ingested"] > 0  # the daemon sees what was ingested

    refused = _cli(env, "process", "--json")
    assert refused.returncode == 1 and refused.stdout == ""
    assert refused.stderr.count("\n") == 1 and f"daemon (pid {daemon.pid}) is running" in refused.stderr
    assert "--alongside-daemon" in refused.stderr and "Traceback" not in refused.stderr
    assert daemon.status()["queue"] == queue  # nothing was taken from the queue

    config = tmp_path / "stand-in.toml"  # a daemon whose pipeline is off: the user processes by hand
    config.write_text(f'[models]\nbackend = "openai"\nopenai_base_url = "{server}"\n', encoding="utf-8")
    done = _cli({**env, "TACIT_CONFIG": str(config)}, "process", "--alongside-daemon", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["summary"]["processed"] > 0
    assert daemon.status()["queue"]["pending"] == 0


# -- the main job with the default model (minutes on 2 cores) -------------------------------------


def test_the_sample_day_with_the_default_model(tmp_path, monkeypatch, minilm, qwen):
    """`tacit ingest day.jsonl && tacit process --json` on a fresh data dir, with the bundled model."""
    monkeypatch.setenv("TACIT_CONFIG", str(tmp_path / "none.toml"))
    env = {**os.environ, "TACIT_DATA_DIR": str(tmp_path / "data")}
    assert subprocess.run([str(TACIT), "ingest", str(DAY)], env=env, capture_output=True).returncode == 0
    proc = subprocess.run([str(TACIT), "process", "--user", "Sam", "--json"], env=env, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["quarantined"] == [] and out["summary"]["skipped"] == 4
    learned = [b for b in out["believed"] if b["source"] == "llm"]
    assert learned, out["decisions"]
    assert all(b["evidence"] for b in out["believed"])
    for b in learned:
        assert not any(w in b["text"].lower() for w in NOISE_WORDS), b["text"]
        cited = " ".join(e["text"].lower() for e in b["evidence"])
        assert not any(w in cited for w in ("cruise", "gift card", "hiking boots")), b["text"]
    vectors = minilm.embed([b["text"] for b in learned])
    for i in range(len(learned)):
        for j in range(i + 1, len(learned)):
            assert cosine(vectors[i], vectors[j]) < ReviseParams().identical_at, (learned[i]["text"],
                                                                                  learned[j]["text"])


def test_a_claim_the_user_rejected_is_not_learned_again_from_the_same_activity(store, embed, qwen):
    """The real model proposes from a coding session; the user rejects what it learned; a week later the same
    session comes back, the model proposes the same claims, and none is stored again."""
    first = datetime(2026, 11, 9, 9, 0, tzinfo=UTC)
    # The same prompt after other tests' prompts is evaluated from a different saved prefix, which moves the
    # numbers enough for Qwen to word another claim (after test_injection's, nothing was proposed twice).
    qwen.forget_prefixes()

    def session(start: datetime) -> list[Observation]:
        return [Observation(observer="screen", app="code", window_title="train_lora.py — finetune", text=text,
                            captured_at=start + timedelta(minutes=4 * i), duration_s=240)
                for i, text in enumerate(["from peft import LoraConfig, get_peft_model",
                                          "config = LoraConfig(r=16, lora_alpha=32, target_modules=['q_proj'])"])]

    enqueue(store, session(first))
    process(Pipeline(store, qwen, embed, user="Sam"), now=lambda: NOW)
    learned = [p for p in store.recent(50) if p.source == "llm"]
    assert learned, "the default model should learn something from the session"
    for p in learned:
        store.reject(p.id, note="not me: a colleague's laptop")
    enqueue(store, session(first + timedelta(days=7)))
    again = Pipeline(store, qwen, embed, user="Sam")
    process(again, now=lambda: NOW)
    assert any(d.blocked for _, d in again.learned.decisions), again.learned.decisions
    rejected = [p.text for p in learned]
    for p in (p for p in store.recent(50) if p.source == "llm"):  # the model may word a new, other claim
        assert max(cosine(embed(p.text), embed(text)) for text in rejected) < ReviseParams().identical_at, p.text

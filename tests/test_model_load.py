"""A model file that cannot be loaded is the model's fault: it is reported before any work is charged to it.

Without this, `tacit process` (and the daemon's model child) loaded the model on the first
segment's call, so a corrupt GGUF counted a failed try against every queued segment until
each was quarantined.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon_proc import running_daemon, wait_until
from test_process import server  # noqa: F401  (the stand-in OpenAI-compatible model)
from tacitd.memory.store import Store
from tacitd.models.errors import ModelError
from tacitd.models.llm import LlamaCppLLM

ROOT = Path(__file__).resolve().parent.parent
DAY = ROOT / "bench" / "data" / "day.jsonl"
TACIT = Path(sys.executable).with_name("tacit")


@pytest.fixture
def broken_gguf(tmp_path: Path) -> Path:
    path = tmp_path / "broken.gguf"
    path.write_bytes(b"GGUF" + bytes(range(256)) * 64)  # the magic, then nothing llama.cpp can read
    return path


def test_loading_a_corrupt_gguf_raises_a_model_error_naming_the_file(broken_gguf):
    with pytest.raises(ModelError) as err:
        LlamaCppLLM(broken_gguf).load()
    assert str(broken_gguf) in str(err.value)


def test_process_with_a_corrupt_model_says_so_and_charges_no_segment(tmp_path, broken_gguf, minilm_path):
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\nllm = "{broken_gguf}"\n', encoding="utf-8")
    env = {**os.environ, "TACIT_CONFIG": str(config), "TACIT_DATA_DIR": str(tmp_path / "data")}

    def tacit(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=300)

    assert tacit("ingest", str(DAY)).returncode == 0
    proc = tacit("process", "--json")
    assert proc.returncode == 1
    assert "could not load" in proc.stderr and str(broken_gguf) in proc.stderr
    assert proc.stderr.count("\n") <= 2, proc.stderr  # one clear line, not a traceback
    assert json.loads(tacit("quarantine", "list", "--json").stdout) == []
    store = Store(tmp_path / "data" / "tacit.db")
    try:
        tries = store.db.execute("SELECT coalesce(max(attempts), 0) FROM segments").fetchone()[0]
        assert tries == 0
        counts = store.queue.counts()
        assert counts["processed"] == counts["quarantined"] == 0 and sum(counts.values()) > 0
    finally:
        store.close()


def test_the_daemon_with_a_corrupt_model_turns_its_pipeline_off_and_charges_no_segment(tmp_path, broken_gguf):
    """The model child loads the model before it says it is ready, so the daemon reports the bad file
    and leaves the queue alone, instead of quarantining every segment one failed try at a time."""
    at = datetime.now(UTC) - timedelta(hours=1)
    page = [{"text": f"notes on the reward model, part {i}", "app": "code", "window_title": "reward_model.py",
             "captured_at": (at + timedelta(seconds=i)).isoformat()} for i in range(3)]
    with running_daemon(tmp_path, model=str(broken_gguf)) as d:
        worker = wait_until(lambda: (w := d.status()["daemon"]["worker"])["state"] == "off" and w, 60,
                            what="the worker to give up on the model")
        assert "could not load" in worker["reason"] and str(broken_gguf) in worker["reason"]
        assert d.post("/v1/observations", json={"observations": page}).status_code in (200, 201)
        status = d.status()
        assert status["quarantined"] == 0 and status["queue"]["pending"] == 3
        assert d.status()["daemon"]["pid"] == d.pid


def test_a_corrupt_embedder_means_no_vectors_and_one_warning_not_failed_segments(tmp_path, broken_gguf, server):
    """The embedder is loaded when it is built, so its callers' fallback (full-text only) catches a bad file;
    loaded lazily, the first draft's embedding raised inside the pipeline and every segment was quarantined."""
    config = tmp_path / "config.toml"
    config.write_text(f'[models]\nbackend = "openai"\nopenai_base_url = "{server}"\nembedder = "{broken_gguf}"\n',
                      encoding="utf-8")
    env = {**os.environ, "TACIT_CONFIG": str(config), "TACIT_DATA_DIR": str(tmp_path / "data")}
    assert subprocess.run([str(TACIT), "ingest", str(DAY)], env=env, capture_output=True).returncode == 0
    proc = subprocess.run([str(TACIT), "process", "--json"], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["quarantined"] == [] and out["summary"]["processed"] > 0
    assert proc.stderr.count("warning: no embedder") == 1 and str(broken_gguf) in proc.stderr


def test_process_with_a_model_server_that_does_not_answer_says_so_and_charges_no_segment(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text('[models]\nbackend = "openai"\nopenai_base_url = "http://127.0.0.1:9/v1"\n', encoding="utf-8")
    env = {**os.environ, "TACIT_CONFIG": str(config), "TACIT_DATA_DIR": str(tmp_path / "data")}
    assert subprocess.run([str(TACIT), "ingest", str(DAY)], env=env, capture_output=True).returncode == 0
    proc = subprocess.run([str(TACIT), "process", "--json"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "no answer from the model server" in proc.stderr and proc.stderr.count("\n") <= 2, proc.stderr
    store = Store(tmp_path / "data" / "tacit.db")
    try:
        assert store.db.execute("SELECT coalesce(max(attempts), 0) FROM segments").fetchone()[0] == 0
        assert store.queue.counts()["quarantined"] == 0
    finally:
        store.close()


def test_the_daemon_retries_a_model_server_that_does_not_answer_with_backoff(tmp_path):
    """A server that is down may come back (unlike a corrupt file): the model child exits and is restarted
    with backoff, and no segment is charged meanwhile."""
    env = {"TACIT_MODELS__BACKEND": "openai", "TACIT_MODELS__OPENAI_BASE_URL": "http://127.0.0.1:9/v1"}
    with running_daemon(tmp_path, env=env) as d:
        worker = wait_until(lambda: (w := d.status()["daemon"]["worker"])["crashes"] >= 1 and w, 60,
                            what="the model child to give up on the server once")
        assert worker["last_crash"]["exitcode"] == 69 and worker["state"] in ("restarting", "starting")
        assert d.status()["quarantined"] == 0
    assert "no answer from the model server" in d.log_text()

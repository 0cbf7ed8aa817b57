"""Network-facing model code, against real servers on loopback: llama_cpp.server and a stand-in hub."""

from __future__ import annotations

import hashlib
import http.server
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from pydantic import BaseModel, Field

from tacitd.models import presets
from tacitd.models.errors import ModelError
from tacitd.models.openai_http import OpenAICompatLLM


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)  # polling a starting server; there is no event to wait on
    raise TimeoutError(url)


class Verdict(BaseModel):
    app: str = Field(max_length=30)
    productive: bool


def test_openai_backend_against_llama_cpp_server(gemma, tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:  # a file, not a pipe: llama.cpp logs enough to fill a pipe and stall
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gemma.path), "--host", "127.0.0.1",
             "--port", str(port), "--n_ctx", "1024", "--model_alias", "gemma"],
            stdout=sink, stderr=sink,
        )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/v1/models", proc, log)
        llm = OpenAICompatLLM(f"http://127.0.0.1:{port}/v1", "gemma")
        verdict = llm.complete_json("Sam spent an hour in VS Code writing tests. Which app, and was it productive?",
                                    Verdict, max_tokens=64)
        assert isinstance(verdict, Verdict) and verdict.app
        assert llm.usage.totals()["completion_tokens"] > 0
        llm.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_unreachable_endpoint_is_a_clear_error():
    llm = OpenAICompatLLM(f"http://127.0.0.1:{free_port()}/v1", "none", timeout_s=2)
    with pytest.raises(ModelError, match="request failed"):
        llm.complete_json("hi", Verdict)


class FakeHub(http.server.BaseHTTPRequestHandler):
    """Just enough of the hub's `resolve` endpoint for huggingface_hub to download a file."""

    files: dict[str, bytes] = {}
    truncate: bool = False

    def _head(self) -> bytes | None:
        name = self.path.split("/resolve/main/", 1)[-1]
        body = self.files.get(name)
        if body is None:
            self.send_response(404)
            self.end_headers()
            return None
        self.send_response(200)
        self.send_header("X-Repo-Commit", "a" * 40)
        self.send_header("ETag", f'"{hashlib.sha256(body).hexdigest()}"')
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        return body

    def do_HEAD(self):  # noqa: N802
        self._head()

    def do_GET(self):  # noqa: N802
        body = self._head()
        if body is not None:
            self.wfile.write(body[: len(body) // 3] if self.truncate else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def hub(monkeypatch):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    good = b"GGUF" + b"\x03\x00\x00\x00" + bytes(range(256)) * 400
    FakeHub.files = {"tiny.gguf": good, "not-a-model.gguf": b"<html>oops</html>"}
    FakeHub.truncate = False
    for name, filename, sha in (("tiny", "tiny.gguf", hashlib.sha256(good).hexdigest()),
                                ("junk", "not-a-model.gguf", None)):
        monkeypatch.setitem(presets.PRESETS, name, presets.Preset(
            name, "llm", len(FakeHub.files[filename]), "hub", filename, "test", repo="test/repo", sha256=sha))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HUB_ETAG_TIMEOUT", "5")
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def files_in(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and p.suffix != ".lock"
                  and "metadata" not in p.name)


def test_pull_downloads_and_verifies(hub, tmp_path):
    (path,) = presets.pull(presets.get("tiny"), tmp_path, endpoint=hub)
    assert path == tmp_path / "tiny.gguf"
    assert path.read_bytes() == FakeHub.files["tiny.gguf"]
    assert presets.installed(presets.get("tiny"), tmp_path)


def test_a_file_that_is_not_a_gguf_is_removed(hub, tmp_path):
    with pytest.raises(ModelError, match="not a GGUF"):
        presets.pull(presets.get("junk"), tmp_path, endpoint=hub)
    assert not (tmp_path / "not-a-model.gguf").exists()


def test_a_broken_download_leaves_no_half_file(hub, tmp_path):
    FakeHub.truncate = True
    with pytest.raises(ModelError, match="download of test/repo/tiny.gguf failed"):
        presets.pull(presets.get("tiny"), tmp_path, endpoint=hub)
    assert not [f for f in files_in(tmp_path) if "gguf" in f]

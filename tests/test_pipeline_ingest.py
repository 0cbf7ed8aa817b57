"""`tacit ingest FILE.jsonl`: through the privacy filter onto the queue; a bad line names itself, changes nothing."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tacitd.memory.store import Store

from pipeline_helpers import frame, jsonl, workday

TACIT = Path(sys.executable).with_name("tacit")
AWS_KEY = "AKIAZ7QW3ERT5YUI8OPL"  # an AWS access key id, shaped like a real one


@pytest.fixture
def tacit(tmp_path, monkeypatch):
    data = tmp_path / "data"
    # One config dir for this process and the commands, so both find the same database key.
    monkeypatch.setenv("TACIT_CONFIG", str(tmp_path / "none.toml"))
    env = {**os.environ, "TACIT_DATA_DIR": str(data)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=120)

    run.db = data / "tacit.db"
    run.env = env
    return run


def observations_in(db: Path) -> int:
    if not db.exists():
        return 0
    with Store(db) as store:
        return store.counts()["observations"]


def test_ingest_filters_stores_and_queues(tacit, tmp_path):
    records = [
        *workday(),
        frame(10, "kitty", "deploy", f"export AWS_ACCESS_KEY_ID={AWS_KEY}"),
        frame(12, "KeePassXC", "Passwords.kdbx", "bank login"),  # an excluded app: dropped whole
    ]
    path = tmp_path / "day.jsonl"
    path.write_text(jsonl(records))
    result = tacit("ingest", str(path), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["read"] == 7 and summary["ingested"] == 6 and summary["excluded"] == 1
    assert summary["redacted"] == 1 and summary["queue"]["pending"] == 6
    with Store(tacit.db) as store:
        texts = [o.text for o in store.all_observations()]
        assert not any(AWS_KEY in t for t in texts) and any("[REDACTED" in t for t in texts)
        assert not any("bank login" in t for t in texts)
        captured = sorted(o.captured_at.isoformat() for o in store.all_observations())
    assert captured[0] == workday()[0]["captured_at"]  # capture times kept, not ingest times
    human = tacit("ingest", str(path))
    assert human.returncode == 0 and "Ingested 6 of 7" in human.stdout


@pytest.mark.parametrize(("bad", "message"), [
    ("{not json", "line 3: not JSON"),
    ("[1, 2]", "line 3: expected a JSON object, got list"),
    (json.dumps({**workday()[0], "id": 7}), "line 3: id: tacit numbers observations itself"),
    (json.dumps({k: v for k, v in workday()[0].items() if k != "captured_at"}), "line 3: captured_at: required"),
    (json.dumps({**workday()[0], "captured_at": "yesterday"}), "line 3: captured_at:"),
    (json.dumps({**workday()[0], "observer": "Screen Reader"}), "line 3: observer:"),
    (json.dumps({**workday()[0], "duration_s": -5}), "line 3: duration_s:"),
    (json.dumps({**workday()[0], "duration_s": 12345.678}).replace("12345.678", "1e400"), "line 3: duration_s:"),
    (json.dumps({**workday()[0], "duration_s": 1e9}), "line 3: duration_s:"),
    (json.dumps({**workday()[0], "colour": "red"}), "line 3: colour:"),
])
def test_a_bad_line_is_named_and_nothing_is_ingested(tacit, tmp_path, bad, message):
    earlier = tmp_path / "earlier.jsonl"
    earlier.write_text(jsonl(workday()[:1]))
    assert tacit("ingest", str(earlier)).returncode == 0
    path = tmp_path / "day.jsonl"
    good = [json.dumps(r) for r in workday()]
    path.write_text("\n".join([good[0], "", bad, *good[1:]]) + "\n")  # line 2 is blank, line 3 is bad
    result = tacit("ingest", str(path), "--json")
    assert result.returncode == 1 and message in result.stderr, result.stderr
    assert "nothing was ingested" in result.stderr and result.stdout == ""
    assert observations_in(tacit.db) == 1


def test_a_file_that_is_not_utf8_is_refused(tacit, tmp_path):
    path = tmp_path / "day.jsonl"
    path.write_bytes(jsonl(workday()).encode() + b"\xff\xfe\n")
    result = tacit("ingest", str(path))
    assert result.returncode == 1 and "not UTF-8" in result.stderr
    assert observations_in(tacit.db) == 0


@pytest.fixture
def big_file(tmp_path) -> Path:
    paragraph = "Notes on the LoRA rank sweep: rank 8 beat rank 4 on the eval set. " * 120
    records = [frame(i, "code", "notes.md — finetune", f"{i}: {paragraph}") for i in range(140)]
    path = tmp_path / "big.jsonl"
    path.write_text(jsonl(records))
    assert path.stat().st_size > 1 << 20  # big enough for a progress bar
    return path


def test_a_large_file_shows_progress_on_a_terminal(tacit, big_file):
    master, terminal = pty.openpty()
    proc = subprocess.Popen([str(TACIT), "ingest", str(big_file)], env=tacit.env, stdout=subprocess.PIPE,
                            stderr=terminal)
    os.close(terminal)
    try:
        shown = _drain(master, proc)  # read while it runs: a full terminal buffer would block it
        out = proc.stdout.read().decode()
    finally:
        os.close(master)
        proc.kill()
        proc.wait()
    assert proc.returncode == 0 and "Ingested 140 of 140" in out
    assert "reading" in shown and "privacy filter" in shown and "%" in shown


def _drain(fd: int, proc: subprocess.Popen, timeout: float = 120) -> str:
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            if proc.poll() is not None:
                break
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the other end is closed: all read
            break
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def test_json_output_stays_clean_for_a_large_file(tacit, big_file):
    result = tacit("ingest", str(big_file), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ingested"] == 140 and result.stderr == ""


def test_the_pipeline_commands_are_registered_and_their_module_does_not_import_the_root_group():
    code = ("import sys, tacitd.daemon.cli_pipeline; print('tacitd.daemon.cli' in sys.modules); "
            "from tacitd.daemon.cli import cli; print(sorted(cli.get_command(None, 'quarantine').commands), "
            "'ingest' in cli.list_commands(None))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["False", "['drop', 'list', 'retry'] True"]

"""The `tacit` command as a user runs it: the installed console script, a real data dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from tacitd.memory.db import connect

TACIT = Path(sys.executable).with_name("tacit")


@pytest.fixture
def tacit(tmp_path):
    env = {**os.environ, "TACIT_DATA_DIR": str(tmp_path / "data"), "TACIT_CONFIG": str(tmp_path / "none.toml")}

    def run(*args: str, ok: bool = True, stdin: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, input=stdin,
                                timeout=60)
        assert (result.returncode == 0) == ok, result.stderr + result.stdout
        return result

    def run_json(*args: str):
        return json.loads(run(*args, "--json").stdout)

    run.json = run_json
    run.data = tmp_path / "data"
    run.env = env  # tests may set e.g. TZ before calling run
    return run


def test_add_then_query_returns_it_with_score_parts(tacit):
    added = tacit.json("add", "Sam prefers dark mode")
    assert added["source"] == "user" and added["confidence"] == 1.0
    tacit("add", "Sam cycles to work")
    result = tacit.json("query", "dark mode")
    top, *rest = result["results"]
    assert top["proposition"]["id"] == added["id"]
    assert all(r["score"] < top["score"] / 3 for r in rest)
    parts = top["parts"]
    assert set(parts) >= {"bm25_rank", "vector_rank", "recency", "confidence", "relevance"}
    assert parts["bm25_rank"] == 1 and result["results"][0]["why"]


def test_query_text_is_embedded_as_a_query(tacit, e5):
    """e5 puts "query: " before a question and "passage: " before what is stored."""
    tacit.env["TACIT_MODELS__EMBEDDER"] = "multilingual-e5-small"
    stored, asked = "Sam bakes sourdough bread on Sundays", "bread"
    tacit("add", stored)
    similarity = tacit.json("query", asked)["results"][0]["parts"]["similarity"]

    def unit(v):
        return v / np.linalg.norm(v)

    passage = unit(e5.embed([stored])[0])
    as_query, as_passage = (float(unit(v) @ passage) for v in (e5.embed_query([asked])[0], e5.embed([asked])[0]))
    assert abs(as_query - as_passage) > 0.02  # so the prefix the CLI used shows
    assert similarity == pytest.approx(as_query, abs=2e-3)


def test_show_confirm_reject_recent(tacit):
    a = tacit.json("add", "Sam drinks espresso", "--confidence", "0.4")
    b = tacit.json("add", "Sam owns a cat", "--confidence", "0.4")
    assert tacit.json("confirm", str(a["id"]))["confidence"] == 1.0
    assert tacit.json("reject", str(b["id"]), "--note", "a dog")["status"] == "rejected"
    shown = tacit.json("show", str(b["id"]))
    assert shown["feedback"][0]["kind"] == "reject" and shown["feedback"][0]["note"] == "a dog"
    assert [p["id"] for p in tacit.json("recent")] == [a["id"]]
    assert "Sam drinks espresso" in tacit("recent").stdout


def test_stored_text_prints_as_itself_not_as_markup(tacit):
    """A memory may hold '[/red]' or '[bold]' (typed, or read off a screen): it prints verbatim, and never crashes."""
    text = "Sam types [/red] and [bold]tags[/bold] in notes"
    pid = str(tacit.json("add", text)["id"])
    for args in (("show", pid), ("recent",), ("query", "tags notes"), ("confirm", pid), ("edit", pid, text + "!")):
        out = tacit(*args).stdout
        assert "[/red]" in out and "[bold]tags[/bold]" in out, (args, out)


def test_forget_by_id_and_since(tacit):
    a = tacit.json("add", "Sam collects stamps")
    assert tacit.json("forget", str(a["id"]))["forgotten"]["propositions"] == 1
    tacit("add", "Sam plays the cello")
    assert tacit.json("forget", "--since", "1h")["forgotten"]["propositions"] == 1
    assert tacit.json("recent") == []


@pytest.mark.parametrize(("args", "says"), [
    (("forget", "--yes"), "say what to forget"),
    (("forget", "1", "--since", "1h"), "not both"),
])
def test_forget_without_a_target_or_with_two_says_which(tacit, args, says):
    proc = tacit(*args, ok=False)
    assert proc.returncode == 2 and says in proc.stderr


def test_forget_says_when_a_reader_keeps_the_text_in_the_file(tacit):
    secret = tacit.json("add", "Sam's locker code is 4711")
    reader = connect(tacit.data / "tacit.db")
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM propositions").fetchone()  # holds a snapshot open
    try:
        held = tacit.json("forget", str(secret["id"]), "--yes")
        assert held == {"forgotten": {"propositions": 1, "observations": 0}, "scrub_pending": True}
        assert "may stay in the file" in tacit("forget", str(tacit.json("add", "Sam naps")["id"])).stdout
    finally:
        reader.execute("COMMIT")
        reader.close()
    later = tacit.json("forget", str(tacit.json("add", "Sam sings")["id"]))
    assert later["scrub_pending"] is False


def test_export_import_round_trip(tacit, tmp_path):
    tacit("add", "Sam hikes in the Alps", "--half-life", "365")
    tacit("add", "Sam is learning Go", "--reasoning", "go.dev tabs")
    dump = tacit("export").stdout
    md = tacit("export", "--format", "markdown").stdout
    assert "Sam hikes in the Alps" in md
    other = tmp_path / "other"
    env = {**os.environ, "TACIT_DATA_DIR": str(other), "TACIT_CONFIG": str(tmp_path / "none.toml")}
    subprocess.run([str(TACIT), "import", "-"], input=dump, env=env, check=True, capture_output=True, text=True)
    again = subprocess.run([str(TACIT), "export"], env=env, check=True, capture_output=True, text=True).stdout
    assert again == dump


@pytest.mark.parametrize(
    "args, message",
    [
        (("show", "42"), "no proposition with id 42"),
        (("add", "x", "--confidence", "1.7"), "1.7 is not in the range"),
        (("add", "   "), "invalid text"),
        (("query", "x", "--since", "yesterday-ish"), "cannot read time"),
        (("forget",), "say what to forget: a proposition ID, or --since"),
    ],
)
def test_bad_input_gets_one_clear_line_and_changes_nothing(tacit, args, message):
    result = tacit(*args, ok=False)
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert tacit.json("recent") == []


def test_corrupt_database_is_reported_not_overwritten(tacit):
    tacit.data.mkdir(parents=True)
    db = tacit.data / "tacit.db"
    db.write_bytes(b"garbage" * 1000)
    result = tacit("recent", ok=False)
    assert "unreadable" in result.stderr and "tacit import" in result.stderr
    assert db.read_bytes() == b"garbage" * 1000


def test_help_explains_commands(tacit):
    out = tacit("--help").stdout
    for command in ("add", "query", "recent", "show", "confirm", "reject", "forget", "export", "import"):
        assert command in out
    assert "--since" in tacit("query", "--help").stdout


def test_importing_the_cli_module_alone_registers_every_command():
    code = ("from tacitd.daemon.cli import cli; names = cli.list_commands(None); "
            "print(' '.join(n for n in names if cli.get_command(None, n).name == n)); "
            "print(' '.join(sorted(cli.get_command(None, 'models').commands)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    top, models = (set(line.split()) for line in out.splitlines())
    assert top >= {"add", "query", "recent", "show", "confirm", "reject", "forget", "export", "import",
                   "walkthrough", "models", "doctor", "observe", "pause", "resume", "ingest", "process",
                   "quarantine", "encrypt", "gc", "backup", "daemon", "start", "stop", "status", "service",
                   "mcp", "tui"}
    assert models >= {"list", "pull", "convert", "use", "reembed"}


def test_a_light_command_does_not_import_the_store_or_numpy():
    """`tacit tui` and `tacit status` start quickly because each command is imported only when it runs."""
    code = ("import sys; from tacitd.daemon.cli import cli; cli.get_command(None, 'tui'); "
            "print(sorted(m for m in ('numpy', 'sqlite_utils', 'httpx', 'tacitd.memory.store') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_command_modules_do_not_import_the_root_group():
    code = ("import sys, tacitd.daemon.cli_models, tacitd.daemon.observe; "
            "print('tacitd.daemon.cli' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _import_propositions(tacit, created: dict[str, str]) -> None:
    """Propositions whose created/updated/valid-from time is the given UTC ISO time."""
    lines = [{"type": "header", "format": "tacit-export", "vector_index": None}]
    for pid, (text, when) in enumerate(created.items(), start=1):
        lines.append({"type": "proposition", "id": pid, "revision_group": pid, "text": text, "confidence": 0.9,
                      "source": "user", "created_at": when, "updated_at": when, "valid_from": when})
    tacit("import", "-", stdin="".join(json.dumps(line) + "\n" for line in lines))


@pytest.mark.parametrize(
    "zone, before, after",
    [  # one proposition just before local midnight of 2026-11-20, one just after
        ("Asia/Kolkata", "2026-11-19T18:00:00+00:00", "2026-11-19T19:00:00+00:00"),  # UTC+05:30
        ("America/Los_Angeles", "2026-11-20T07:30:00+00:00", "2026-11-20T08:30:00+00:00"),  # UTC-08:00
    ],
)
def test_a_typed_date_means_local_midnight(tacit, zone, before, after):
    tacit.env["TZ"] = zone
    _import_propositions(tacit, {"Sam before midnight": before, "Sam after midnight": after})
    # Read as UTC midnight, Kolkata would forget neither and Los Angeles both.
    assert tacit.json("forget", "--since", "2026-11-20", "--yes")["forgotten"]["propositions"] == 1
    assert [p["text"] for p in tacit.json("recent")] == ["Sam before midnight"]


def test_an_explicit_offset_is_kept(tacit):
    tacit.env["TZ"] = "Asia/Kolkata"
    _import_propositions(tacit, {"Sam early": "2026-11-19T23:00:00+00:00", "Sam late": "2026-11-20T01:00:00+00:00"})
    assert tacit.json("forget", "--since", "2026-11-20T00:00Z", "--yes")["forgotten"]["propositions"] == 1
    assert [p["text"] for p in tacit.json("recent")] == ["Sam early"]


@pytest.mark.parametrize(
    "zone, november, july",
    [
        ("Asia/Kolkata", "2026-11-20 00:30 +05:30", "2026-07-02 00:30 +05:30"),
        ("America/Los_Angeles", "2026-11-19 11:00 -08:00", "2026-07-01 12:00 -07:00"),  # daylight time in July
    ],
)
def test_people_see_local_time_with_offset_and_json_stays_utc(tacit, zone, november, july):
    tacit.env["TZ"] = zone
    _import_propositions(tacit, {"Sam in November": "2026-11-19T19:00:00+00:00",
                                 "Sam in July": "2026-07-01T19:00:00+00:00"})
    assert f"valid {november} → —" in tacit("show", "1").stdout
    assert f"valid {july} → —" in tacit("show", "2").stdout
    shown = tacit.json("show", "1")["proposition"]
    assert datetime.fromisoformat(shown["valid_from"]) == datetime.fromisoformat("2026-11-19T19:00:00+00:00")
    assert datetime.fromisoformat(shown["valid_from"]).utcoffset() == timedelta(0)


def test_query_evidence_shows_when_it_was_seen_in_local_time(tacit):
    tacit.env["TZ"] = "America/Los_Angeles"
    seen = "2026-11-20T08:30:00+00:00"
    records = [{"type": "header", "format": "tacit-export", "vector_index": None},
               {"type": "observation", "id": 1, "observer": "screen", "app": "firefox",
                "text": "Return flights to Lisbon", "captured_at": seen},
               {"type": "proposition", "id": 1, "revision_group": 1, "text": "Sam is flying to Lisbon",
                "confidence": 0.8, "created_at": seen, "updated_at": seen, "valid_from": seen},
               {"type": "evidence", "proposition_id": 1, "observation_id": 1, "created_at": seen}]
    tacit("import", "-", stdin="".join(json.dumps(r) + "\n" for r in records))
    assert "[2026-11-20 00:30-08:00] firefox: Return flights to Lisbon" in tacit("query", "Lisbon").stdout


def test_pause_until_prints_local_time_with_offset(tacit):
    tacit.env["TZ"] = "Asia/Kolkata"
    expected = datetime.now(ZoneInfo("Asia/Kolkata")) + timedelta(hours=2)
    out = tacit("pause", "--for", "2h").stdout.strip()
    assert out.startswith("Paused until ") and out.endswith(" +05:30.")
    shown = datetime.strptime(out.removeprefix("Paused until ").removesuffix(" +05:30."), "%Y-%m-%d %H:%M")
    assert abs(shown - expected.replace(tzinfo=None)) < timedelta(minutes=2)
    assert tacit.json("pause", "--for", "2h")["until"].endswith("+00:00")
    tacit("resume")


def test_walkthrough_without_the_model_shows_history_and_retrieval(tacit):
    out = tacit("walkthrough", "--no-llm").stdout
    assert "superseded" in out and "Sam is flying to Lisbon" in out
    assert "words matched" in out
    assert tacit.json("recent") == []  # it ran in its own throwaway database


def test_doctor_reports_models_offload_cpu_build_and_store(tacit):
    tacit.env["TACIT_MODELS__N_GPU_LAYERS"] = "0"
    report = tacit.json("doctor")
    assert report["llm"]["gpu_offload"] is False and report["llm"]["n_gpu_layers"] == 0  # the setting wins
    build = report["llm"]["cpu_build"]
    assert "AVX2" in build["enabled"] and build["known_crashes"] == {}, build
    assert not any("AMX" in item["what"] for item in report["missing"])
    assert report["llm"]["threads"] >= 1 and report["llm"]["n_ctx"] == 4096
    assert report["embedder"]["dim"] == 384
    assert report["store"]["sqlite_vec"].startswith("v")
    assert report["paths"]["data_dir"] == str(tacit.data)


def test_doctor_names_a_missing_model_and_its_fix(tacit, monkeypatch, tmp_path):
    monkeypatch.setenv("TACIT_MODELS__LLM", str(tmp_path / "missing.gguf"))
    # the fixture copied os.environ at creation; run directly with the override
    env = {**os.environ, "TACIT_DATA_DIR": str(tacit.data), "TACIT_CONFIG": str(tmp_path / "none.toml")}
    out = subprocess.run([str(TACIT), "doctor", "--json"], env=env, capture_output=True, text=True, check=True)
    report = json.loads(out.stdout)
    assert report["llm"]["ok"] is False
    assert report["missing"][0]["what"].endswith("missing.gguf")
    assert "preset" in report["missing"][0]["fix"] or "GGUF" in report["missing"][0]["fix"]


def test_switching_embedder_reembeds_without_mixing_spaces(tacit, tmp_path):
    tacit("add", "Sam brews coffee with an AeroPress")
    tacit("add", "Sam commutes by bike")
    env = {**os.environ, "TACIT_DATA_DIR": str(tacit.data), "TACIT_CONFIG": str(tmp_path / "none.toml"),
           "TACIT_MODELS__EMBEDDER": "gemma3-270m"}

    def run(*args):
        return subprocess.run([str(TACIT), *args], env=env, capture_output=True, text=True, timeout=300)

    stale = run("query", "coffee", "--json")
    assert "run `tacit models reembed`" in stale.stderr  # refuses to mix two vector spaces
    assert json.loads(run("models", "reembed", "--json").stdout) == {
        "embedder": "gemma3-270m", "dim": 640, "propositions": 2}
    report = json.loads(run("doctor", "--json").stdout)
    assert report["store"]["vector_index"] == ["gemma3-270m", 640]
    assert json.loads(run("query", "coffee", "--json").stdout)["results"][0]["parts"]["vector_rank"] is not None

"""The model layer with the real bundled GGUFs through llama.cpp."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from tacitd.models.bundled import GEMMA3_270M, PartsModel, assemble, ensure_bundled
from tacitd.models.errors import AssemblyError, ModelMissing, SchemaError
from tacitd.models.llm import LlamaCppLLM


class Activity(BaseModel):
    app: str = Field(min_length=1, max_length=40)
    minutes: int


class Fact(BaseModel):
    statement: str = Field(min_length=5, max_length=160)
    confidence: float = Field(ge=0, le=1)


class Facts(BaseModel):
    facts: list[Fact] = Field(min_length=1, max_length=3)


class Mood(BaseModel):
    mood: Literal["focused", "distracted", "idle"]
    reason: str = Field(max_length=120)


class Plan(BaseModel):
    title: str = Field(max_length=60)
    steps: list[str] = Field(min_length=1, max_length=4)
    done: bool


PROMPTS = [
    (Activity, "Sam used {app} for {n} minutes. Report the app and the minutes."),
    (Facts, "Observation: Sam edited {app} config files for {n} minutes. List facts about Sam."),
    (Mood, "Sam switched windows {n} times in a minute while {app} was open. Describe Sam's mood."),
    (Plan, "Sam is setting up {app}; {n} steps remain. Write Sam's plan."),
]
APPS = ["Firefox", "VS Code", "kitty", "Obsidian", "Slack"]


def test_twenty_varied_structured_prompts_give_twenty_valid_objects(gemma):
    results = []
    for i in range(20):
        schema, template = PROMPTS[i % len(PROMPTS)]
        prompt = template.format(app=APPS[i % len(APPS)], n=i + 3)
        results.append(gemma.complete_json(prompt, schema, max_tokens=160))
    assert len(results) == 20
    assert all(isinstance(r, PROMPTS[i % len(PROMPTS)][0]) for i, r in enumerate(results))
    totals = gemma.usage.totals()
    assert totals["calls"] >= 20 and totals["completion_tokens"] > 0 and totals["seconds"] > 0


class Kind(BaseModel):
    activity: Literal["cooking", "software development", "travel planning", "gardening"]


def test_default_model_infers_what_the_evidence_does_not_name(qwen):
    """The answers are words the prompts never use, so echoing the input cannot pass; guessing passes 1 in 64."""
    cases = {
        "Sam edited train_lora.py in VS Code, then ran pytest and fixed a failing assertion.": "software development",
        "Sam compared Lisbon hotel prices, booked a window seat and read a Porto day-trip guide.": "travel planning",
        "Sam read a focaccia recipe, preheated the oven to 220C and kneaded dough for ten minutes.": "cooking",
    }
    for evidence, expected in cases.items():
        assert expected.split()[0] not in evidence.lower()
        prompt = [{"role": "system", "content": "Classify what the user is doing."},
                  {"role": "user", "content": evidence}]
        assert qwen.complete_json(prompt, Kind, max_tokens=24).activity == expected, evidence


def test_schema_that_cannot_fit_max_tokens_raises_typed_error_with_raw_output(gemma):
    class Essay(BaseModel):
        essay: str = Field(min_length=400)

    calls_before = gemma.usage.totals()["calls"]
    with pytest.raises(SchemaError) as err:
        gemma.complete_json("Write a long essay about tea.", Essay, max_tokens=12)
    assert err.value.raw.startswith("{")  # the truncated output is kept, not dropped
    assert err.value.prompt[0]["content"] == "Write a long essay about tea."
    assert gemma.usage.totals()["calls"] == calls_before + 2  # tried, retried once, gave up


def test_missing_model_path_names_the_path_and_the_fix(tmp_path):
    llm = LlamaCppLLM(tmp_path / "nope.gguf", fix_hint="tacit models pull qwen2.5-3b-instruct")
    with pytest.raises(ModelMissing) as err:
        llm.complete_json("hi", Activity)
    assert str(tmp_path / "nope.gguf") in str(err.value)
    assert "tacit models pull qwen2.5-3b-instruct" in str(err.value)


def test_configured_gpu_layers_reach_the_loaded_model(gemma):
    """An explicit n_gpu_layers wins; unset, offload is on exactly when llama.cpp can offload."""
    import llama_cpp

    cpu_only = LlamaCppLLM(gemma.path, n_gpu_layers=0, n_ctx=256)
    assert cpu_only.model().model_params.n_gpu_layers == 0 and not cpu_only.gpu_offload
    default = LlamaCppLLM(gemma.path, n_ctx=256)
    expected = -1 if llama_cpp.llama_supports_gpu_offload() else 0
    assert default.model().model_params.n_gpu_layers == expected


def test_bundled_model_is_assembled_and_verified(tmp_path):
    path = ensure_bundled(GEMMA3_270M, tmp_path)
    assert path.stat().st_size == GEMMA3_270M.size
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == GEMMA3_270M.sha256
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """A throwaway part package on sys.path, like the real ones."""
    pkg = tmp_path / "site" / "fakemodel_part1"
    (pkg / "data").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    chunks = [b"GGUF" + bytes(range(200)) * 50, bytes(range(100)) * 30]
    for i, chunk in enumerate(chunks):
        (pkg / "data" / f"part{i}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    whole = b"".join(chunks)
    model = PartsModel(name="fake", filename="fake.gguf", size=len(whole), sha256=hashlib.sha256(whole).hexdigest(),
                       parts=(("fakemodel_part1", "data/part0.bin"), ("fakemodel_part1", "data/part1.bin")),
                       pip="fakemodel")
    return model, pkg


def test_a_corrupt_part_gives_a_clear_error_and_no_half_file(fake_parts, tmp_path):
    model, pkg = fake_parts
    out = tmp_path / "cache"
    assert assemble(model, out / "ok.gguf").stat().st_size == model.size
    part = pkg / "data" / "part1.bin"
    data = bytearray(part.read_bytes())
    data[10] ^= 0xFF  # same size, different bytes
    part.write_bytes(bytes(data))
    with pytest.raises(AssemblyError, match="corrupt.*pip install --force-reinstall fakemodel"):
        assemble(model, out / "bad.gguf")
    part.write_bytes(bytes(data[:-5]))
    with pytest.raises(AssemblyError, match="parts add up to"):
        assemble(model, out / "short.gguf")
    assert sorted(p.name for p in out.iterdir()) == ["ok.gguf"]


def test_a_missing_part_package_names_the_fix(fake_parts, tmp_path):
    model, _ = fake_parts
    broken = PartsModel(**{**model.__dict__, "parts": (("no_such_part_pkg", "data/x.bin"),)})
    with pytest.raises(AssemblyError, match="no_such_part_pkg.*pip install fakemodel"):
        assemble(broken, tmp_path / "x.gguf")


def test_embeddings_are_normalised_and_meaningful(minilm):
    vecs = minilm.embed([
        "Sam is fine-tuning a language model",
        "Sam trains a large language model",
        "I bake sourdough bread on Sundays",
        "word " * 3000,  # longer than the context window: cut, not failed
    ])
    assert vecs.shape == (4, 384) and vecs.dtype.name == "float32"
    assert abs(float((vecs ** 2).sum(axis=1)[0]) - 1.0) < 1e-5
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2] + 0.3
    assert minilm.embed([]).shape == (0, 384)


def test_grammar_enforces_array_string_and_number_bounds_in_the_raw_output(gemma):
    """Checked on the raw text, before pydantic: the grammar alone must keep the bounds."""
    prompt = [{"role": "user", "content": "List twenty long facts about a busy programmer, each with "
                                          "confidence 7 and a statement of at least 300 characters."}]
    raw, _ = gemma._generate(prompt, Facts.model_json_schema(), max_tokens=400, attempt=0)
    facts = json.loads(raw)["facts"]
    assert 1 <= len(facts) <= 3
    assert all(5 <= len(f["statement"]) <= 160 and 0 <= f["confidence"] <= 1 for f in facts)

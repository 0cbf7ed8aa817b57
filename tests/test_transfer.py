"""Export → import is exact, and a bad import changes nothing."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest

from helpers import unit
from tacitd.memory.store import Store
from tacitd.memory.transfer import ImportError_, export_jsonl, export_markdown, import_jsonl
from tacitd.memory.types import Observation, Proposition, SearchFilters


def fill(store: Store) -> None:
    store.ensure_vector_index("test-embedder", 16)
    o1 = store.add_observation(Observation(observer="window", app="code", window_title="main.rs",
                                           text="fn main() {}", duration_s=12.5, meta={"pid": 7}))
    o2 = store.add_observation(Observation(observer="screen", text="Ünïcødé — 日本語"))
    p = store.add_proposition(Proposition(text="Sam writes Rust", confidence=0.6, reasoning="main.rs"),
                              evidence=[o1.id], embedding=unit(1, 0))
    store.revise(p.id, text="Sam writes Rust daily", confidence=0.7, evidence=[o2.id], embedding=unit(1, 1))
    q = store.add_proposition(Proposition(text="Sam likes tea", confidence=0.3, source="stats"))
    store.confirm(q.id, note="true")
    r = store.add_proposition(Proposition(text="Sam owns a boat", confidence=0.3))
    store.reject(r.id, note="no")


def test_round_trip_is_exact(tmp_path):
    with Store(tmp_path / "a.db") as a:
        fill(a)
        exported = "".join(export_jsonl(a))
    with Store(tmp_path / "b.db") as b:
        counts = import_jsonl(b, exported.splitlines())
        assert counts["proposition"] == 4 and counts["embedding"] == 2
        assert "".join(export_jsonl(b)) == exported
        # The rebuilt indexes work, not just the rows.
        assert b.text_candidates("rust daily", 5, SearchFilters())
        assert b.vector_candidates(unit(1, 1), 1)[0][1] == pytest.approx(1.0, abs=1e-6)
        # Status is carried into the vector index: the superseded version is not a current hit.
        assert [b.get(pid).text for pid, _ in b.vector_candidates(unit(1, 0), 5)] == ["Sam writes Rust daily"]
        # Importing the same file again is a no-op, not a duplicate.
        assert import_jsonl(b, exported.splitlines())["proposition"] == 0
        assert "".join(export_jsonl(b)) == exported


def test_a_bad_line_imports_nothing(tmp_path):
    with Store(tmp_path / "a.db") as a:
        fill(a)
        lines = "".join(export_jsonl(a)).splitlines()
    bad = json.loads(lines[-1])
    broken = lines[:-1] + [json.dumps({"type": "proposition", "id": 99, "text": "x", "confidence": 1.7,
                                       "revision_group": 99})] + [json.dumps(bad)]
    with Store(tmp_path / "b.db") as b:
        with pytest.raises(ImportError_, match=r"line \d+: confidence"):
            import_jsonl(b, broken)
        assert b.counts() == {k: 0 for k in b.counts()}


@pytest.mark.parametrize("line", ['{"text": "x"}', '["observation"]', '"observation"'])
def test_a_line_that_is_not_a_record_says_so(tmp_path, line):
    with Store(tmp_path / "b.db") as b:
        with pytest.raises(ImportError_, match=r'line 1: ValueError: no "type" field: not a line of a tacit export'):
            import_jsonl(b, [line])
        assert b.counts() == {k: 0 for k in b.counts()}


def test_conflicting_ids_are_refused(tmp_path):
    with Store(tmp_path / "a.db") as a:
        fill(a)
        lines = "".join(export_jsonl(a)).splitlines()
    with Store(tmp_path / "b.db") as b:
        b.add_proposition(Proposition(text="something else entirely", confidence=0.5))
        with pytest.raises(ImportError_, match="already exists with different content"):
            import_jsonl(b, lines)
        assert b.counts()["propositions"] == 1


def test_markdown_lists_what_is_known(tmp_path):
    with Store(tmp_path / "a.db") as a:
        fill(a)
        md = "".join(export_markdown(a))
    assert "## Current (2)" in md and "**Sam writes Rust daily**" in md
    assert "## Rejected (1)" in md and "Sam owns a boat" in md


def test_markdown_dates_are_the_readers_local_dates(tmp_path, monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: noon UTC is already tomorrow there
    time.tzset()
    try:
        noon = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
        with Store(tmp_path / "a.db") as a:
            a.add_proposition(Proposition(text="Sam likes tea", confidence=0.5, valid_from=noon,
                                          created_at=noon, updated_at=noon))
            md = "".join(export_markdown(a))
    finally:
        monkeypatch.undo()
        time.tzset()
    assert "updated 2026-03-02" in md

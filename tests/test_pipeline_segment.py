"""Segment: one activity per segment, repeated lines dropped, a token cap, durations from context records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tacitd.daemon.pipeline.activity import file_in_title, project_of_path, title_family
from tacitd.daemon.pipeline.screen import screen
from tacitd.daemon.pipeline.segment import SegmentParams, build_segment, segment, segment_key
from tacitd.memory.types import Observation

T = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PARAMS = SegmentParams(max_gap_s=300, max_tokens=400, close_after_s=600)


class Frames:
    """Observations with ids, as they come out of the store."""

    def __init__(self) -> None:
        self.items: list[Observation] = []

    def add(self, minute: float, observer: str = "screen", **fields) -> Observation:
        o = Observation(id=len(self.items) + 1, observer=observer, captured_at=T + timedelta(minutes=minute), **fields)
        self.items.append(o)
        return o


def code(frames: Frames, minute: float, text: str, title: str = "train_lora.py — finetune") -> Observation:
    return frames.add(minute, app="code", window_title=title, text=text)


def test_contiguous_frames_of_one_activity_make_one_segment_and_a_switch_starts_another():
    f = Frames()
    code(f, 0, "from peft import LoraConfig")
    code(f, 2, "model = get_peft_model(model, config)", title="data.py — finetune")  # same project, other file
    f.add(3, app="firefox", url="https://huggingface.co/docs/peft", window_title="LoRA", text="LoRA reduces parameters")
    code(f, 4, "trainer.train()")
    segments, rest = segment(f.items, PARAMS, flush=True)
    assert [s.observation_ids for s in segments] == [[1, 2], [3], [4]]
    assert [(s.app, s.family) for s in segments] == [("code", "finetune"), ("firefox", "huggingface.co"),
                                                    ("code", "finetune")]
    assert rest == []


def test_a_small_gap_is_allowed_and_a_long_one_ends_the_activity():
    f = Frames()
    code(f, 0, "a = 1")
    code(f, 4, "b = 2")  # 4 min later: same activity
    code(f, 15, "c = 3")  # 11 min after: a new one
    segments, _ = segment(f.items, PARAMS, flush=True)
    assert [s.observation_ids for s in segments] == [[1, 2], [3]]


def test_lines_repeated_from_an_earlier_frame_are_dropped():
    f = Frames()
    code(f, 0, "import torch\nfrom peft import LoraConfig")
    code(f, 1, "import   torch\nfrom peft import LoraConfig")  # same lines, other spacing: nothing new
    code(f, 2, "from peft import LoraConfig\ntrainer.train()")
    (s,), _ = segment(f.items, PARAMS, flush=True)
    assert [o.text for o in s.observations] == ["import torch\nfrom peft import LoraConfig", "trainer.train()"]
    assert s.observation_ids == [1, 2, 3]  # the repeating frame is still evidence of the activity


def test_a_long_activity_is_split_under_the_token_cap_and_loses_no_line():
    f = Frames()
    lines = [f"step {i}: loss {1 / (i + 1):.6f} learning rate {i * 1e-5:.7f}" for i in range(120)]
    for i in range(0, 120, 4):
        code(f, i / 4, "\n".join(lines[i:i + 4]))
    segments, _ = segment(f.items, PARAMS, flush=True)
    assert len(segments) > 1
    for s in segments:
        assert sum(len(o.text) + 1 for o in s.observations) <= PARAMS.max_chars
    shown = [line for s in segments for o in s.observations for line in o.text.splitlines()]
    assert shown == lines


def test_one_huge_frame_is_cut_to_the_cap():
    f = Frames()
    code(f, 0, "\n".join(f"line {i} " + "x" * 70 for i in range(200)))
    (s,), _ = segment(f.items, PARAMS, flush=True)
    assert 0 < len(s.observations[0].text) <= PARAMS.max_chars


def test_window_and_input_records_give_duration_and_are_not_proposed_from_alone():
    f = Frames()
    f.add(0, "window", app="code", window_title="train_lora.py — finetune", duration_s=40 * 60)
    code(f, 5, "trainer.train()")
    f.add(20, "input", meta={"active_s": 55, "idle_s": 5}, duration_s=60)
    (s,), _ = segment(f.items, PARAMS, flush=True)
    assert s.observation_ids == [1, 2, 3]
    assert s.duration_s == 40 * 60  # from the window record, not the frames' span
    assert [o.observer for o in s.observations] == ["window", "screen"]  # input: duration only

    g = Frames()
    g.add(0, "window", app="code", window_title="notes.md — thesis", duration_s=600)
    g.add(10, "input", meta={"active_s": 60, "idle_s": 0}, duration_s=60)
    (only,), _ = segment(g.items, PARAMS, flush=True)
    assert not only.has_text
    decision = screen(only)
    assert decision.action == "skip" and "no text" in decision.reason


def test_an_idle_stretch_ends_the_activity():
    f = Frames()
    code(f, 0, "a = 1")
    f.add(1, "input", meta={"active_s": 0, "idle_s": 180}, duration_s=180)
    code(f, 4, "b = 2")  # within the gap, but the user was away in between
    segments, _ = segment(f.items, PARAMS, flush=True)
    assert [s.observation_ids for s in segments] == [[1], [2], [3]]
    assert not segments[1].has_text


def test_the_newest_activity_waits_until_it_has_been_quiet_unless_flushed():
    f = Frames()
    code(f, 0, "a = 1")
    f.add(1, app="firefox", url="https://docs.python.org/3/", text="asyncio")
    f.add(2, app="firefox", url="https://docs.python.org/3/library", text="TaskGroup")
    closed, rest = segment(f.items, PARAMS, now=T + timedelta(minutes=5))
    assert [s.observation_ids for s in closed] == [[1]] and [o.id for o in rest] == [2, 3]
    closed, rest = segment(f.items, PARAMS, now=T + timedelta(minutes=13))  # quiet for 11 min > 10
    assert len(closed) == 2 and rest == []


def test_the_key_comes_from_the_ids_and_a_rebuild_gives_the_same_segment():
    f = Frames()
    code(f, 0, "a = 1")
    code(f, 1, "b = 2")
    (s,), _ = segment(f.items, PARAMS, flush=True)
    assert s.key == segment_key([2, 1]) != segment_key([1])
    assert build_segment(f.items[1:], PARAMS).key != s.key
    rebuilt = build_segment(f.items[1:], PARAMS, key=s.key)  # after a forget removed a member
    assert rebuilt.key == s.key and rebuilt.observation_ids == [2]
    with pytest.raises(ValueError, match="stored observations"):
        build_segment([Observation(observer="screen", text="x")], PARAMS)


@pytest.mark.parametrize(("app", "title", "url", "family"), [
    ("code", "train_lora.py — finetune — Visual Studio Code", None, "finetune"),
    ("firefox", "LoRA — PEFT documentation — Mozilla Firefox", None, "peft documentation"),
    ("firefox", "anything", "https://www.github.com/sam/tacit/pull/3", "github.com"),
    ("thunderbird", "Inbox (3) - sam@example.org - Thunderbird", None, "sam@example.org"),
    ("thunderbird", "Inbox (4) - sam@example.org - Thunderbird", None, "sam@example.org"),
    ("kitty", "python train_lora.py", None, ""),  # one-part titles change too often: the app is the activity
])
def test_title_family(app, title, url, family):
    assert title_family(Observation(observer="window", app=app, window_title=title, url=url)) == family


@pytest.mark.parametrize(("path", "project"), [
    ("/home/sam/projects/finetune/scripts/train.py", "finetune"),
    ("/home/sam/tacit/memory/store.py", "tacit"),
    ("/home/sam/notes.txt", None),
    ("/home/sam/Downloads/cruise.pdf", None),
    ("/home/sam/.config/app/settings.json", None),
    ("C:\\Users\\sam\\src\\thesis\\ch3.docx", "thesis"),
])
def test_project_of_path(path, project):
    assert project_of_path(path) == project


def test_file_in_title_only_for_editors():
    assert file_in_title(Observation(observer="window", app="code", window_title="● train_lora.py — finetune")) \
        == "train_lora.py"
    assert file_in_title(Observation(observer="window", app="firefox", window_title="setup.py — GitHub")) is None

"""`tacit tui` driven by Textual's Pilot against a real daemon process on a temp data dir.

Every change made through the UI is checked afterwards through the API
(the same client `tacit show --json` users would reach), not through the
widgets that made it.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import signal
import socket
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from rich.console import Console
from daemon_proc import DaemonProc, running_daemon, short_socket_dir, wait_until

from textual.widgets import Static

from tacitd.daemon.api.client import ApiError, StatusOut
from tacitd.daemon.backends import build_embedder
from tacitd.daemon.config import load_settings
from tacitd.memory.store import Store
from tacitd.memory.types import Observation
from tacitd.tui.app import QUIT_WAIT_S, STATUS_EVERY_S, STATUS_TIMEOUT_S, TacitApp
from tacitd.tui.screens.beliefs import BeliefsScreen
from tacitd.tui.screens.confirm import ConfirmScreen
from tacitd.tui.screens.detail import DetailScreen
from tacitd.tui.screens.down import DaemonDownScreen
from tacitd.tui.screens.help import HelpScreen
from tacitd.tui.screens.pause import PauseScreen
from tacitd.tui.screens.text_prompt import TextPromptScreen
from tacitd.tui.widgets.belief_table import WHY_WIDTH, BeliefTable
from tacitd.tui.format import local
from tacitd.tui.widgets.detail_pane import DetailPane, evidence_text
from tacitd.tui.widgets.status_bar import StatusBar, status_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench" / "data"))
import beliefs  # noqa: E402  (bench/data/beliefs.py: the seeded propositions)

N = 40
SIZE = (140, 40)


@contextlib.contextmanager
def seeded_daemon(tmp: Path, n: int = N, more: Callable[[Store], None] | None = None,
                  ) -> Iterator[tuple[DaemonProc, list[int]]]:
    """A daemon (pipeline off) on a store seeded with `n` beliefs (and `more(store)`) before it started."""
    (tmp / "data").mkdir()
    store = Store(tmp / "data" / "tacit.db")
    ids = beliefs.seed(store, n, embedder=build_embedder(load_settings(tmp / "none.toml", data_dir=tmp).models))
    if more is not None:
        more(store)
    store.close()
    with running_daemon(tmp, model=None) as d:
        # the daemon measures stats propositions from the seeded observations once at start: let it, so the
        # listing holds still during a test (the next run is 30 minutes later)
        wait_until(lambda: d.status()["daemon"]["jobs"].get("stats", {}).get("last_run"), 60, 0.1, "the stats job")
        yield d, ids


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[DaemonProc, list[int]]]:
    """One daemon for the tests that only read."""
    with seeded_daemon(tmp_path_factory.mktemp("tui")) as started:
        yield started


@pytest.fixture
def daemon_with(tmp_path: Path) -> Iterator[tuple[DaemonProc, list[int]]]:
    """A daemon of the test's own, for tests that change or stop it."""
    with seeded_daemon(tmp_path) as started:
        yield started


def run(app: TacitApp, scenario: Callable[..., Awaitable[None]]) -> None:
    async def main() -> None:
        async with app.run_test(size=SIZE) as pilot:
            await scenario(pilot)

    asyncio.run(main())


async def until(pilot, predicate: Callable[[], object], what: str, timeout: float = 20.0) -> None:
    """Let the app run until `predicate()` holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await pilot.pause(0.05)


def plain(widget: Static) -> str:
    """What a Static shows, as plain text (its content may be a Rich Group or Table)."""
    console = Console(file=io.StringIO(), width=SIZE[0], color_system=None)
    console.print(widget.content)
    return console.file.getvalue()


def footer(pilot) -> dict[str, str]:
    """The keys the footer shows on the screen in view: key -> description."""
    return {k.key: k.description for k in pilot.app.screen.query("FooterKey")}


def table(pilot) -> BeliefTable:
    """The table in view (the listing, or the search hits)."""
    return pilot.app.screen.table


def listed(pilot) -> bool:
    """The beliefs screen holds every proposition the daemon listed (its total)."""
    screen = pilot.app.screen
    return isinstance(screen, BeliefsScreen) and screen.total > 0 and screen.beliefs.row_count == screen.total


async def loaded(pilot) -> BeliefTable:
    await until(pilot, lambda: listed(pilot), "the whole listing")
    return table(pilot)


async def select_row(pilot, proposition_id: int) -> None:
    t = table(pilot)
    t.move_cursor(row=t.get_row_index(str(proposition_id)))
    await pilot.pause()
    assert t.current_id == proposition_id


async def open_detail(pilot, proposition_id: int) -> None:
    await select_row(pilot, proposition_id)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen)
                and pilot.app.screen.proposition is not None, "the detail screen")


def fact_id(ids: list[int], text_start: str) -> int:
    return ids[next(i for i, f in enumerate(beliefs.FACTS) if f[0].startswith(text_start))]


# -- browsing, sorting, filtering --------------------------------------------------------------------


def test_browse_lists_every_belief_sorted_by_confidence_then_recency_then_support(seeded):
    d, ids = seeded
    listing = d.client().recent(limit=1000)
    by_id = {item.proposition.id: item for item in listing.items}
    assert set(ids) <= set(by_id) and listing.total == len(by_id)

    async def scenario(pilot) -> None:
        t = await loaded(pilot)
        order = [int(r.key.value) for r in t.ordered_rows]
        assert sorted(order) == sorted(by_id)
        confidences = [by_id[i].proposition.confidence for i in order]
        assert confidences == sorted(confidences, reverse=True)
        await pilot.press("s")  # -> recency
        await until(pilot, lambda: t.sort_key == "recency", "sorted by recency")
        order = [int(r.key.value) for r in t.ordered_rows]
        updated = [by_id[i].proposition.updated_at for i in order]
        assert updated == sorted(updated, reverse=True)
        await pilot.press("s")  # -> support
        order = [int(r.key.value) for r in t.ordered_rows]
        support = [(by_id[i].support.confirmed, by_id[i].support.sessions, by_id[i].support.days) for i in order]
        assert support == sorted(support, reverse=True)
        assert support[0] != support[-1]  # the seed spreads support, so the order means something

    run(TacitApp(d.socket), scenario)


def test_filter_by_source_and_status_asks_the_daemon(seeded):
    d, ids = seeded
    users = d.client().recent(limit=1000, source=("user",))
    assert 0 < users.total < len(ids)

    async def scenario(pilot) -> None:
        t = await loaded(pilot)
        pilot.app.screen.query_one("#source").value = "user"
        await until(pilot, lambda: t.row_count == users.total, f"{users.total} user rows")
        assert {b.proposition.source for b in t.beliefs.values()} == {"user"}
        pilot.app.screen.query_one("#source").value = "any"
        pilot.app.screen.query_one("#status").value = "rejected"
        await until(pilot, lambda: t.row_count == 0 and " 0 beliefs" in " " + plain(
            pilot.app.screen.query_one("#summary", Static)), "no rejected rows")

    run(TacitApp(d.socket), scenario)


def test_search_narrows_as_you_type_and_says_why_each_hit_matched(seeded):
    d, ids = seeded
    lisbon = fact_id(ids, "Sam plans a trip to Lisbon")

    async def scenario(pilot) -> None:
        listing = await loaded(pilot)
        await pilot.press("slash", *"Lisbon")
        await until(pilot, lambda: table(pilot).with_why and table(pilot).row_count and table(pilot).region.height,
                    "search results, laid out")
        hits = table(pilot)
        assert hits.current_id == lisbon and hits.row_count < listing.row_count
        assert hits.region.height > 0 and listing.region.height == 0  # the hits replace the listing on screen
        why = " ".join(hits.beliefs[lisbon].why)
        assert "words matched 1/1 (lisbon)" in why
        assert "lisbon" in hits.get_cell(str(lisbon), "why").__rich__().plain.lower()

        # the column has room for the start of the reasons; the hit's detail shows every one of them, whole
        reasons = hits.beliefs[lisbon].why
        assert len("; ".join(reasons)) > WHY_WIDTH
        await pilot.press("enter")  # from the search box to the hits
        await open_detail(pilot, lisbon)
        shown = plain(pilot.app.screen.query_one("#detail-why", Static))
        assert "Why it matched “Lisbon”" in shown
        assert [line.removeprefix("• ").strip() for line in shown.splitlines()[1:] if line.strip()] == list(reasons)
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen.table is hits, "back to the hits")

        await pilot.press("escape")  # clears the search: the whole listing is back
        await until(pilot, lambda: table(pilot) is listing and listing.region.height > 0, "the full listing again")
        assert listing.row_count == pilot.app.screen.total
        await open_detail(pilot, lisbon)  # not from a search: no "why it matched"
        assert not pilot.app.screen.query_one("#detail-why", Static).display

    run(TacitApp(d.socket), scenario)


def test_search_finds_a_belief_by_meaning_too(seeded):
    d, ids = seeded
    lisbon = fact_id(ids, "Sam plans a trip to Lisbon")

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await pilot.press("slash", *"holiday travel to Portugal")
        await until(pilot, lambda: table(pilot).with_why and lisbon in table(pilot).beliefs, "the Lisbon trip")
        assert "similar meaning" in " ".join(table(pilot).beliefs[lisbon].why)

    run(TacitApp(d.socket), scenario)


def test_enter_opens_reasoning_evidence_in_local_time_and_history(seeded):
    d, ids = seeded
    pid = fact_id(ids, "Sam is fine-tuning")
    detail = d.client().get(pid)
    captured = detail.evidence[0].captured_at.astimezone().strftime("%Y-%m-%d %H:%M %z")

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await open_detail(pilot, pid)
        pane = pilot.app.screen.query_one(DetailPane)
        shown = {s.id: plain(s) for s in pane.query(Static)}
        text = "\n".join(shown.values())
        assert "train_lora.py — Visual Studio Code" in shown["detail-evidence"]
        assert "LoraConfig(r=16)" in shown["detail-evidence"]
        assert captured in shown["detail-evidence"]
        assert "Seen on screen in code: train_lora.py" in shown["detail-reasoning"]
        assert "History (1 version)" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(pilot.app.screen, DetailScreen), "back to the list")

    run(TacitApp(d.socket), scenario)


# -- feedback, forget, edit: each checked through the API afterwards --------------------------------------


def test_confirm_reject_with_a_note_and_forget_after_asking(daemon_with):
    d, ids = daemon_with
    client = d.client()
    confirm_id, reject_id, forget_id, kept_id = ids[5], ids[6], ids[7], ids[8]

    async def scenario(pilot) -> None:
        t = await loaded(pilot)
        await select_row(pilot, confirm_id)
        await pilot.press("c")
        await until(pilot, lambda: t.beliefs.get(confirm_id) and t.beliefs[confirm_id].proposition.confidence == 1.0,
                    "the confirmed row at 1.00")

        await select_row(pilot, reject_id)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, TextPromptScreen), "the note prompt")
        await pilot.press(*"wrong person", "enter")
        await until(pilot, lambda: reject_id not in t.beliefs, "the rejected row to leave the current list")

        await select_row(pilot, kept_id)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the forget dialog")
        await pilot.press("escape")  # cancelled: nothing deleted
        await until(pilot, lambda: not isinstance(pilot.app.screen, ConfirmScreen), "the dialog to close")

        await select_row(pilot, forget_id)
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the forget dialog")
        await pilot.click("#yes")
        await until(pilot, lambda: forget_id not in t.beliefs, "the forgotten row to go")

    run(TacitApp(d.socket), scenario)
    confirmed = client.get(confirm_id)
    assert confirmed.proposition.confidence == 1.0 and [f.kind for f in confirmed.feedback] == ["confirm"]
    rejected = client.get(reject_id)
    assert rejected.proposition.status == "rejected"
    assert [(f.kind, f.note) for f in rejected.feedback] == [("reject", "wrong person")]
    with pytest.raises(ApiError, match="404"):
        client.get(forget_id)
    assert client.get(kept_id).proposition.status == "current"


def test_keys_typed_in_one_burst_after_slash_go_to_the_search_box_not_to_the_list(daemon_with):
    """'/rust' pasted or typed fast: Pilot's press waits between keys, so the keys are posted at once here,
    as a terminal delivers them. 'r' and 'c' reached the list before the focus moved, and rejected or
    confirmed the top belief."""
    from textual import events

    d, ids = daemon_with
    client = d.client()

    async def scenario(pilot) -> None:
        t = await loaded(pilot)
        top = t.current_id
        for key in ("slash", "r", "u", "s", "t", "slash", "c"):  # as Pilot's press sends each, without its waits
            event = events.Key(key, "/" if key == "slash" else key)
            event.set_sender(pilot.app)
            pilot.app._driver.send_message(event)
        await until(pilot, lambda: pilot.app.screen.query_one("#search").value == "rust/c",
                    "the burst in the box, the second '/' as a character")
        await pilot.pause()
        scenario.top = top

    run(TacitApp(d.socket), scenario)
    belief = client.get(scenario.top)
    assert belief.proposition.status == "current" and belief.feedback == []


def test_edit_writes_a_new_user_version_and_keeps_the_old_one(daemon_with):
    d, ids = daemon_with
    client = d.client()
    pid = fact_id(ids, "Sam plans a trip to Lisbon")
    new_text = "Sam plans a trip to Porto in April"

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await open_detail(pilot, pid)
        await pilot.press("e")
        await until(pilot, lambda: isinstance(pilot.app.screen, TextPromptScreen), "the edit prompt")
        prompt = pilot.app.screen.query_one("#prompt-input")
        assert prompt.value == beliefs.FACTS[1][0]
        prompt.value = ""
        await pilot.press(*new_text, "enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen)
                    and pilot.app.screen.proposition is not None and pilot.app.screen.proposition.text == new_text,
                    "the detail of the new version")
        assert "History (2 versions)" in plain(pilot.app.screen.query_one("#detail-history", Static))

    run(TacitApp(d.socket), scenario)
    old = client.get(pid)
    assert old.proposition.status == "superseded"
    current = [h for h in old.history if h.status == "current"]
    assert [(h.text, h.source, h.version) for h in current] == [(new_text, "user", 2)]


def test_a_change_made_elsewhere_shows_up_from_the_event_stream(daemon_with):
    d, ids = daemon_with
    pid = ids[10]

    async def scenario(pilot) -> None:
        t = await loaded(pilot)
        assert t.beliefs[pid].proposition.confidence < 1.0
        await asyncio.to_thread(d.client().confirm, pid)  # as `tacit confirm` would, from another process
        await until(pilot, lambda: t.beliefs[pid].proposition.confidence == 1.0, "the row to follow the event")
        added = await asyncio.to_thread(d.client().remember, "Sam drinks green tea in the afternoon")
        await until(pilot, lambda: added.id in t.beliefs, "the new statement to appear")

    run(TacitApp(d.socket), scenario)


def test_a_belief_forgotten_elsewhere_under_an_open_dialog_closes_its_detail_once_the_dialog_goes(daemon_with):
    """`is_current` is true under a modal too: the detail used to leave too early, then again (InvalidStateError)."""
    d, ids = daemon_with
    pid = ids[11]

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await open_detail(pilot, pid)
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, TextPromptScreen), "the reject prompt")
        await asyncio.to_thread(d.client().forget, pid)  # as `tacit forget` would, from another process
        await until(pilot, lambda: pilot.app.screen_stack[-2].gone, "the detail to hear of the forget")
        assert isinstance(pilot.app.screen, TextPromptScreen)  # the dialog stays until the user closes it
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, BeliefsScreen), "the detail to close")
        await pilot.pause(0.5)
        assert isinstance(pilot.app.screen, BeliefsScreen) and pilot.app.is_running

    run(TacitApp(d.socket), scenario)


# -- pause, resume, status bar -------------------------------------------------------------------------------


def test_pause_for_an_hour_then_resume(daemon_with):
    d, _ = daemon_with
    client = d.client()

    async def scenario(pilot) -> None:
        await loaded(pilot)
        bar = pilot.app.screen.query_one(StatusBar)
        await until(pilot, lambda: "● up" in plain(bar), "the status bar")
        assert footer(pilot).get("p") == "Pause"
        await pilot.press("p")
        await until(pilot, lambda: isinstance(pilot.app.screen, PauseScreen), "the duration choice")
        await pilot.press("down", "enter")  # the second choice: 1 hour
        await until(pilot, lambda: "paused until" in plain(bar), "the paused status")
        await until(pilot, lambda: footer(pilot).get("p") == "Resume", "the footer to offer Resume")
        status = await asyncio.to_thread(client.status)
        assert status.paused
        left = (status.paused_until - status.paused_until.now(status.paused_until.tzinfo)).total_seconds()
        assert 3500 < left <= 3600
        await pilot.press("p")  # paused: p resumes
        await until(pilot, lambda: "paused" not in plain(bar), "the resumed status")
        await until(pilot, lambda: footer(pilot).get("p") == "Pause", "the footer to offer Pause again")

    run(TacitApp(d.socket), scenario)
    assert not client.status().paused


# -- the daemon going away and coming back ----------------------------------------------------------------


def test_no_daemon_shows_how_to_start_it_and_recovers_when_it_starts(daemon_with):
    d, _ = daemon_with

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await asyncio.to_thread(d.stop)
        await pilot.press("ctrl+r")
        await until(pilot, lambda: isinstance(pilot.app.screen, DaemonDownScreen), "the daemon-down screen")
        message = plain(pilot.app.screen.query_one("#down-message", Static))
        assert "not running" in message and "tacit start" in message
        await pilot.press("c", "f", "enter")  # nothing to act on, and nothing breaks
        await asyncio.to_thread(d.restart)
        await until(pilot, lambda: not isinstance(pilot.app.screen, DaemonDownScreen), "the list to come back")
        await loaded(pilot)

    run(TacitApp(d.socket), scenario)


NOT_ANSWERING_WITHIN_S = STATUS_EVERY_S + STATUS_TIMEOUT_S + 3  # the next poll, its timeout, and some slack


def test_a_stopped_daemon_reads_not_answering_within_seconds_and_up_again_when_it_continues(daemon_with):
    """kill -STOP: the socket still takes connections, nothing replies; the status bar must not say up."""
    d, _ = daemon_with

    async def scenario(pilot) -> None:
        await loaded(pilot)
        bar = pilot.app.screen.query_one(StatusBar)
        await until(pilot, lambda: "● up" in plain(bar), "the status bar")
        os.kill(d.pid, signal.SIGSTOP)
        try:
            await until(pilot, lambda: "not answering" in plain(bar), "the not-answering status",
                        timeout=NOT_ANSWERING_WITHIN_S)
            assert "● up" not in plain(bar) and "last reply" in plain(bar)
            await pilot.press("question_mark")  # the UI thread is free meanwhile: keys work at once
            await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), "the help screen", timeout=2)
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(pilot.app.screen, BeliefsScreen), "the list again", timeout=2)
        finally:
            os.kill(d.pid, signal.SIGCONT)
        await until(pilot, lambda: "● up" in plain(bar), "up again", timeout=NOT_ANSWERING_WITHIN_S)
        assert "not answering" not in plain(bar)

    run(TacitApp(d.socket), scenario)


def test_a_socket_that_takes_the_connection_but_never_answers_is_not_shown_as_up_and_quits_at_once(tmp_path):
    """A listening socket nobody accepts on: connections succeed (the backlog), replies never come.

    The first listing request is still waiting (the client's timeout is 30 s)
    when the scenario ends: quitting must not wait for it.
    """
    path = short_socket_dir() / "hung.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(16)
    quit_at: list[float] = []

    async def scenario(pilot) -> None:
        bar = pilot.app.screen.query_one(StatusBar)
        await until(pilot, lambda: "not answering" in plain(bar), "the not-answering status",
                    timeout=STATUS_TIMEOUT_S + 3)
        assert "no reply yet" in plain(bar) and "● up" not in plain(bar)
        assert isinstance(pilot.app.screen, BeliefsScreen)  # something is there: not the "not running" screen
        quit_at.append(time.monotonic())

    try:
        run(TacitApp(path), scenario)
        waited = time.monotonic() - quit_at[0]
        assert waited < 10, f"quitting waited {waited:.0f} s for a request the daemon never answers"
    finally:
        server.close()
        path.unlink()
        path.parent.rmdir()


def test_starting_without_a_daemon_shows_the_start_command_not_a_traceback(tmp_path):
    async def scenario(pilot) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, DaemonDownScreen), "the daemon-down screen")
        assert "tacit start" in plain(pilot.app.screen.query_one("#down-message", Static))

    run(TacitApp(tmp_path / "no-daemon.sock"), scenario)


# -- activity and quarantine -----------------------------------------------------------------------------------


def _activity_and_a_failed_segment(store: Store) -> None:
    now = datetime.now().astimezone()
    hour = now.replace(minute=0, second=0, microsecond=0)
    seen = store.add_observations([  # blender: 25 minutes that ended a minute ago (counted up to now, not beyond)
        Observation(observer="window", app="blender", captured_at=now - timedelta(minutes=26), duration_s=1500),
        Observation(observer="window", app="inkscape", captured_at=hour - timedelta(days=2), duration_s=3000),
        Observation(observer="screen", app="code", text="x = 1", captured_at=hour - timedelta(days=3)),
        Observation(observer="screen", app="code", text="y = 2", captured_at=hour - timedelta(days=3)),
    ])
    for key, obs in (("0123456789abcdef", seen[2]), ("fedcba9876543210", seen[3])):
        store.queue.enqueue([obs.id])
        store.queue.open_segment(key, [obs.id])
        store.queue.quarantine(key, "SchemaError: the reply is not valid JSON", '{"drafts": [{"text": "Sam',
                               3, None)


@pytest.fixture
def with_activity(tmp_path: Path) -> Iterator[DaemonProc]:
    with seeded_daemon(tmp_path, more=_activity_and_a_failed_segment) as (d, _):
        yield d


def test_activity_draws_time_per_app_today_and_this_week(with_activity):
    if datetime.now().astimezone().time() < dt_time(0, 30):
        pytest.skip("the seeded 25 minutes would start yesterday")

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await pilot.press("2")
        chart = pilot.app.screen.query_one("#activity-chart", Static)
        await until(pilot, lambda: "blender" in plain(chart), "the activity chart")
        today, week = plain(chart).split("Last 7 days")
        assert "blender" in today and "25m" in today and "inkscape" not in today  # 2 days ago is not today
        assert "inkscape" in week and "50m" in week and "blender" in week
        assert any(c in today for c in "▁▂▃▄▅▆▇█")  # drawn, not only counted

    run(TacitApp(with_activity.socket), scenario)


def test_quarantine_shows_raw_output_and_retries_and_drops(with_activity):
    client = with_activity.client()

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await pilot.press("3")
        raw = pilot.app.screen.query_one("#raw", Static)
        await until(pilot, lambda: "0123456789abcdef" in str(pilot.app.screen.entries), "the quarantine list")
        assert '{"drafts": [{"text": "Sam' in plain(raw) and "not valid JSON" in plain(raw)
        await pilot.press("t")  # retry the first: due again now
        await until(pilot, lambda: pilot.app.screen.entries["0123456789abcdef"].next_try_at is not None, "retry")
        await pilot.press("down", "d")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the drop dialog")
        await pilot.click("#yes")
        await until(pilot, lambda: "fedcba9876543210" not in pilot.app.screen.entries, "the dropped entry to go")

    run(TacitApp(with_activity.socket), scenario)
    entries = {e.key: e for e in client.quarantine_list()}
    assert list(entries) == ["0123456789abcdef"] and entries["0123456789abcdef"].next_try_at is not None


# -- text from captured data is shown as text, never as markup ------------------------------------------------


def test_markup_in_a_belief_is_shown_literally_through_confirm_reject_and_forget_from_the_detail(daemon_with):
    d, _ = daemon_with
    client = d.client()
    odd = client.remember("Sam types [/red] and [bold]tags[/bold] zzq")

    async def scenario(pilot) -> None:
        await until(pilot, lambda: isinstance(pilot.app.screen, BeliefsScreen)
                    and odd.id in pilot.app.screen.beliefs.beliefs, "the odd belief")
        await select_row(pilot, odd.id)
        await pilot.press("c")  # the toast names the belief
        await until(pilot, lambda: any("[/red]" in str(n.message) for n in pilot.app._notifications),
                    "the confirm toast, with the text as typed")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, DetailScreen) and pilot.app.screen.proposition,
                    "the detail")
        assert "[bold]tags[/bold]" in plain(pilot.app.screen.query_one("#detail-claim", Static))
        await pilot.press("r")
        await until(pilot, lambda: isinstance(pilot.app.screen, TextPromptScreen), "the reject prompt")
        await pilot.press("escape")
        await pilot.press("f")
        await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the forget dialog")
        await pilot.click("#yes")  # our forget and the daemon's event both arrive: the detail closes once
        await until(pilot, lambda: isinstance(pilot.app.screen, BeliefsScreen)
                    and odd.id not in pilot.app.screen.beliefs.beliefs, "back on the list, the belief gone")
        await pilot.pause(0.5)
        assert isinstance(pilot.app.screen, BeliefsScreen)  # and the list stays

    run(TacitApp(d.socket), scenario)
    with pytest.raises(ApiError, match="404"):
        client.get(odd.id)


def test_times_are_shown_in_local_time_with_the_offset(monkeypatch):
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        when = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
        assert local(when) == "2026-11-20 15:00 +0530"
        text = evidence_text([Observation(observer="screen", app="code", window_title="a [b] c", text="x",
                                          captured_at=when)])
        assert text.plain.startswith("2026-11-20 15:00 +0530  code  a [b] c")
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_the_status_bar_reads_the_daemons_status():
    status = StatusOut(
        daemon={"observers": [{"name": "screen", "on": True, "reason": "running"},
                              {"name": "files", "on": False, "reason": "off"}],
                "worker": {"state": "idle", "model": "qwen2.5-coder-1.5b", "tok_s": 8.25,
                           "last_batch": {"finished_at": "2026-11-20T09:30:00+00:00"}}},
        paused=True, paused_until=datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
        queue={"pending": 7, "segmented": 2, "processed": 40, "quarantined": 1},
        propositions=12, quarantined=1, encrypted=True, last_event_id=3)
    line = status_text(status).plain
    assert "● up" in line and "⏸ paused until" in line and "observers screen ·" in line
    assert "queue 9" in line and "qwen2.5-coder-1.5b 8.2 tok/s" in line and "1 quarantined" in line
    assert "last batch Nov 20 " in line  # another day: date and local time
    assert status_text(None).plain.startswith("● daemon down")


# -- a daemon that stops answering while calls are out --------------------------------------------------------


def call_threads() -> int:
    """Live threads running the app's calls to the daemon (DaemonThreadPool names them)."""
    return sum(t.name.startswith("tacit-call") and t.is_alive() for t in threading.enumerate())


def test_typing_a_search_to_a_stopped_daemon_keeps_one_search_out_and_sends_the_latest_when_it_answers(daemon_with):
    """kill -STOP: each keystroke's search would hang in its own thread and socket, all sent at once on SIGCONT.

    One search per screen is out at a time; what was typed meanwhile is sent
    once, as the latest query, when that one returns.
    """
    d, ids = daemon_with
    lisbon = fact_id(ids, "Sam plans a trip to Lisbon")
    query = "plans a trip to Lisbon"

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await until(pilot, lambda: pilot.app.status is not None, "the first status")
        screen = pilot.app.screen
        before = call_threads()
        os.kill(d.pid, signal.SIGSTOP)
        try:
            await pilot.press("slash")
            most = 0
            for i in range(len(query)):
                await pilot.press(query[i] if query[i] != " " else "space")
                await until(pilot, lambda: screen.query_text == query[: i + 1].strip(), "the debounced search")
                most = max(most, call_threads())
            assert most - before <= 3, f"{most - before} call threads for {len(query)} keystrokes"
        finally:
            os.kill(d.pid, signal.SIGCONT)
        await until(pilot, lambda: table(pilot).with_why and lisbon in table(pilot).beliefs, "the latest query's hits")
        assert f"for “{query}”" in plain(screen.query_one("#summary", Static))

    run(TacitApp(d.socket), scenario)


async def exited(app: TacitApp, timeout: float) -> float:
    """Seconds until the app ends by itself (no Pilot calls: it may be gone); fail after `timeout`."""
    start = time.monotonic()
    while app.is_running:
        if time.monotonic() - start > timeout:
            raise AssertionError(f"the app still runs after {timeout} s")
        await asyncio.sleep(0.05)
    return time.monotonic() - start


def forgotten(client, proposition_id: int) -> bool:
    try:
        client.get(proposition_id)
    except ApiError as exc:
        return "404" in str(exc)
    return False


def notices(pilot, words: str) -> int:
    return sum(words in str(n.message) for n in pilot.app._notifications)


async def forget_then_quit(pilot) -> None:
    """f y on the selected row, then q, with the daemon stopped: the forget is out, and q says it waits for it."""
    await pilot.press("f")
    await until(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the forget dialog")
    await pilot.press("y")
    await until(pilot, lambda: not isinstance(pilot.app.screen, ConfirmScreen), "the forget to be sent")
    await pilot.press("q")
    await until(pilot, lambda: notices(pilot, "still being sent to the daemon"), "the notice", timeout=QUIT_WAIT_S)


def test_quitting_with_a_change_still_being_sent_says_so_waits_then_names_it_on_the_terminal(daemon_with):
    """f y to a stopped daemon, then q: the request sits in the socket and may be applied after the TUI is gone.

    The user is told on screen, the TUI waits QUIT_WAIT_S for the answer, and
    the line left on the terminal names the change and says it may still happen
    (it does: the daemon forgets it when it continues).
    """
    d, ids = daemon_with
    forget_id = ids[7]
    client = d.client()
    app = TacitApp(d.socket)
    waited: list[float] = []

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await select_row(pilot, forget_id)
        text = table(pilot).beliefs[forget_id].proposition.text
        os.kill(d.pid, signal.SIGSTOP)
        await forget_then_quit(pilot)
        assert pilot.app.is_running  # not gone in silence
        waited.append(await exited(app, QUIT_WAIT_S + 5))
        assert any(text[:20] in str(m) and "may still" in str(m) for m in app._exit_renderables)

    try:
        run(app, scenario)
    finally:
        os.kill(d.pid, signal.SIGCONT)
    assert QUIT_WAIT_S - 0.5 < waited[0] < QUIT_WAIT_S + 3
    wait_until(lambda: forgotten(client, forget_id), 20, 0.1, "the forget to land once the daemon continues")


def test_quitting_waits_for_a_change_answered_meanwhile_then_quits_with_nothing_to_report(daemon_with):
    d, ids = daemon_with
    forget_id = ids[7]
    app = TacitApp(d.socket)

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await select_row(pilot, forget_id)
        os.kill(d.pid, signal.SIGSTOP)
        try:
            await forget_then_quit(pilot)
        finally:
            os.kill(d.pid, signal.SIGCONT)
        await exited(app, QUIT_WAIT_S + 5)
        assert not app._exit_renderables

    run(app, scenario)
    assert forgotten(d.client(), forget_id)


def test_p_acts_on_the_pause_just_asked_for_not_on_the_last_polled_status(daemon_with):
    """Paused, then p p p before the daemon answers: resume once, then the pause dialog (once), not three resumes."""
    d, _ = daemon_with
    client = d.client()
    client.pause(None)

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await until(pilot, lambda: footer(pilot).get("p") == "Resume", "the footer to offer Resume")
        os.kill(d.pid, signal.SIGSTOP)  # the resume is not answered before the next p (as in a burst of keys)
        try:
            await pilot.press("p", "p", "p")
            await until(pilot, lambda: isinstance(pilot.app.screen, PauseScreen), "the pause dialog")
        finally:
            os.kill(d.pid, signal.SIGCONT)
        await until(pilot, lambda: notices(pilot, "Capture resumed"), "the resume to be answered")
        await until(pilot, lambda: "paused" not in plain(pilot.app.screen_stack[0].query_one(StatusBar)),
                    "the status bar to say it resumed")
        assert sum(isinstance(s, PauseScreen) for s in pilot.app.screen_stack) == 1
        assert notices(pilot, "Capture resumed") == 1
        assert not (await asyncio.to_thread(client.status)).paused
        await pilot.press("escape")
        await until(pilot, lambda: footer(pilot).get("p") == "Pause", "the footer to offer Pause")

    run(TacitApp(d.socket), scenario)
    assert not client.status().paused


def test_changes_asked_before_the_daemon_answers_go_one_at_a_time_in_order(daemon_with):
    """p Enter (pause 15 min), then p (resume) to a stopped daemon: the resume waits for the pause's answer.

    Sent side by side, the two could land in either order and leave capture
    paused after the user resumed it.
    """
    d, _ = daemon_with
    client = d.client()

    async def scenario(pilot) -> None:
        await loaded(pilot)
        await until(pilot, lambda: footer(pilot).get("p") == "Pause", "the footer to offer Pause")
        before = call_threads()
        os.kill(d.pid, signal.SIGSTOP)
        try:
            await pilot.press("p")
            await until(pilot, lambda: isinstance(pilot.app.screen, PauseScreen), "the pause dialog")
            await pilot.press("enter")
            await until(pilot, lambda: not isinstance(pilot.app.screen, PauseScreen), "the pause to be sent")
            await pilot.press("p")  # acts on the pause just asked for: resume
            await until(pilot, lambda: footer(pilot).get("p") == "Pause", "the footer to offer Pause again")
            assert pilot.app.writes == ["pause capture", "resume capture"]
            assert call_threads() - before <= 2  # the pause (and maybe a status poll); the resume waits
        finally:
            os.kill(d.pid, signal.SIGCONT)
        await until(pilot, lambda: notices(pilot, "Capture resumed"), "the resume's answer")
        said = [str(n.message) for n in pilot.app._notifications if "Capture" in str(n.message)]
        assert said[0].startswith("Capture paused until") and said[1:] == ["Capture resumed"]

    run(TacitApp(d.socket), scenario)
    assert not client.status().paused

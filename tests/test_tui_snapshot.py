"""Snapshots of `tacit tui` (pytest-textual-snapshot): the list, search hits, the forget dialog, daemon down.

A real daemon serves the seeded beliefs (bench/data/beliefs.py: ages are
whole hours and a half, so they read the same for half an hour). After a
deliberate change to the look, review and accept with
`pytest tests/test_tui_snapshot.py --snapshot-update`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_proc import DaemonProc
from textual.widgets import Input
from test_tui import seeded_daemon

from tacitd.tui.app import TacitApp
from tacitd.tui.screens.beliefs import BeliefsScreen
from tacitd.tui.screens.confirm import ConfirmScreen
from tacitd.tui.screens.down import DaemonDownScreen

SIZE = (140, 40)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProc]:
    with seeded_daemon(tmp_path_factory.mktemp("tui-snap")) as (d, _):
        yield d


async def settle(pilot, predicate, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(0.05)
    await pilot.pause(0.3)  # let the status bar and the table finish drawing


def listed(pilot) -> bool:
    screen = pilot.app.screen
    return (isinstance(screen, BeliefsScreen) and screen.total > 0 and screen.beliefs.row_count == screen.total
            and pilot.app.status is not None)


def test_list(served, snap_compare):
    async def ready(pilot) -> None:
        await settle(pilot, lambda: listed(pilot), "the listing")

    assert snap_compare(TacitApp(served.socket), terminal_size=SIZE, run_before=ready)


def test_search_hits_say_why(served, snap_compare):
    async def ready(pilot) -> None:
        await settle(pilot, lambda: listed(pilot), "the listing")
        await pilot.press("slash")
        await pilot.pause(0.1)
        await pilot.press(*"PyTorch")
        pilot.app.screen.query_one("#search", Input).cursor_blink = False  # drawn the same at any moment
        await settle(pilot, lambda: pilot.app.screen.hits.display and pilot.app.screen.hits.row_count, "hits")

    assert snap_compare(TacitApp(served.socket), terminal_size=SIZE, run_before=ready)


def test_forget_asks_first(served, snap_compare):
    async def ready(pilot) -> None:
        await settle(pilot, lambda: listed(pilot), "the listing")
        await pilot.press("f")
        await settle(pilot, lambda: isinstance(pilot.app.screen, ConfirmScreen), "the dialog")

    assert snap_compare(TacitApp(served.socket), terminal_size=SIZE, run_before=ready)


def test_daemon_down(snap_compare):
    async def ready(pilot) -> None:
        await settle(pilot, lambda: isinstance(pilot.app.screen, DaemonDownScreen), "the daemon-down screen")

    assert snap_compare(TacitApp(Path("/nonexistent/tacit.sock")), terminal_size=SIZE, run_before=ready)

"""Writes docs/tui-list.svg and docs/tui-detail.svg: `tacit tui` on seeded beliefs, exported by Textual.

    python docs/tui_screenshots.py

A real daemon (pipeline off) serves 40 seeded beliefs (bench/data/beliefs.py);
the detail is the fine-tuning belief after you confirmed it.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent / "tests"), str(HERE.parent / "bench" / "data")]
os.environ.setdefault("TACIT_DB_KEY", secrets.token_hex(32))

from test_tui import seeded_daemon  # noqa: E402

from tacitd.tui.app import TacitApp  # noqa: E402
from tacitd.tui.screens.beliefs import BeliefsScreen  # noqa: E402
from tacitd.tui.screens.detail import DetailScreen  # noqa: E402


async def shoot(socket: Path, confirm_id: int) -> None:
    app = TacitApp(socket)
    async with app.run_test(size=(130, 36)) as pilot:
        while not (isinstance(app.screen, BeliefsScreen) and app.screen.beliefs.row_count and app.status):
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        app.save_screenshot("tui-list.svg", str(HERE))
        table = app.screen.beliefs
        table.move_cursor(row=table.get_row_index(str(confirm_id)))
        await pilot.press("c", "enter")
        while not (isinstance(app.screen, DetailScreen) and app.screen.proposition
                   and app.screen.proposition.confidence == 1.0):
            await pilot.pause(0.05)
        await pilot.pause(0.5)
        app.save_screenshot("tui-detail.svg", str(HERE))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tacit-shots-") as tmp, seeded_daemon(Path(tmp)) as (d, ids):
        asyncio.run(shoot(d.socket, ids[0]))
    print(HERE / "tui-list.svg", HERE / "tui-detail.svg")


if __name__ == "__main__":
    main()

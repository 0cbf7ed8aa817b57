"""How fast `tacit tui` shows 10,000 beliefs.

    python bench/tui.py --json [--n 10000] [--runs 3]

A real daemon (pipeline off) serves a temp store seeded with `n`
propositions with evidence and vectors from the daemon's embedder
(bench/data/beliefs.py), so search takes its real hybrid path. Two measures of startup
to first paint, goal < 1 s:

- `process_first_paint_s`: `tacit tui` started in a tmux pane (a new Python
  process: interpreter, imports, the first page of 1,000 rows over the
  socket) until the pane shows the top row. The pane is read every 10 ms.
- `inprocess_first_paint_s`: TacitApp constructed (imports done) until the
  compositor first draws a line of the table with rows in it (the first
  page, 200 rows), and `inprocess_all_loaded_s` until all `n` rows are in
  the table (later pages of 1,000 load in the background).
- `import_s`: `import tacitd.tui.app` in a fresh interpreter (most of the
  process figure).

Then, with all rows loaded: `sort_ms` (re-sort 10,000 rows by recency),
`page_down_ms` (one key press, to the next frame) and `search_ms` (typing
a query until the hits replace the rows, debounce included). Median of
`runs`; `loadavg` says how busy the shared CPU was.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("TACIT_DB_KEY", secrets.token_hex(32))  # the seeding here and the daemon share one key
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "bench" / "data")]

import beliefs  # noqa: E402
from daemon_proc import DaemonProc, running_daemon  # noqa: E402

from tacitd.daemon.backends import build_embedder  # noqa: E402
from tacitd.daemon.config import load_settings  # noqa: E402
from tacitd.memory.store import Store  # noqa: E402


def seed(tmp: Path, n: int, embed: bool) -> str:
    """Seed the store (with the daemon's embedder's vectors unless not `embed`); returns the top belief's text."""
    (tmp / "data").mkdir()
    store = Store(tmp / "data" / "tacit.db")
    embedder = build_embedder(load_settings(tmp / "none.toml", data_dir=tmp).models) if embed else None
    beliefs.seed(store, n, embedder=embedder)
    top = max(store.all_propositions(), key=lambda p: (p.confidence, p.id or 0))
    store.close()
    return top.text


def process_first_paint(d: DaemonProc, top_text: str, timeout: float = 30.0) -> float:
    """Seconds from starting `tacit tui` in a tmux pane until its top row is on screen."""
    session = f"tacit-bench-{os.getpid()}"
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in d.env.items() if k.startswith("TACIT_"))
    command = f"env {env} {shlex.quote(sys.executable)} -c 'from tacitd.daemon.cli import main; main()' tui"
    needle = top_text[:40]
    start = time.monotonic()
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "140", "-y", "40", command], check=True)
    try:
        while time.monotonic() - start < timeout:
            pane = subprocess.run(["tmux", "capture-pane", "-p", "-t", session], capture_output=True, text=True).stdout
            if needle in pane:
                return time.monotonic() - start
            time.sleep(0.01)
        raise SystemExit(f"tacit tui did not show {needle!r} within {timeout} s:\n{pane}")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)


def import_time() -> float:
    code = "import time; t = time.perf_counter(); import tacitd.tui.app; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)


async def inprocess(d: DaemonProc, n: int) -> dict[str, float]:
    from tacitd.tui.app import TacitApp
    from tacitd.tui.widgets.belief_table import BeliefTable

    painted: list[float] = []
    render_line = BeliefTable.render_line

    def timed_render_line(self: BeliefTable, y: int):  # type: ignore[no-untyped-def]
        if self.row_count and not painted:  # the compositor asks the table for a line that holds rows
            painted.append(time.perf_counter())
        return render_line(self, y)

    BeliefTable.render_line = timed_render_line  # type: ignore[method-assign]
    start = time.perf_counter()
    app = TacitApp(d.socket)
    out: dict[str, float] = {}
    async with app.run_test(size=(140, 40)) as pilot:
        while not painted:
            await pilot.pause(0.005)
        out["inprocess_first_paint_s"] = painted[0] - start
        table = app.screen.beliefs
        while table.row_count < n:
            await pilot.pause(0.01)
        out["inprocess_all_loaded_s"] = time.perf_counter() - start
        t0 = time.perf_counter()
        table.resort("recency")
        await pilot.pause()
        out["sort_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        await pilot.press("pagedown")
        out["page_down_ms"] = (time.perf_counter() - t0) * 1000
        t0 = time.perf_counter()
        await pilot.press("slash", *"Lisbon")
        while not (app.screen.hits.display and app.screen.hits.row_count):
            await pilot.pause(0.005)
        out["search_ms"] = (time.perf_counter() - t0) * 1000
    BeliefTable.render_line = render_line  # type: ignore[method-assign]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--no-embed", action="store_true", help="seed without vectors (search is full-text only)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tacit-bench-tui-") as tmp:
        top_text = seed(Path(tmp), args.n, not args.no_embed)
        with running_daemon(Path(tmp), model=None) as d:
            process = [process_first_paint(d, top_text) for _ in range(args.runs)]
            imports = [import_time() for _ in range(args.runs)]
            runs = [asyncio.run(inprocess(d, args.n)) for _ in range(args.runs)]
    result = {
        "n": args.n, "runs": args.runs, "vectors": not args.no_embed, "goal_first_paint_s": 1.0,
        "process_first_paint_s": round(statistics.median(process), 3),
        "import_s": round(statistics.median(imports), 3),
        **{k: round(statistics.median(r[k] for r in runs), 3) for k in runs[0]},
        "loadavg": [round(x, 2) for x in os.getloadavg()],
    }
    print(json.dumps(result, indent=2) if args.json else
          "\n".join(f"{k}: {v}" for k, v in result.items()))


if __name__ == "__main__":
    main()

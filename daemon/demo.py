"""The main job, `make demo`: a sample day through the running daemon, then an assistant's questions.

It starts `tacit daemon` on a throwaway data dir (its own config, key and
socket, so the user's memory, keyring and a daemon they may run are never
touched, and no observer captures the real screen), pushes the bundled day
(`bench/data/day.jsonl`) through `POST /v1/observations`, waits while the
pipeline works through it, then asks `/v1/context` two questions the way an
assistant would: through the MCP bridge, with the `mcp` SDK's client spawning
`tacit mcp` over stdio. It prints the answers and stops the daemon.

Run it with `python -m tacitd.daemon.demo [DAY.jsonl]`.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mcp import Client, StdioServerParameters
from rich.console import Console
from rich.markdown import Markdown
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from .api.client import TacitClient
from .api.schemas import ObservationIn
from .render import safe

QUESTIONS = ("What machine learning work is Sam doing?",
             "Is Sam planning any travel?")
USER = "Sam"
BUDGET_TOKENS = 150  # about four lines each: the most relevant come first
START_TIMEOUT_S = 120.0  # the daemon loads the embedder before it serves
PIPELINE_TIMEOUT_S = 1800.0  # a hang, not a slow machine
STOP_TIMEOUT_S = 15.0
console = Console()


def tacit_command() -> str:
    """The `tacit` script of this interpreter's environment (the venv `make demo` built)."""
    return str(Path(sys.executable).with_name("tacit"))


def demo_env(home: Path) -> dict[str, str]:
    """Environment for the throwaway daemon and the bridge: its own data dir, key and socket, and no config file.

    Settings go in as `TACIT_*` variables because those win over any file and
    over the same variables in the user's shell: observers stay off whatever
    the caller's environment says.
    """
    return {"TACIT_DATA_DIR": str(home / "data"), "TACIT_CONFIG": str(home / "no-config.toml"),
            "TACIT_DB_KEY": secrets.token_hex(32), "TACIT_SOCKET": str(home / "run" / "tacit.sock"),
            "TACIT_OBSERVERS__ENABLED": "[]", "TACIT_DAEMON__USER_NAME": USER, "TACIT_DAEMON__FLUSH_INTERVAL_S": "5",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def poll(check: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.5) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} took longer than {timeout_s:.0f} s")
        time.sleep(interval_s)


@contextmanager
def running_daemon(env: dict[str, str], log: Path) -> Iterator[TacitClient]:
    """`tacit daemon` in the foreground as a child; SIGTERM (a graceful drain) when the block ends."""
    with log.open("wb") as err:
        proc = subprocess.Popen([tacit_command(), "daemon"], env={**os.environ, **env},
                                stdin=subprocess.DEVNULL, stdout=err, stderr=err)
    client = TacitClient(Path(env["TACIT_SOCKET"]))
    try:
        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"the daemon exited with status {proc.returncode}")
            return client.running()

        poll(up, START_TIMEOUT_S, "starting the daemon")
        yield client
    except Exception:
        console.print("[red]the demo failed; the daemon's log ends with:[/red]")
        console.print(log.read_text(errors="replace")[-3000:], markup=False, highlight=False)
        raise
    finally:
        client.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def read_day(path: Path) -> list[ObservationIn]:
    with path.open(encoding="utf-8") as fh:
        return [ObservationIn.model_validate(json.loads(line)) for line in fh if line.strip()]


def wait_for_pipeline(client: TacitClient, pushed: int) -> None:
    """Poll /v1/status until no pushed observation waits (pending or in an open segment)."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TextColumn("{task.completed}/{task.total} observations"), TimeElapsedColumn(),
                  console=console) as progress:
        task = progress.add_task("pipeline", total=pushed)

        def done() -> bool:
            status = client.status()
            waiting = status.queue.get("pending", 0) + status.queue.get("segmented", 0)
            worker = status.daemon.get("worker") or {}
            progress.update(task, completed=max(0, pushed - waiting),
                            description=f"pipeline (model {worker.get('state', '?')}, "
                                        f"{status.propositions} beliefs so far)")
            return waiting == 0

        poll(done, PIPELINE_TIMEOUT_S, "the pipeline", interval_s=1.0)
    batch = (client.status().daemon.get("worker") or {}).get("last_batch") or {}
    if batch:
        console.print(f"pipeline done: {batch.get('segments', '?')} activity segments, {batch.get('skipped', 0)} "
                      f"skipped by the screen (ads, spam, news), {batch.get('quarantined', 0)} quarantined, "
                      f"{batch.get('propositions_written', 0)} beliefs written by the model")


def show_beliefs(client: TacitClient) -> None:
    """What tacit now believes, newest first, with confidence and the sessions and days behind each belief."""
    table = Table("belief", "confidence", "source", "support", title="What tacit now believes", title_justify="left")
    for item in client.recent(limit=50).items:
        p, s = item.proposition, item.support
        table.add_row(safe(p.text), f"{p.confidence:.2f}", p.source, f"{s.sessions} session(s), {s.days} day(s)")
    console.print(table)


async def ask(env: dict[str, str], questions: tuple[str, ...]) -> list[str]:
    """Each question through `tacit mcp`, spawned by the MCP SDK's client, as an assistant would ask."""
    params = StdioServerParameters(command=tacit_command(), args=["mcp"], env=env)
    answers = []
    async with Client(params) as client:
        for q in questions:
            result = await client.call_tool("get_user_context", {"query": q, "budget_tokens": BUDGET_TOKENS})
            text = "\n".join(c.text for c in result.content if c.type == "text")
            if result.is_error:
                raise RuntimeError(f"get_user_context failed: {text}")
            answers.append(text)
    return answers


def run(day: Path) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tacit-demo-") as tmp:
        home = Path(tmp)
        env = demo_env(home)
        observations = read_day(day)
        console.print(f"[bold]tacit demo[/bold]: a throwaway daemon in {home}")
        with running_daemon(env, home / "daemon.log") as client:
            console.print(f"daemon up on {env['TACIT_SOCKET']}; pushing {len(observations)} observations "
                          f"from {day.name} through POST /v1/observations")
            report = client.push_observations(observations)
            wait_for_pipeline(client, report.stored)
            show_beliefs(client)
            console.print("asking as an assistant would: the MCP SDK's client runs `tacit mcp` and calls "
                          "get_user_context")
            answers = asyncio.run(ask(env, QUESTIONS))
            for q, a in zip(QUESTIONS, answers, strict=True):
                console.print(Panel(Markdown(a), title=f"[bold]{q}[/bold]", title_align="left"))
        console.print(f"daemon stopped. Demo took {time.monotonic() - started:.0f} s.")


def main() -> None:
    default = Path(__file__).resolve().parents[1] / "bench" / "data" / "day.jsonl"
    run(Path(sys.argv[1]) if len(sys.argv) > 1 else default)


if __name__ == "__main__":
    main()

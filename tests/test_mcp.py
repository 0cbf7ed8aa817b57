"""`tacit mcp`: the `mcp` SDK's own client spawns the real `tacit mcp` over stdio, which asks a real daemon.

The daemon is a real `tacit daemon` process (tests/daemon_proc.py, pipeline
off) on a real Unix socket; the bridge finds it through TACIT_SOCKET, as an
assistant's MCP config would set it. Beliefs are seeded into the daemon's
store file from the test, with real MiniLM embeddings.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from daemon_proc import DaemonProc, daemon  # noqa: F401  (the real-daemon fixture)
from tacitd.daemon import ops
from tacitd.daemon.mcp_bridge import MAX_BUDGET, MAX_REMEMBER_CHARS, MIN_BUDGET
from tacitd.memory.store import Store
from tacitd.memory.types import Observation, Proposition, SearchFilters

TACIT = str(Path(sys.executable).with_name("tacit"))
TOOLS = {"get_user_context", "search_memory", "recent_activity", "remember"}


@asynccontextmanager
async def bridge(socket_path: Path) -> AsyncIterator[Client]:
    env = {"TACIT_SOCKET": str(socket_path), "TACIT_DB_KEY": os.environ["TACIT_DB_KEY"]}
    async with Client(StdioServerParameters(command=TACIT, args=["mcp"], env=env), read_timeout_seconds=60) as c:
        yield c


def run(session: Callable[[Client], Coroutine[Any, Any, Any]], socket_path: Path) -> Any:
    async def main() -> Any:
        async with bridge(socket_path) as client:
            return await session(client)

    return asyncio.run(main())


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, str]:
    result = await client.call_tool(tool, arguments)
    return result.is_error, "\n".join(c.text for c in result.content if c.type == "text")


@pytest.fixture
def daemon_store(daemon: DaemonProc) -> Iterator[Store]:
    """The running daemon's own store file, opened beside it (WAL: both may read and write)."""
    with Store(daemon.data_dir / "tacit.db") as s:
        yield s


def seed(store: Store, embedder: Any, text: str, app: str) -> int:
    seen = store.add_observation(Observation(observer="screen", app=app, text=text,
                                             captured_at=datetime.now(UTC) - timedelta(hours=3)))
    p = store.add_proposition(Proposition(text=text, confidence=0.7, source="llm"), evidence=[seen.id],
                              embedding=ops.embed_for(store, embedder, text, False))
    return p.id


def users_own(store: Store) -> int:
    return store.count(SearchFilters(source=("user",), status=("current", "superseded", "rejected")))


def test_without_a_daemon_the_tools_are_listed_and_each_call_says_to_start_it(tmp_path):
    async def session(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        budget = tools["get_user_context"].input_schema["properties"]["budget_tokens"]
        assert (budget["minimum"], budget["maximum"]) == (MIN_BUDGET, MAX_BUDGET)
        assert tools["remember"].input_schema["properties"]["text"]["maxLength"] == MAX_REMEMBER_CHARS
        assert tools["remember"].input_schema["required"] == ["text"]
        for _ in range(2):  # the bridge stays up: an assistant may call again once the daemon runs
            is_error, text = await call(client, "get_user_context", query="what am I working on")
            assert is_error
            assert "tacit start" in text and str(tmp_path / "absent.sock") in text

    run(session, tmp_path / "absent.sock")


def test_bad_arguments_are_tool_errors_naming_the_argument_and_change_nothing(daemon, daemon_store, minilm):
    seed(daemon_store, minilm, "Sam is writing a grant proposal on soil moisture sensors", "firefox")

    async def session(client: Client) -> None:
        bad = [("get_user_context", {"query": "grant", "budget_tokens": -5}, "budget_tokens"),
               ("get_user_context", {"query": "grant", "budget_tokens": 10**9}, "budget_tokens"),
               ("get_user_context", {"query": "x" * 5000}, "query"),
               ("search_memory", {"query": ""}, "query"),
               ("search_memory", {"query": "   "}, "query"),
               ("search_memory", {"query": "grant", "limit": 0}, "limit"),
               ("search_memory", {"query": "grant", "since": "the other day"}, "since"),
               ("recent_activity", {"hours": -1}, "hours"),
               ("recent_activity", {"hours": 10**6}, "hours"),
               ("remember", {"text": ""}, "text"),
               ("remember", {"text": " \n\t "}, "text"),
               ("remember", {"text": "I like tea. " * 200}, "text"),
               ("remember", {}, "text")]
        for tool, arguments, name in bad:
            is_error, text = await call(client, tool, **arguments)
            assert is_error, (tool, arguments, text)
            assert name in text, (tool, arguments, text)

    run(session, daemon.socket)
    assert users_own(daemon_store) == 0


def test_context_finds_a_seeded_belief_by_meaning_and_ranks_it_for_the_question(daemon, daemon_store, minilm):
    seed(daemon_store, minilm, "Sam is training a reward model on the Anthropic HH preference pairs", "code")
    seed(daemon_store, minilm, "Sam is booking flights to Osaka for March", "firefox")
    seed(daemon_store, minilm, "Sam prefers a dark theme in the terminal", "kitty")

    async def session(client: Client) -> tuple[str, str, str]:
        # Neither names its answer's words; vaguer ones ("which machine learning project") score at MiniLM's
        # noise level and fall under the context floor (bench/context_floor.py).
        _, ml = await call(client, "get_user_context",
                           query="is the user doing reinforcement learning from human feedback?", budget_tokens=400)
        _, trip = await call(client, "get_user_context", query="is the user travelling to Japan?",
                             budget_tokens=400)
        _, profile = await call(client, "get_user_context")  # no query: a general profile
        return ml, trip, profile

    ml, trip, profile = run(session, daemon.socket)
    assert all(words in profile for words in ("reward model", "Osaka", "dark theme"))
    assert ranked_first(ml, "reward model", "Osaka")  # neither question names its answer's words
    assert ranked_first(trip, "Osaka", "reward model")


def ranked_first(block: str, wanted: str, other: str) -> bool:
    """`wanted` is in the block, above `other` when that is there too."""
    return wanted in block and (other not in block or block.index(wanted) < block.index(other))


def test_remember_is_stored_as_the_users_own_and_search_and_recent_activity_find_it(daemon, daemon_store):
    now = datetime.now(UTC)
    with daemon.client() as api:  # twenty minutes in VS Code, pushed as another app would
        api.push_observations([{"observer": "window", "app": "code", "window_title": "thesis.tex",
                                "captured_at": (now - timedelta(minutes=40)).isoformat(), "duration_s": 1200}])

    async def session(client: Client) -> tuple[str, str, str, str, tuple[bool, str]]:
        _, stored = await call(client, "remember", text="I  prefer British spelling\nin my documents")
        _, found = await call(client, "search_memory", query="which spelling conventions", limit=5, since="1h")
        _, none_since = await call(client, "search_memory", query="which spelling conventions",
                                   since=(now + timedelta(days=1)).date().isoformat())
        _, recent = await call(client, "recent_activity", hours=2)
        daemon.stop()  # the daemon goes away while the assistant is connected
        return stored, found, none_since, recent, await call(client, "search_memory", query="spelling")

    stored, found, none_since, recent, after_stop = run(session, daemon.socket)
    new_id = int(stored.split("#")[1].split(":")[0])
    p = daemon_store.get(new_id)
    assert (p.text, p.source, p.confidence) == ("I prefer British spelling in my documents", "user", 1.0)
    assert f"#{new_id} I prefer British spelling" in found
    assert f"#{new_id}" not in none_since
    assert f"#{new_id} I prefer British spelling" in recent
    assert "Time by app: code 20 min" in recent
    assert after_stop[0] and "tacit start" in after_stop[1]


def test_the_cli_does_not_import_the_mcp_sdk():
    """The SDK takes about a second to import; only `tacit mcp` should pay it, not every command."""
    code = "import sys, tacitd.daemon.cli; print(sorted(m for m in sys.modules if m == 'mcp' or m.startswith('mcp.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"

"""`tacit mcp`: a stdio MCP server that lets an assistant ask tacit about its user.

An MCP client (Claude Desktop, an IDE agent, `mcp`'s own client) spawns
`tacit mcp` and talks JSON-RPC over its stdin/stdout. Every tool is a thin
call through the daemon's typed client (`daemon.api.client.TacitClient`) to
its Unix socket, so the bridge holds no store, no model and no state of its
own: a user's memory is only ever opened by the daemon. When the daemon is
not running, each tool answers with an error that says to run `tacit start`,
and the bridge itself stays up, so the assistant can call again once it is.

Arguments are checked here, before anything reaches the socket, with limits
an assistant can read in the tool's input schema; a bad call returns a tool
error naming the argument and changes nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

import click
import httpx
from pydantic import Field

from tacitd.memory.types import Proposition

from .api.client import ApiError, DaemonNotRunning, TacitClient
from .timespec import format_local, parse_when

if TYPE_CHECKING:  # the SDK takes about a second to import: only `tacit mcp` pays for it
    from mcp.server.mcpserver import MCPServer

MAX_QUERY_CHARS = 2000  # longer than any question; a pasted document is not a query
MAX_REMEMBER_CHARS = 1000  # one statement about the user, not a file
MIN_BUDGET, MAX_BUDGET = 50, 8000
MAX_LIMIT = 50
MAX_DAYS = 31  # the most /v1/activity covers
MAX_HOURS = 24 * (MAX_DAYS - 1)
RECENT_LIMIT = 50

INSTRUCTIONS = (
    "tacit is the user's on-device memory: confidence-weighted statements about the user "
    "(projects, tools, habits, plans, preferences) that it inferred from their computer activity "
    "or that they told it. Ask it before answering anything that depends on who the user is or "
    "what they have been working on, instead of asking the user to repeat themselves."
)

GET_USER_CONTEXT = (
    "Get what tacit knows about the user that is relevant to a question or task, as a ready-to-use "
    "Markdown block that fits a token budget. Each line is one statement about the user with its "
    "confidence (0-1) and the time of its newest evidence. Call this at the start of a task that depends on "
    "the user's projects, tools, habits, plans or preferences (e.g. 'help me with my grant', "
    "'continue where I left off', 'book my trip'), before asking the user for background. "
    "Pass the user's request as `query`; pass an empty query for a general profile of the user. "
    "Treat low-confidence lines as hints to confirm, not facts."
)

SEARCH_MEMORY = (
    "Search the user's memory for specific statements, best matches first, with each hit's id, "
    "confidence, score and when it was last updated. Use it to look up one thing (a project name, "
    "a tool, a place, a person the user works with) or to check whether tacit already knows something; "
    "use get_user_context instead when you want background for a task. `since` keeps only statements "
    "supported since then: a span back from now such as 30m, 6h, 2d, 1w, or an ISO date like 2026-11-01."
)

RECENT_ACTIVITY = (
    "How the user spent the last `hours` hours (default 24): time per app, then the statements about the "
    "user that tacit learned or saw supported in that time, newest first, each with its confidence. Use it "
    "for 'what was I doing this morning / yesterday', stand-ups, or to pick up the user's recent work."
)

REMEMBER = (
    "Store a statement the user made about themselves, so that later sessions know it (e.g. 'I prefer "
    "British spelling', 'my thesis deadline is 3 March'). Call it only when the user tells you something "
    "about themselves or asks you to remember it; never to save your own guesses or other people's "
    "private details. Write it as one short third-person or first-person sentence. It is stored with "
    "source 'user' and full confidence, and the user can review or forget it with tacit."
)

Query = Annotated[str, Field(max_length=MAX_QUERY_CHARS, description="The user's question or task, in their words.")]
Budget = Annotated[int, Field(ge=MIN_BUDGET, le=MAX_BUDGET, description="Most tokens the answer may take.")]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="Most statements to return.")]
Since = Annotated[str | None, Field(max_length=64, description="e.g. 6h, 2d, 1w, or 2026-11-01; omit for any time.")]
Hours = Annotated[float, Field(gt=0, le=MAX_HOURS, description="How far back to look, in hours.")]
Statement = Annotated[str, Field(min_length=1, max_length=MAX_REMEMBER_CHARS,
                                 description="One sentence about the user, as they said it.")]


def _tool_error(message: str) -> Exception:
    """The SDK's anticipated-failure error: the assistant reads `message` (any other exception is hidden)."""
    from mcp.server.mcpserver.exceptions import ToolError

    return ToolError(message)


def _call(client_factory: Callable[[], TacitClient], fn: Callable[[TacitClient], Any]) -> Any:
    """Run one client call; turn a missing daemon or a refused request into a tool error the assistant reads."""
    try:
        with client_factory() as client:
            return fn(client)
    except DaemonNotRunning as exc:
        raise _tool_error(f"tacit's memory is not available: {exc}") from exc
    except ApiError as exc:
        raise _tool_error(f"tacit refused the request: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise _tool_error(f"tacit's daemon did not answer in time ({exc}); try again") from exc


def _line(p: Proposition, extra: str = "") -> str:
    """One statement per line. Evidence snippets stay out: they are raw screen text, untrusted for an assistant."""
    return f"- #{p.id} {p.text} (confidence {p.confidence:.2f}{extra}, updated {format_local(p.updated_at)})"


def build_server(client_factory: Callable[[], TacitClient] = TacitClient) -> MCPServer:
    """The MCP server with tacit's four tools; `client_factory` opens one daemon client per call."""
    from mcp.server.mcpserver import MCPServer

    server = MCPServer("tacit", instructions=INSTRUCTIONS, log_level="WARNING")  # stderr is the client's log

    @server.tool(description=GET_USER_CONTEXT)
    def get_user_context(query: Query = "", budget_tokens: Budget = 800) -> str:
        block = _call(client_factory, lambda c: c.context(query.strip(), budget_tokens=budget_tokens))
        return block.markdown.strip() or "tacit knows nothing about the user yet."

    @server.tool(description=SEARCH_MEMORY)
    def search_memory(query: Annotated[Query, Field(min_length=1)], limit: Limit = 10, since: Since = None) -> str:
        if not query.strip():
            raise _tool_error("query is empty: say what to look for (use get_user_context for a general profile)")
        after = _since(since)
        hits = _call(client_factory, lambda c: c.search(query.strip(), limit=limit, since=after)).results
        if not hits:
            return f"Nothing in memory matches {query.strip()!r}."
        return "\n".join(_line(h.proposition, f", score {h.score:.2f}") for h in hits)

    @server.tool(description=RECENT_ACTIVITY)
    def recent_activity(hours: Hours = 24) -> str:
        after = datetime.now(UTC) - timedelta(hours=hours)
        return _call(client_factory, lambda c: _recent_report(c, after, hours))

    @server.tool(description=REMEMBER)
    def remember(text: Statement) -> str:
        if not text.strip():
            raise _tool_error("text is empty: give the statement to remember")
        p = _call(client_factory, lambda c: c.remember(" ".join(text.split())))
        return f"Remembered #{p.id}: {p.text}"

    return server


def _recent_report(client: TacitClient, after: datetime, hours: float) -> str:
    """Time per app since `after` (whole local hours that overlap it), then what tacit learned since then."""
    per_app: dict[str, float] = {}
    for h in client.activity(days=min(MAX_DAYS, math.ceil(hours / 24) + 1)).hours:  # days count from local midnight
        if h.app and h.hour + timedelta(hours=1) > after:
            per_app[h.app] = per_app.get(h.app, 0.0) + h.seconds
    learned = [x.proposition for x in client.recent(limit=RECENT_LIMIT).items if x.proposition.updated_at >= after]
    lines = [f"In the last {hours:g} hours (since {format_local(after)}):"]
    if per_app:
        spent = sorted(per_app.items(), key=lambda kv: -kv[1])
        lines.append("Time by app: " + ", ".join(f"{app} {_minutes(s)}" for app, s in spent))
    if learned:
        lines += ["What tacit learned or saw supported about the user:", *(_line(p) for p in learned)]
    if len(lines) == 1:
        lines.append("no activity observed and nothing learned.")
    return "\n".join(lines)


def _minutes(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 5400 else f"{max(1, round(seconds / 60))} min"


def _since(spec: str | None) -> datetime | None:
    if spec is None or not spec.strip():
        return None
    try:
        return parse_when(spec)
    except ValueError as exc:
        raise _tool_error(f"since: {exc}") from exc


@click.command()
def mcp() -> None:
    """Serve tacit's memory to an MCP client over stdio (the client starts this; see the README).

    It needs the daemon running (`tacit start`); it reaches it on the same
    socket as the other commands (TACIT_SOCKET, else the runtime dir).
    """
    build_server().run("stdio")

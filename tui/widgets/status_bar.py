"""The one-line status bar: is the daemon up, is it watching, how far behind it is."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.text import Text
from textual.widgets import Static

from ..format import clock


class StatusBar(Static):
    """Follows the app's `status` (from /v1/status, refreshed on every event); None means the daemon is down.

    Also follows `answering`: a daemon that holds the connection without
    replying (stopped, or stuck) is not shown as up on its last status.
    """

    def on_mount(self) -> None:
        self.watch(self.app, "status", self.show)
        self.watch(self.app, "answering", self.show)

    def show(self) -> None:
        app: Any = self.app
        self.set_class(app.status is None or not app.answering, "-down")
        self.update(status_text(app.status) if app.answering else not_answering_text(app.answered_at))


def not_answering_text(last_reply: datetime | None) -> Text:
    """`● daemon not answering · last reply 09:31:05 · it took the request but sends nothing: stopped or stuck?`."""
    since = f"last reply {last_reply.astimezone():%H:%M:%S}" if last_reply else "no reply yet"
    return Text.assemble(("● daemon not answering", "bold red"),
                         f" · {since} · it took the request but sends nothing: stopped or stuck?")


def status_text(status: Any | None) -> Text:
    """`● up · observers screen, window · queue 12 · qwen 8.1 tok/s · last batch 09:31`.

    `status` is the daemon's /v1/status (StatusOut); its `daemon` part is the runtime's own dict.
    """
    if status is None:
        return Text.assemble(("● daemon down", "bold red"), "  start it with ", ("tacit start", "bold"))
    daemon: dict[str, Any] = status.daemon
    worker: dict[str, Any] = daemon.get("worker") or {}
    parts: list[Text] = [Text("● up", style="bold green")]
    if status.paused:
        until = f" until {clock(status.paused_until)}" if status.paused_until else " until resumed"
        parts.append(Text(f"⏸ paused{until}", style="bold yellow"))
    on = [o["name"] for o in daemon.get("observers", []) if o.get("on")]
    parts.append(Text("observers " + ", ".join(on)) if on else Text("observers off", style="yellow"))
    parts.append(Text(f"queue {status.queue.get('pending', 0) + status.queue.get('segmented', 0)}"))
    if worker.get("model"):
        rate = worker.get("tok_s")
        parts.append(Text(f"{worker['model']}" + (f" {rate:.1f} tok/s" if rate else "")))
    if worker.get("state") not in (None, "idle", "busy"):
        parts.append(Text(f"model {worker['state']}", style="yellow"))
    finished = (worker.get("last_batch") or {}).get("finished_at")
    parts.append(Text(f"last batch {clock(datetime.fromisoformat(finished)) if finished else '—'}"))
    if status.quarantined:
        parts.append(Text(f"{status.quarantined} quarantined", style="yellow"))
    return Text(" · ").join(parts)

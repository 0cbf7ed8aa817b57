"""Human-readable terminal output for the CLI (the --json path bypasses this).

Times show in the user's local zone with its UTC offset (see timespec.format_local).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from tacitd.memory.types import Feedback, Hit, Observation, Proposition

from .timespec import format_local

console = Console()


def safe(value: object) -> str:
    """Stored or captured text, printed as itself: '[bold]' or '[/red]' in a memory is not markup."""
    return escape(str(value))


def _when(value: datetime | None) -> str:
    return format_local(value) if value else "—"


def propositions(items: Sequence[Proposition], title: str) -> None:
    if not items:
        console.print(f"[dim]{title}: nothing yet.[/dim]")
        return
    table = Table(title=title, show_lines=False)
    for column in ("id", "proposition", "conf", "source", "status", "updated"):
        table.add_column(column, overflow="fold")
    for p in items:
        table.add_row(str(p.id), safe(p.text), f"{p.confidence:.2f}", p.source, p.status, _when(p.updated_at))
    console.print(table)


def hits(items: Sequence[Hit], query: str) -> None:
    if not items:
        console.print(f"[dim]No memory matches {safe(repr(query))}.[/dim]")
        return
    for rank, hit in enumerate(items, start=1):
        p = hit.proposition
        console.print(f"[bold]{rank}. {safe(p.text)}[/bold]  [dim]#{p.id} score {hit.score:.3f}[/dim]")
        for line in hit.why:
            console.print(f"   [cyan]·[/cyan] {safe(line)}")
        for snippet in hit.evidence:
            console.print(f"   [dim]↳ {safe(snippet)}[/dim]")


def show(p: Proposition, history: Sequence[Proposition], evidence: Sequence[Observation],
         feedback: Sequence[Feedback]) -> None:
    console.print(f"[bold]#{p.id}[/bold] {safe(p.text)}")
    console.print(f"confidence {p.confidence:.2f} · {p.source} · {p.status} · v{p.version} · "
                  f"half-life {p.half_life_days:g} d")
    console.print(f"valid {_when(p.valid_from)} → {_when(p.valid_to)} · updated {_when(p.updated_at)}")
    if p.reasoning:
        console.print(f"[dim]why:[/dim] {safe(p.reasoning)}")
    if len(history) > 1:
        propositions(history, "Versions")
    for fb in feedback:
        console.print(f"[magenta]{fb.kind}[/magenta] {_when(fb.created_at)} {safe(fb.note)}")
    if evidence:
        console.print("[bold]Evidence[/bold]")
        for o in evidence:
            where = f"[{o.observer}] {o.app or ''} {o.window_title or ''}: "
            console.print(f"  {_when(o.captured_at)} {safe(where)}{safe(o.text[:200])}")

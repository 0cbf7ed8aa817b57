"""The commands over what tacit remembers: add, query, recent, show, confirm, reject, edit, forget, export, import.

Registered on the root group in `cli.py` by name, and imported only when one of them runs.
"""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

import click

from tacitd.memory.forget import ForgetScope
from tacitd.memory.transfer import export_jsonl, export_markdown, import_jsonl
from tacitd.memory.types import SearchFilters

from . import ops, render
from .cli_context import App, When, emit_json, json_option, pass_app
from .timespec import format_local


@click.command()
@click.argument("text")
@click.option("--confidence", type=click.FloatRange(0, 1), default=1.0, show_default=True,
              help="How sure you are, 0–1.")
@click.option("--half-life", "half_life", type=click.FloatRange(min=0, min_open=True), default=180.0,
              show_default=True, help="Days until it counts half as much in retrieval.")
@click.option("--reasoning", default="", help="Why this is true.")
@json_option
@pass_app
def add(app: App, text: str, confidence: float, half_life: float, reasoning: str, as_json: bool) -> None:
    """Remember TEXT as a statement you make about yourself."""
    p = ops.remember(app.store, text, app.embed, confidence, half_life, reasoning)
    if as_json:
        emit_json(p.model_dump(mode="json"))
    else:
        render.console.print(f"Remembered #{p.id}: {render.safe(p.text)}")


def _filters(since: datetime | None, until: datetime | None, min_confidence: float,
             status: tuple[str, ...], source: tuple[str, ...], app_name: str | None) -> SearchFilters:
    return SearchFilters(since=since, until=until, min_confidence=min_confidence,
                         status=status or ("current",), source=source or None, app=app_name)


STATUS = click.Choice(["current", "superseded", "rejected"])
SOURCE = click.Choice(["llm", "stats", "user"])


@click.command()
@click.argument("text")
@click.option("--limit", type=click.IntRange(1, 200), default=10, show_default=True)
@click.option("--since", type=When(),
              help="Only those supported since then: 30m, 2d, or a local date/time such as 2026-01-31.")
@click.option("--until", type=When(), help="Only those last supported before then (same forms as --since).")
@click.option("--min-confidence", type=click.FloatRange(0, 1), default=0.0, show_default=True)
@click.option("--status", type=STATUS, multiple=True, help="Repeatable. Default: current.")
@click.option("--source", type=SOURCE, multiple=True, help="Repeatable. Default: any.")
@click.option("--app", "app_name", help="Only those with evidence from this app.")
@click.option("--floor", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Drop results scoring below this.")
@json_option
@pass_app
def query(app: App, text: str, limit: int, since: datetime | None, until: datetime | None,
          min_confidence: float, status: tuple[str, ...], source: tuple[str, ...],
          app_name: str | None, floor: float, as_json: bool) -> None:
    """Search memory for TEXT; each result says why it matched."""
    results = ops.search(app.store, app.settings, text, app.embed(text, query=True), limit,
                         _filters(since, until, min_confidence, status, source, app_name), floor)
    if as_json:
        emit_json({"query": text, "results": [h.model_dump(mode="json") for h in results]})
    else:
        render.hits(results, text)


@click.command()
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--status", type=STATUS, multiple=True, help="Repeatable. Default: current.")
@json_option
@pass_app
def recent(app: App, limit: int, status: tuple[str, ...], as_json: bool) -> None:
    """The propositions most recently learned, supported or changed."""
    items = app.store.recent(limit, SearchFilters(status=status or ("current",)))
    if as_json:
        emit_json([p.model_dump(mode="json") for p in items])
    else:
        render.propositions(items, "Recent")


@click.command()
@click.argument("proposition_id", type=int)
@json_option
@pass_app
def show(app: App, proposition_id: int, as_json: bool) -> None:
    """One proposition with its version history, evidence and feedback."""
    d = ops.detail(app.store, proposition_id)
    if as_json:
        emit_json(d.model_dump(mode="json"))
    else:
        render.show(d.proposition, d.history, d.evidence, d.feedback)


def _verdict(name: str, help_text: str) -> click.Command:
    """confirm and reject differ only in the store method they call."""

    @click.command(name=name, help=help_text)
    @click.argument("proposition_id", type=int)
    @click.option("--note", default="", help="Optional note kept with the feedback.")
    @json_option
    @pass_app
    def command(app: App, proposition_id: int, note: str, as_json: bool) -> None:
        p = getattr(app.store, name)(proposition_id, note)
        if as_json:
            emit_json(p.model_dump(mode="json"))
        else:
            render.console.print(f"{name.capitalize()}ed #{p.id}: {render.safe(p.text)} "
                                 f"(confidence {p.confidence:.2f}, {p.status})")

    return command


confirm = _verdict("confirm", "Mark a proposition true: its confidence becomes 1.")
reject = _verdict("reject", "Mark a proposition false. It is kept so the claim is not proposed again.")


@click.command()
@click.argument("proposition_id", type=int)
@click.argument("text")
@json_option
@pass_app
def edit(app: App, proposition_id: int, text: str, as_json: bool) -> None:
    """Reword a proposition: TEXT becomes a new version in your words (confidence 1); the old one stays in history."""
    p = ops.edit(app.store, proposition_id, text, app.embed)
    if as_json:
        emit_json(p.model_dump(mode="json"))
    else:
        render.console.print(f"Edited #{proposition_id}: now #{p.id} (version {p.version}): {render.safe(p.text)}")


@click.command()
@click.argument("proposition_id", type=int, required=False)
@click.option("--since", type=When(),
              help="Forget everything learned or seen since then: 1h, or a local date/time (midnight if no time).")
@click.option("--before", type=When(), help="Forget everything learned or seen before then (same forms).")
@click.option("--app", "app_name", help="Forget what was seen in this app (any case), and what was learned "
                                        "only from it.")
@click.option("--observations-only", is_flag=True,
              help="With --app/--since/--before: delete what was seen, keep what was learned.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_app
def forget(app: App, proposition_id: int | None, since: datetime | None, before: datetime | None,
           app_name: str | None, observations_only: bool, yes: bool, as_json: bool) -> None:
    """Delete for real: a proposition (all versions, and its evidence), or all in a scope (app, time)."""
    scoped = since is not None or before is not None or app_name is not None
    if observations_only and not scoped:
        raise click.UsageError("--observations-only needs --app, --since or --before")
    if proposition_id is None and not scoped:
        raise click.UsageError("say what to forget: a proposition ID, or --since/--before/--app")
    if proposition_id is not None and scoped:
        raise click.UsageError("give either a proposition ID or --since/--before/--app, not both")
    store = app.store
    if proposition_id is not None:
        what = f"proposition #{proposition_id} and its evidence"
    else:
        scope = ForgetScope(app=app_name, since=since, before=before, observations_only=observations_only)
        what = _scope_words(scope)
    if not yes and sys.stdin.isatty():
        click.confirm(f"Permanently delete {what}?", abort=True)
    report = ops.forget(store, proposition_id) if proposition_id is not None else ops.forget_scope(store, scope)
    if as_json:
        emit_json({"forgotten": {"propositions": report.propositions, "observations": report.observations},
                   "scrub_pending": report.scrub_pending})
        return
    render.console.print(f"Forgot {report.propositions} proposition version(s) and "
                         f"{report.observations} observation(s).")
    if report.scrub_pending:
        render.console.print("[yellow]Another program has the database open, so the deleted text may stay "
                             "in the file until tacit's next write, which removes it.[/yellow]")


def _scope_words(scope: ForgetScope) -> str:
    seen = "what was seen" + (f" in {scope.app}" if scope.app else "")
    if scope.since:
        seen += f" since {format_local(scope.since)}"
    if scope.before:
        seen += f" before {format_local(scope.before)}"
    if scope.observations_only:
        return seen
    learned = "what was learned only from it" if scope.app else "what was learned in that time"
    return f"{seen}, and {learned}"


@click.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "markdown"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: stdout).")
@pass_app
def export_(app: App, fmt: str, output: Any) -> None:
    """Write everything tacit knows: JSONL (lossless, for `tacit import`) or Markdown (to read)."""
    for chunk in (export_jsonl if fmt == "jsonl" else export_markdown)(app.store):
        output.write(chunk)


@click.command(name="import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@json_option
@pass_app
def import_(app: App, file: Any, as_json: bool) -> None:
    """Load a JSONL export. All or nothing: a bad line changes nothing."""
    counts = import_jsonl(app.store, file)
    if as_json:
        emit_json({"imported": counts})
    else:
        render.console.print("Imported " + (", ".join(f"{n} {k}" for k, n in counts.items() if n) or "nothing"))


@click.command()
@click.option("--no-llm", is_flag=True, help="Skip the step that runs the local model.")
@pass_app
def walkthrough(app: App, no_llm: bool) -> None:
    """A guided tour on sample data, in a throwaway database: store, retrieval, the local model."""
    from .walkthrough import run

    run(None if no_llm else app.settings)

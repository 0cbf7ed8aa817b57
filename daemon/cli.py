"""`tacit`: the command line over the memory store.

Every command takes `--json` for scripts; without it, output is for people.
People see local times with their UTC offset, and a date they type means
local midnight; JSON carries ISO 8601 times in UTC (`...Z`), as stored.
Errors that a user can fix (bad input, missing ids, a corrupt or locked
database, a bad config) print one clear line and exit 1 without changing
anything.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from pydantic import ValidationError

from tacitd.memory.db import StoreError
from tacitd.memory.forget import ForgetScope
from tacitd.memory.transfer import export_jsonl, export_markdown, import_jsonl
from tacitd.memory.types import SearchFilters
from tacitd.models.errors import ModelError
from tacitd.tui.command import tui

from . import ops, render
from .cli_context import App, When, emit_json, json_option, pass_app
from .cli_daemon import daemon, service, start, status, stop
from .cli_models import doctor, models
from .cli_pipeline import ingest, process, quarantine
from .cli_storage import backup, encrypt, gc
from .config import ConfigError
from .mcp_bridge import mcp
from .observe import observe, pause, resume
from .timespec import format_local


class TacitGroup(click.Group):
    """Turns the errors a user can act on into one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (StoreError, ConfigError, ModelError, ops.OpError) as exc:
            raise click.ClickException(str(exc)) from exc
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(x) for x in err["loc"])
            raise click.ClickException(f"invalid {where}: {err['msg']}") from exc


@click.group(cls=TacitGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path),
              help="Where the database lives (default: the platform data dir; env TACIT_DATA_DIR).")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Config file (default: the platform config dir's tacit/config.toml; env TACIT_CONFIG).")
@click.version_option(package_name="tacitd", prog_name="tacit")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_path: Path | None) -> None:
    """tacit: an on-device memory of what you work on, for your assistants.

    It stores confidence-weighted statements about you (propositions), with
    the observations behind them, in a local SQLite file, and finds them again
    with hybrid full-text + vector search. Nothing leaves the machine.
    """
    ctx.obj = App(config_path, data_dir)


@cli.command()
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


@cli.command()
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


@cli.command()
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


@cli.command()
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


def _verdict(name: str, help_text: str) -> None:
    @cli.command(name=name, help=help_text)
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


_verdict("confirm", "Mark a proposition true: its confidence becomes 1.")
_verdict("reject", "Mark a proposition false. It is kept so the claim is not proposed again.")


@cli.command()
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


@cli.command()
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
    if (proposition_id is None) == (not scoped):
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


@cli.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "markdown"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-",
              help="File to write (default: stdout).")
@pass_app
def export_(app: App, fmt: str, output: Any) -> None:
    """Write everything tacit knows: JSONL (lossless, for `tacit import`) or Markdown (to read)."""
    for chunk in (export_jsonl if fmt == "jsonl" else export_markdown)(app.store):
        output.write(chunk)


@cli.command(name="import")
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


@cli.command()
@click.option("--no-llm", is_flag=True, help="Skip the step that runs the local model.")
@pass_app
def walkthrough(app: App, no_llm: bool) -> None:
    """A guided tour on sample data, in a throwaway database: store, retrieval, the local model."""
    from .walkthrough import run

    run(None if no_llm else app.settings)


# The command groups defined in other modules, registered here and only here.
for _command in (models, doctor, observe, pause, resume, ingest, process, quarantine, encrypt, gc, backup):
    cli.add_command(_command)
for _command in (daemon, start, stop, status, service):  # cli_daemon.py
    cli.add_command(_command)
cli.add_command(mcp)  # mcp_bridge.py
cli.add_command(tui)  # tui/command.py


def main() -> None:
    cli(prog_name="tacit")

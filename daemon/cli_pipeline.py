"""`tacit ingest FILE.jsonl`, `tacit process` and `tacit quarantine list|retry|drop`: the pipeline's commands.

Defined here and registered on the root group in `cli.py`. Progress goes
to stderr (and only to a terminal), so `--json` output stays clean.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

from tacitd.memory.store import Store
from tacitd.observers.privacy import PrivacyFilter

from . import lifecycle, ops, render
from .cli_context import App, emit_json, json_option, pass_app
from .pipeline.ingest import IngestError, IngestReport, admit, parse
from .pipeline.queue import enqueue
from .pipeline.revise import Decision
from .pipeline.run import PassReport, believed
from .timespec import format_local

PROGRESS_FROM_BYTES = 1 << 20  # smaller files finish before a bar would help
BACKGROUND_NICE = 19  # the model's threads run at the lowest CPU priority


def _progress(show: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn(),
                    console=Console(stderr=True), transient=True, disable=not show)


def _lines(fh: IO[str], progress: Progress, task: object) -> Iterator[str]:
    for line in fh:
        progress.update(task, advance=len(line.encode("utf-8")))  # type: ignore[arg-type]
        yield line


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@json_option
@pass_app
def ingest(app: App, file: Path, as_json: bool) -> None:
    """Queue the observations in FILE (JSON Lines, one Observation per line) for processing.

    They pass the privacy filter as captured ones do. All or nothing: a bad
    line is named, and nothing is ingested.
    """
    privacy = PrivacyFilter(app.settings.observers.privacy)  # exclusions and redaction; pause is for capture
    size = os.path.getsize(file)
    show = not as_json and size >= PROGRESS_FROM_BYTES
    report = IngestReport()
    try:
        with _progress(show) as progress, file.open(encoding="utf-8") as fh:
            reading = progress.add_task("reading", total=size)
            observations = parse(_lines(fh, progress, reading))
            filtering = progress.add_task("privacy filter", total=len(observations))
            passed = admit(observations, privacy, report, lambda n: progress.update(filtering, advance=n))
    except IngestError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{file}: not UTF-8 text ({exc.reason}); nothing was ingested") from exc
    report.ids = enqueue(app.store, passed)
    if as_json:
        emit_json({**report.summary(), "queue": app.store.queue.counts()})
        return
    s = report.summary()
    render.console.print(f"Ingested {s['ingested']} of {s['read']} observation(s) from {file.name}: "
                         f"{s['excluded']} excluded by privacy rules, {s['redacted']} redacted. "
                         f"{app.store.queue.counts()['pending']} pending in the queue.")


@click.group()
def quarantine() -> None:
    """Segments whose processing failed, with the error and the model's raw output."""


@quarantine.command(name="list")
@click.option("--raw", is_flag=True, help="Show the model's raw output in full.")
@json_option
@pass_app
def list_(app: App, raw: bool, as_json: bool) -> None:
    """What is in quarantine, oldest failure first."""
    entries = ops.quarantine_list(app.store)
    if as_json:
        emit_json([e.model_dump(mode="json") for e in entries])
        return
    if not entries:
        render.console.print("[dim]Quarantine is empty.[/dim]")
        return
    for e in entries:  # one block each, so that a key is never folded and can be copied
        when = f"next try {format_local(e.next_try_at)}" if e.next_try_at else "given up: `tacit quarantine retry`"
        render.console.print(f"[bold]{e.key}[/bold]  {len(e.observation_ids)} observation(s) · "
                             f"{e.tries} tr{'y' if e.tries == 1 else 'ies'} · {when}", soft_wrap=True)
        render.console.print(f"  error: {e.error}", markup=False, soft_wrap=True)
        if e.raw_output:
            output = e.raw_output if raw else e.raw_output[:200] + ("…" if len(e.raw_output) > 200 else "")
            render.console.print(f"  raw output: {output}", markup=False, soft_wrap=True)


@quarantine.command()
@click.argument("keys", nargs=-1, required=True)
@json_option
@pass_app
def retry(app: App, keys: tuple[str, ...], as_json: bool) -> None:
    """Try these segments again on the next run, with a fresh count of tries."""
    entries = ops.quarantine_retry(app.store, keys)  # all of them or, on an unknown key, none
    if as_json:
        emit_json([e.model_dump(mode="json") for e in entries])
    else:
        render.console.print(f"Queued {len(entries)} segment(s) for another try.")


@quarantine.command()
@click.argument("keys", nargs=-1, required=True)
@json_option
@pass_app
def drop(app: App, keys: tuple[str, ...], as_json: bool) -> None:
    """Give up on these segments. Their observations stay (stats use them); nothing is proposed from them."""
    ops.quarantine_drop(app.store, keys)
    if as_json:
        emit_json({"dropped": list(keys)})
    else:
        render.console.print(f"Dropped {len(keys)} segment(s) from quarantine.")


@click.command()
@click.option("--once", is_flag=True, help="One pass over what is queued now; segments that fail wait in "
                                           "quarantine for their retry time instead of being retried in this run.")
@click.option("--user", default="the user", show_default=True, help="How the model refers to you in claims.")
@click.option("--no-audit", is_flag=True, help="Store sensitive drafts without the model's contextual-integrity "
                                               "check (the audit is on by default).")
@click.option("--alongside-daemon", is_flag=True,
              help="Run even though a daemon runs on this data dir (for one whose [daemon] pipeline is off); "
                   "otherwise refused: two model processes on the same cores and the same queue slow both.")
@json_option
@pass_app
def process(app: App, once: bool, user: str, no_audit: bool, alongside_daemon: bool, as_json: bool) -> None:
    """Run the pipeline on queued observations until the queue is empty, and say what it learned.

    Each activity segment goes through screen → propose → retrieve → revise
    → audit with the configured local model; stats are measured again at the end.
    Refused while a daemon runs on the same data: it processes the queue itself.
    """
    if not alongside_daemon:
        _refuse_beside_daemon(app)

    from .backends import build_llm
    from .pipeline.audit import AuditParams
    from .pipeline.run import Pipeline
    from .pipeline.run import process as run_process

    total = app.store.queue.counts()["pending"] + len(app.store.queue.due())
    llm = build_llm(app.settings.models, nice=BACKGROUND_NICE)  # capture and the user's own work come first
    if total:
        llm.load()  # a model that cannot load is reported before any segment is charged a try
    pipeline = Pipeline(app.store, llm, lambda text: app.embed(text), user=user,
                        audit_params=AuditParams(enabled=not no_audit))
    with _progress(not as_json and total > 0) as progress:
        task = progress.add_task("processing (10–30 s per activity on 2 cores)", total=None)
        report = run_process(pipeline, once=once, on_segment=lambda key, state: progress.advance(task))
    if as_json:
        emit_json(_process_json(app, report))
        return
    _print_process(app, report)


def _refuse_beside_daemon(app: App) -> None:
    """A second model process would halve both (llama.cpp on shared cores) and take the daemon's segments."""
    try:
        state = lifecycle.pid_state(app.settings.pid_path)
    except lifecycle.LifecycleError:  # no flock on this system, so no daemon either
        return
    if state.running:
        raise click.ClickException(
            f"the tacit daemon (pid {state.pid}) is running and processes this queue itself; `tacit status` "
            "shows its progress. If its pipeline is off ([daemon] pipeline = false), add --alongside-daemon")


def _decision_json(key: str, d: Decision) -> dict:
    return {"segment": key, "draft": d.draft.text, "relation": d.relation, "decided_by": d.by,
            "existing_id": d.target.id if d.target else None, "existing_status": d.target.status if d.target else None,
            "similarity": None if d.similarity is None else round(d.similarity, 3), "stored": not d.blocked,
            "reason": d.reason}


def _process_json(app: App, report: PassReport) -> dict:
    return {
        "summary": report.summary(),
        "decisions": [_decision_json(k, d) for k, d in report.learned.decisions],
        "dropped": [{"segment": k, "draft": d.text, "reason": d.reason} for k, d in report.learned.dropped],
        "audited_out": [{"segment": k, "draft": t, "reason": r} for k, t, r in report.learned.audited_out],
        "quarantined": [e.model_dump(mode="json") for e in ops.quarantine_list(app.store)],
        "believed": [{**p.model_dump(mode="json"), "evidence": [o.model_dump(mode="json") for o in ev]}
                     for p, ev in believed(app.store)],
        "queue": app.store.queue.counts(),
    }


def _print_process(app: App, report: PassReport) -> None:
    console = render.console
    s = report.summary()
    console.print(f"Processed {s['segments']} segment(s) in {s['seconds']:.0f} s: {s['processed']} with the model "
                  f"({s['llm_calls']} call(s)), {s['skipped']} skipped by the screen, {s['quarantined']} quarantined.")
    labels = {"unrelated": "learned", "identical": "seen again", "refines": "refined", "contradicts": "replaced"}
    for key, d in report.learned.decisions:
        label = "rejected before, not stored" if d.blocked else labels[d.relation]
        console.print(f"  [cyan]{label}[/cyan]: {render.safe(d.draft.text)}", soft_wrap=True)
    for _, dropped in report.learned.dropped:
        console.print(f"  [yellow]dropped[/yellow]: {render.safe(dropped.text)} ({render.safe(dropped.reason)})",
                      soft_wrap=True)
    for _, text, why in report.learned.audited_out:
        console.print(f"  [magenta]held back by the audit[/magenta]: {render.safe(text)} ({render.safe(why)})",
                      soft_wrap=True)
    for e in app.store.queue.quarantined():
        console.print(f"  [red]quarantined[/red] {e.key}: {e.error}", markup=False, soft_wrap=True)
    if report.stats.added or report.stats.revised:
        console.print(f"  stats: {len(report.stats.added)} added, {len(report.stats.revised)} revised")
    print_believed(app.store)


def print_believed(store: Store) -> None:
    """What tacit believes, each belief with its confidence and evidence."""
    console = render.console
    console.rule("[bold]what tacit believes[/bold]")
    for p, evidence in believed(store):
        console.print(f"[bold]{render.safe(p.text)}[/bold]  [dim]#{p.id} · confidence {p.confidence:.2f} · {p.source} · "
                      f"v{p.version}[/dim]", soft_wrap=True)
        for o in evidence:
            where = " — ".join(x for x in (o.app, o.window_title) if x)
            console.print(f"   [dim]↳ {format_local(o.captured_at)} {render.safe(where)}[/dim]", soft_wrap=True)

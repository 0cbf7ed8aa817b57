"""`tacit encrypt`, `tacit gc` and `tacit backup`: how the database file is kept.

The commands are defined here and registered on the root group in `cli.py`.
The daemon's scheduler (issue 10) runs the same retention as `tacit gc`,
through `run_gc`.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import click

from tacitd.memory.encrypt import encrypt_store
from tacitd.memory.retention import MB, GcReport
from tacitd.memory.store import Store
from tacitd.memory.types import utcnow
from tacitd.observers.screen import prune_screenshots

from . import render
from .cli_context import App, emit_json, json_option, pass_app
from .config import Settings

# Tests stop `tacit encrypt` after the step named here, to kill it there (tests/test_encryption.py).
HOLD_ENV = "TACIT_ENCRYPT_HOLD_AT"


def run_gc(store: Store, settings: Settings, dry_run: bool = False) -> dict[str, Any]:
    """Retention over the store and the kept screenshots; what went, as a JSON-ready dict."""
    report = store.gc(settings.retention.policy(), dry_run=dry_run)
    shots = 0
    if not dry_run:
        ttl = timedelta(hours=settings.observers.keep_screenshots_ttl_h)
        shots = prune_screenshots(settings.screenshots_path, utcnow() - ttl)
    return {**_report_dict(report), "screenshots_deleted": shots}


def _report_dict(r: GcReport) -> dict[str, Any]:
    return {"dry_run": r.dry_run, "observations_cut_to_snippet": r.expired,
            "observations_expired_deleted": r.expired_deleted, "observations_deleted_for_budget": r.deleted,
            "bytes_before": r.bytes_before, "bytes_after": r.bytes_after, "file_bytes": r.file_bytes,
            "budget_bytes": r.budget_bytes, "over_budget": r.over_budget, "scrub_pending": r.scrub_pending}


@click.command()
@click.option("--dry-run", is_flag=True, help="Say what would go, change nothing.")
@json_option
@pass_app
def gc(app: App, dry_run: bool, as_json: bool) -> None:
    """Apply retention now: old observation text becomes a snippet; past the size budget, the oldest go."""
    out = run_gc(app.store, app.settings, dry_run)
    if as_json:
        emit_json(out)
        return
    cfg = app.settings.retention
    cut, deleted = ("Would cut", "would delete") if dry_run else ("Cut", "deleted")
    render.console.print(f"Older than {cfg.observations_days:g} days: {cut.lower()} "
                         f"{out['observations_cut_to_snippet']} cited observation(s) to a snippet and {deleted} "
                         f"{out['observations_expired_deleted']} that nothing cites. Over the {cfg.max_db_mb:g} MB "
                         f"budget: {deleted} {out['observations_deleted_for_budget']}."
                         + (f" Deleted {out['screenshots_deleted']} expired screenshot(s)." if not dry_run else ""))
    render.console.print(f"In use: {out['bytes_before'] / MB:.1f} MB → {out['bytes_after'] / MB:.1f} MB; "
                         f"file {out['file_bytes'] / MB:.1f} MB.")
    if out["over_budget"]:
        render.console.print("[yellow]Still over the budget: what is left is not observations.[/yellow]")


@click.command()
@json_option
@pass_app
def encrypt(app: App, as_json: bool) -> None:
    """Encrypt an existing plaintext store (stop the daemon first). Safe to interrupt at any point."""
    hold = os.environ.get(HOLD_ENV)

    def step(name: str) -> None:
        if not as_json:
            click.echo(name)
        if name == hold:
            click.echo(f"holding at {name}")
            sys.stdout.flush()
            threading.Event().wait()  # until killed

    report = encrypt_store(app.settings.db_path, on_step=step)
    if as_json:
        emit_json({"path": str(app.settings.db_path), "already_encrypted": report.already,
                   "key": report.key_where, "tables": report.tables,
                   "finished_interrupted": report.finished_interrupted})
    elif report.already:
        render.console.print(f"Already encrypted (key from {report.key_where}).")
    else:
        render.console.print(f"Encrypted {app.settings.db_path} ({sum(report.tables.values())} rows in "
                             f"{len(report.tables)} tables verified); key from {report.key_where}. "
                             "The plaintext file was overwritten and deleted.")


@click.command()
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@json_option
@pass_app
def backup(app: App, dest: Path, as_json: bool) -> None:
    """Write a consistent copy of the database to DEST (encrypted with the same key when the store is)."""
    store = app.store
    path = store.backup(dest)
    if as_json:
        emit_json({"backup": str(path), "bytes": path.stat().st_size, "encrypted": store.encryption.encrypted})
    else:
        render.console.print(f"Backed up to {path} ({path.stat().st_size / MB:.1f} MB, "
                             f"{'encrypted' if store.encryption.encrypted else 'NOT encrypted'}).")

"""Build the configured observers, and `tacit observe --once` / `pause` / `resume`.

The commands are defined here and registered on the root group in `cli.py`.
"""

from __future__ import annotations

from datetime import timedelta

import click

from tacitd.memory.types import Observation
from tacitd.observers.base import Observer, Sink
from tacitd.observers.files import FilesObserver
from tacitd.observers.ocr import TesseractReader
from tacitd.observers.platform import detect
from tacitd.observers.privacy import PauseState, PrivacyFilter
from tacitd.observers.screen import ScreenObserver
from tacitd.observers.window import InputObserver, WindowObserver

from . import ops, render
from .cli_context import App, emit_json, json_option, pass_app
from .config import Settings
from .timespec import format_local, parse_span


def privacy_filter(settings: Settings) -> PrivacyFilter:
    return PrivacyFilter(settings.observers.privacy, PauseState(settings.pause_path), own_data=settings.data_dir)


def build_observers(settings: Settings, sink: Sink) -> tuple[list[Observer], list[str]]:
    """The enabled observers that can run here, and a note for each that cannot."""
    cfg, privacy = settings.observers, privacy_filter(settings)
    desktop, why = detect()
    observers: list[Observer] = []
    notes = []
    for name in cfg.enabled:
        if name in ("screen", "window", "input") and desktop is None:
            notes.append(f"{name}: off ({why})")
        elif name == "screen":
            try:
                reader = TesseractReader(cfg.ocr_lang)
            except RuntimeError as exc:
                notes.append(f"screen: off ({exc})")
                continue
            keep = settings.screenshots_path if cfg.keep_screenshots else None
            observers.append(ScreenObserver(sink, privacy, reader, desktop, interval_s=cfg.screen_interval_s,
                                            idle_after_s=cfg.idle_after_s, keep_screenshots_dir=keep,
                                            keep_ttl=timedelta(hours=cfg.keep_screenshots_ttl_h)))
        elif name == "window":
            observers.append(WindowObserver(sink, privacy, desktop))
        elif name == "input":
            observers.append(InputObserver(sink, privacy, desktop, idle_after_s=cfg.idle_after_s))
        elif name == "files":
            if cfg.files_paths:
                observers.append(FilesObserver(sink, privacy, cfg.files_paths))
            else:
                notes.append("files: off (no [observers] files_paths configured; watching is opt-in)")
    return observers, notes


def observe_once(settings: Settings) -> tuple[list[Observation], list[str]]:
    """What each enabled observer sees right now, after the privacy filter. Stores nothing."""
    seen: list[Observation] = []
    observers, notes = build_observers(settings, seen.append)
    if PauseState(settings.pause_path).paused():
        notes.append("paused: nothing is captured (tacit resume)")
    for observer in observers:
        observer.once()
        observer.close()
    return seen, notes


@click.command()
@click.option("--once", is_flag=True, required=True, help="Run each enabled observer once.")
@json_option
@pass_app
def observe(app: App, once: bool, as_json: bool) -> None:
    """Show what tacit sees right now, after privacy filtering. Nothing is stored."""
    seen, notes = observe_once(app.settings)
    if as_json:
        emit_json({"observations": [o.model_dump(mode="json") for o in seen], "notes": notes})
        return
    for note in notes:
        render.console.print(f"[yellow]{render.safe(note)}[/yellow]")
    for o in seen:
        where = f"{o.app or ''} {o.window_title or ''}"
        render.console.print(f"[bold]{o.observer}[/bold] {render.safe(where)}")
        if o.text:
            render.console.print(f"  {render.safe(o.text[:500])}")
    if not seen:
        render.console.print("[dim]Nothing would be stored right now.[/dim]")


@click.command()
@click.option("--for", "duration", help="How long (30m, 2h); default: until `tacit resume`.")
@json_option
@pass_app
def pause(app: App, duration: str | None, as_json: bool) -> None:
    """Stop all capture now. Survives restarts."""
    try:
        span = parse_span(duration) if duration else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--for") from exc
    until = ops.pause(app.settings, span).until
    if as_json:
        emit_json({"paused": True, "until": until.isoformat() if until else None})
    else:
        render.console.print(f"Paused until {format_local(until)}." if until else "Paused until `tacit resume`.")


@click.command()
@json_option
@pass_app
def resume(app: App, as_json: bool) -> None:
    """Start capturing again."""
    ops.resume(app.settings)
    if as_json:
        emit_json({"paused": False})
    else:
        render.console.print("Resumed.")

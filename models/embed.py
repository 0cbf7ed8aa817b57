"""Sentence embeddings through llama.cpp: `embed(texts) -> (n, d)` float32, L2-normalised.

Some embedders are trained with a marker before each text, e5's "query: " and
"passage: ". tacit's converter writes them into the GGUF (PREFIX_KEYS), so
every way of loading the file embeds the same way: `embed` for what is
stored, `embed_query` for what is searched with.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .hardware import gpu_offload_supported, load_llama, physical_cores


PREFIX_KEYS = {"query": "tacit.embedding.query_prefix", "passage": "tacit.embedding.passage_prefix"}


class Embedder(Protocol):
    name: str

    @property
    def dim(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_query(self, texts: Sequence[str]) -> np.ndarray: ...


class LlamaCppEmbedder:
    """A GGUF encoder (or a decoder with mean pooling), loaded on first use, calls serialised.

    Batches are small on purpose: measured with MiniLM on 2 cores, 4 texts per
    decode ran at ~300 texts/s, 32 per decode at ~160 (padding-free but the
    attention work grows with the batch).
    """

    def __init__(self, path: Path | str, *, name: str | None = None, batch_size: int = 4, n_ctx: int = 512,
                 mean_pooling: bool = False, fix_hint: str = "tacit models list"):
        self.path = Path(path).expanduser()
        self.name = name or self.path.stem
        self.batch_size = batch_size
        self.n_ctx = n_ctx
        self.mean_pooling = mean_pooling
        self._fix_hint = fix_hint
        self._lock = threading.RLock()
        self._llama: Any = None

    def model(self) -> Any:
        with self._lock:
            if self._llama is None:
                import llama_cpp

                extra = {"pooling_type": llama_cpp.LLAMA_POOLING_TYPE_MEAN} if self.mean_pooling else {}
                self._llama = load_llama(
                    self.path, self._fix_hint, embedding=True, n_ctx=self.n_ctx, n_batch=self.n_ctx,
                    n_ubatch=self.n_ctx, n_threads=physical_cores(),
                    n_gpu_layers=-1 if gpu_offload_supported() else 0, **extra,
                )
            return self._llama

    def load(self) -> None:
        """Load now (see LLM.load): a bad file then means no vectors and one warning, not failed segments."""
        self.model()

    @property
    def dim(self) -> int:
        return int(self.model().n_embd())

    def _fit(self, text: str) -> str:
        """Cut text to the context window, so one long observation cannot fail a batch."""
        llama = self.model()
        tokens = llama.tokenize(text.encode("utf-8"), add_bos=False)
        if len(tokens) <= self.n_ctx - 2:
            return text
        return llama.detokenize(tokens[: self.n_ctx - 2]).decode("utf-8", errors="ignore")

    def _prefix(self, kind: str) -> str:
        return str(self.model().metadata.get(PREFIX_KEYS[kind], ""))

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for texts to store (with the model's passage prefix, if it has one)."""
        return self._embed(texts, "passage")

    def embed_query(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors for search queries (with the model's query prefix, if it has one)."""
        return self._embed(texts, "query")

    def _embed(self, texts: Sequence[str], kind: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        rows = []
        with self._lock:
            llama = self.model()
            prefix = self._prefix(kind)
            for start in range(0, len(texts), self.batch_size):
                batch = [prefix + (self._fit(t) or " ") for t in texts[start : start + self.batch_size]]
                rows.extend(llama.embed(batch))
        matrix = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        return matrix / np.where(norms == 0, 1, norms)

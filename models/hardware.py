"""What this machine offers llama.cpp: physical cores, GPU offload, the build's CPU features."""

from __future__ import annotations

import functools
import os
from pathlib import Path


@functools.cache
def physical_cores() -> int:
    """Physical cores, not hyperthreads: llama.cpp runs slower when it oversubscribes."""
    try:
        pairs = set()
        block: dict[str, str] = {}
        for line in Path("/proc/cpuinfo").read_text().splitlines() + [""]:
            if not line.strip():
                if "core id" in block:
                    pairs.add((block.get("physical id", "0"), block["core id"]))
                block = {}
            elif ":" in line:
                key, _, value = line.partition(":")
                block[key.strip()] = value.strip()
        if pairs:
            return len(pairs)
    except OSError:
        pass
    return max(1, (os.cpu_count() or 2) // 2) if os.uname().sysname == "Darwin" else max(1, os.cpu_count() or 1)


@functools.cache
def gpu_offload_supported() -> bool:
    """True when this llama.cpp build can offload layers (Metal, CUDA, Vulkan...)."""
    try:
        import llama_cpp
    except ImportError:
        return False
    return bool(llama_cpp.llama_supports_gpu_offload())


# CPU paths of llama.cpp known to crash: AMX's matmul segfaults on Q4_K_M models
# (upstream "segfault in ggml_backend_amx_mul_mat"); a native build enables it by itself.
KNOWN_CRASHES = {
    "AMX_INT8": "AMX matmul segfaults on Q4_K_M models; rebuild portably with `make llama`",
    "AMX_BF16": "AMX matmul segfaults on Q4_K_M models; rebuild portably with `make llama`",
}


def parse_system_info(info: str) -> dict[str, bool]:
    """`llama_print_system_info()` text ("CPU : SSE3 = 1 | AVX2 = 1 | ...") as feature -> on."""
    features: dict[str, bool] = {}
    for part in info.replace("\n", "|").split("|"):
        name, sep, value = part.rpartition("=")
        name = name.rpartition(":")[2].strip()
        if sep and name and value.strip().isdigit():
            features[name] = features.get(name, False) or value.strip() != "0"
    return features


def known_crashes(features: dict[str, bool]) -> dict[str, str]:
    return {name: why for name, why in KNOWN_CRASHES.items() if features.get(name)}


@functools.cache
def build_features() -> dict[str, object]:
    """What the installed llama.cpp build was compiled with, and any path known to crash."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode("utf-8", errors="replace").strip()
    features = parse_system_info(info)
    return {"system_info": info, "enabled": sorted(n for n, on in features.items() if on),
            "known_crashes": known_crashes(features)}


_LOG_CALLBACK = None


def quiet_llama_logs() -> None:
    """Let only llama.cpp's errors reach stderr: its warnings otherwise leak into CLI output."""
    global _LOG_CALLBACK
    if _LOG_CALLBACK is not None:
        return
    import ctypes
    import sys

    import llama_cpp

    @llama_cpp.llama_log_callback
    def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
        if level == 3:  # GGML_LOG_LEVEL_ERROR
            print(text.decode("utf-8", errors="replace"), end="", file=sys.stderr, flush=True)

    _LOG_CALLBACK = callback  # keep a reference: llama.cpp holds only the C pointer
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))


def load_llama(path: Path, fix_hint: str, **kwargs: object) -> object:
    """A llama_cpp.Llama for `path`, with errors that say what to do; logs kept quiet.

    The file stays mapped (llama.cpp's default). On the CPU, llama.cpp repacks the quantized weights
    into its own buffers, so RSS counts the mapped file beside them: Qwen 1.5B Q4_K_M after one
    completion, 1871 MB mapped (788 private + 1082 file pages) against 1280 MB read (1257 private).
    Reading looks smaller but is not: the mapped pages are clean, the kernel drops the cold ones under
    pressure and shares them between processes, while a read copy is private memory that can only be
    swapped. bench/daemon.py reports the model child's private and file-backed memory apart.
    """
    from .errors import ModelError, ModelMissing

    if not path.is_file():
        raise ModelMissing(path, fix_hint)
    import llama_cpp

    quiet_llama_logs()
    try:
        llama = llama_cpp.Llama(model_path=str(path), verbose=False, **kwargs)
    except ValueError as exc:
        raise ModelError(f"llama.cpp could not load {path}: {exc}") from exc
    _free_at_exit(llama)
    return llama


def _free_at_exit(llama: object) -> None:
    """Free the model before the interpreter tears its modules down.

    Left to `Llama.__del__` at teardown, llama_cpp's own globals may already be None, and every
    command that loaded a model ended with 'Exception ignored in: Llama.__del__ ... TypeError' on
    stderr. Only a weak reference is kept, so a model dropped earlier is still freed then.
    """
    import atexit
    import weakref

    ref = weakref.ref(llama)

    def free() -> None:
        model = ref()
        if model is not None:
            model.close()  # type: ignore[attr-defined]

    atexit.register(free)

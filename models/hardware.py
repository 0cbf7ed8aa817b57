"""What this machine offers llama.cpp: physical cores and GPU offload."""

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

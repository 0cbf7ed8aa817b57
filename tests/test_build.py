"""The installed llama.cpp build is the portable one: no AMX (segfaults on Q4_K_M), no AVX-512."""

from __future__ import annotations

import platform

import pytest

from tacitd.models.hardware import build_features, known_crashes, parse_system_info

# What a native build on a Sapphire Rapids CPU reports (llama.cpp 0.3.x format).
NATIVE_SPR = ("CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
              "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | AMX_INT8 = 1 | "
              "LLAMAFILE = 1 | OPENMP = 1 | REPACK = 1 | ")


def test_a_native_amx_build_is_flagged_as_a_known_crash():
    features = parse_system_info(NATIVE_SPR)
    assert features["AMX_INT8"] and features["AVX512"] and not features.get("AMX_BF16", False)
    assert list(known_crashes(features)) == ["AMX_INT8"]
    assert known_crashes(parse_system_info(NATIVE_SPR.replace("AMX_INT8 = 1", "AMX_INT8 = 0"))) == {}


def test_the_installed_build_has_no_amx_and_no_avx512():
    build = build_features()
    assert build["known_crashes"] == {}, build["system_info"]
    assert not [f for f in build["enabled"] if f.startswith(("AMX", "AVX512"))], build["system_info"]


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 baseline only")
def test_the_installed_build_keeps_the_avx2_baseline():
    """Portable must not mean slow: AVX2/FMA/F16C are what every supported x86-64 CPU has."""
    assert {"AVX2", "FMA", "F16C"} <= set(build_features()["enabled"]), build_features()["system_info"]

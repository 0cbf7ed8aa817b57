#!/usr/bin/env bash
# Builds llama-cpp-python portably and installs it into the venv given as $1.
#
# Why not a plain `pip install llama-cpp-python`: llama.cpp's default build is native
# (-march=native, GGML_NATIVE=ON). On CPUs with AMX that switches on a matmul path that
# segfaults on Q4_K_M models, and a wheel built with AVX-512 dies with an illegal instruction
# on the many CPUs that lack it. pip's wheel cache does not key on CMAKE_ARGS, so a native
# wheel built earlier could be picked up silently. So: a fixed baseline every supported x86-64
# CPU has (AVX2/FMA/F16C/BMI2), never AVX-512 or AMX, built once into a wheelhouse whose path
# carries a hash of the version and the flags, installed from that exact file, then checked.
#
# `llama-wheel.sh VENV --check` only verifies what is installed (run after `pip install -e .`).
set -euo pipefail
venv=${1:?usage: llama-wheel.sh VENV [--check]}
here=$(cd "$(dirname "$0")/.." && pwd)
# One source for the version: the pin in pyproject.toml, so `pip install -e .` never swaps the build.
version=$(sed -n 's/.*"llama-cpp-python==\([0-9.]*\)".*/\1/p' "$here/pyproject.toml" | head -n 1)
[ -n "$version" ] || { echo "no llama-cpp-python==X pin in $here/pyproject.toml" >&2; exit 1; }

verify() {  # the library Python loads reports the pinned version, no AMX and no AVX-512
  "$venv/bin/python" - "$version" <<'PY'
import sys, llama_cpp
info = llama_cpp.llama_print_system_info().decode()
bad = [f for f in ("AMX_INT8 = 1", "AMX_BF16 = 1", "AVX512 = 1") if f in info]
if llama_cpp.__version__ != sys.argv[1]:
    bad.append(f"version {llama_cpp.__version__}, pinned {sys.argv[1]}")
if bad:
    sys.exit(f"llama.cpp build is not the portable one ({', '.join(bad)}): {info}\nfix: make llama")
print("llama.cpp", llama_cpp.__version__, "portable build:", info.strip())
PY
}
if [ "${2:-}" = "--check" ]; then verify; exit; fi

case "$(uname -sm)" in
  "Darwin arm64") flags="" ;;  # Apple silicon: Metal, and a native build has no AMX/AVX-512 to trip on
  *x86_64|*amd64)
    flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  *) flags="-DGGML_NATIVE=OFF" ;;  # other CPUs (Linux arm64): the generic baseline, not measured here
esac
flags="$flags ${LLAMA_CMAKE_EXTRA:-}"   # e.g. -DGGML_CUDA=ON on a machine with nvcc
tag=$(printf '%s %s %s' "$version" "$(uname -sm)" "$flags" | "$venv/bin/python" -c \
  'import hashlib, sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:16])')
house="${XDG_CACHE_HOME:-$HOME/.cache}/tacit/wheels/llama-cpp-python-$version-$tag"

if ! ls "$house"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $version portably (about 10 minutes on 2 cores, once): $flags"
  rm -rf "$house.partial" && mkdir -p "$house.partial"
  CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(getconf _NPROCESSORS_ONLN)" \
    "$venv/bin/pip" wheel --quiet --no-deps --no-binary llama-cpp-python --no-cache-dir \
    -w "$house.partial" "llama-cpp-python==$version"
  printf '%s\n' "$flags" > "$house.partial/CMAKE_ARGS"
  rm -rf "$house" && mv "$house.partial" "$house"
fi
wheel=$(ls "$house"/llama_cpp_python-"$version"-*.whl)
installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("llama-cpp-python"))' 2>/dev/null || true)
marker="$venv/.llama-cpp-build"
if [ "$installed" != "$version" ] || [ "$(cat "$marker" 2>/dev/null)" != "$tag" ]; then
  "$venv/bin/pip" install --quiet --force-reinstall --no-deps "$wheel"
  "$venv/bin/pip" install --quiet "$wheel"   # its own dependencies (numpy, jinja2, ...)
  echo "$tag" > "$marker"
fi
verify

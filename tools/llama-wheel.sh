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
set -euo pipefail
venv=${1:?usage: llama-wheel.sh VENV}
version=${LLAMA_CPP_VERSION:-0.3.36}
case "$(uname -m)" in
  x86_64|amd64)
    flags="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON \
-DGGML_AVX_VNNI=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VBMI=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF" ;;
  *) flags="-DGGML_NATIVE=OFF" ;;  # arm64: Metal on macOS; NEON is the baseline there
esac
flags="$flags ${LLAMA_CMAKE_EXTRA:-}"   # e.g. -DGGML_CUDA=ON on a machine with nvcc
tag=$(printf '%s %s %s' "$version" "$(uname -sm)" "$flags" | sha256sum | cut -c1-16)
house="${XDG_CACHE_HOME:-$HOME/.cache}/tacit/wheels/llama-cpp-python-$version-$tag"

if ! ls "$house"/llama_cpp_python-"$version"-*.whl >/dev/null 2>&1; then
  echo "building llama-cpp-python $version portably (about 10 minutes on 2 cores, once): $flags"
  rm -rf "$house.partial" && mkdir -p "$house.partial"
  CMAKE_ARGS="$flags" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
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
# The proof: the library that Python loads reports no AMX and no AVX-512.
"$venv/bin/python" - <<'PY'
import sys, llama_cpp
info = llama_cpp.llama_print_system_info().decode()
bad = [f for f in ("AMX_INT8 = 1", "AMX_BF16 = 1", "AVX512 = 1") if f in info]
if bad:
    sys.exit(f"llama.cpp build is not portable ({', '.join(bad)}): {info}")
print("llama.cpp", llama_cpp.__version__, "portable build:", info.strip())
PY

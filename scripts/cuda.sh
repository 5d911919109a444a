#!/usr/bin/env bash
# Builds and checks the CUDA path on any x86-64 Linux machine, with or without a GPU
# (docs/cuda.md):
#   1. installs the NVRTC wheel (`nvidia-cuda-nvrtc`, no GPU needed) into the project venv;
#   2. builds the workspace with `--features omicsdb-model/cuda,omicsdb-benches/cuda`
#      (cudarc loads CUDA dynamically, so no toolkit is needed to build);
#   3. runs the CUDA tests: the kernels are compiled by NVRTC and checked; the GPU-vs-CPU
#      forward test runs where a GPU is, and skips, saying so, where none is;
#   4. with --release, also builds the GPU benchmark and the test binary to carry to a
#      GPU host (which needs a driver, cuBLAS, cuFFT and NVRTC, but no Rust).
#   bash scripts/cuda.sh [--release]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$OMICSDB_ROOT"
bash scripts/setup.sh
VENV="${OMICSDB_VENV:-$HOME/.cache/omicsdb-venv}"
"$VENV/bin/python" -m pip install -q "nvidia-cuda-nvrtc>=12.8"
NVRTC_SO=$(ls "$VENV"/lib/python3*/site-packages/nvidia/cu*/lib/libnvrtc.so.* 2>/dev/null | grep -v builtins | head -1 || true)
if [ -z "$NVRTC_SO" ]; then
  echo "cuda.sh: the nvidia-cuda-nvrtc wheel has no libnvrtc.so.*" >&2
  exit 1
fi
# cudarc looks for libnvrtc.so (or .so.12/.so.13 and similar): give it an unversioned name.
LIBS="$HOME/.cache/omicsdb-cuda-libs"
mkdir -p "$LIBS"
ln -sf "$NVRTC_SO" "$LIBS/libnvrtc.so"
export LD_LIBRARY_PATH="$LIBS:$(dirname "$NVRTC_SO")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
FEATURES=omicsdb-model/cuda,omicsdb-benches/cuda
cargo build --workspace --locked --features "$FEATURES"
cargo test --workspace --locked --features "$FEATURES" --lib cuda:: -- --nocapture
if [ "${1:-}" = "--release" ]; then
  CARGO_TARGET_DIR="${OMICSDB_RELEASE_TARGET_DIR:-$HOME/.cache/omicsdb-bench-target}" \
    cargo build --release --locked -p omicsdb-benches --features cuda --bin bench_hyena_gpu
  echo "GPU benchmark: ${OMICSDB_RELEASE_TARGET_DIR:-$HOME/.cache/omicsdb-bench-target}/release/bench_hyena_gpu"
fi

#!/usr/bin/env bash
# Builds bench/gemv/gemv_check (GEMV correctness check + microbench, bench/NOTES.md v10-gemv) with nvcc, from
# src/engine/cuda/gemv_kernels.cu as the engine builds it (sm_90a). Usage: bench/gemv/build.sh [OUT_BINARY]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/build-gemv/gemv_check}
mkdir -p "$(dirname "$out")"
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
"$nvcc" -O2 -DNDEBUG -std=c++20 --generate-code=arch=compute_90a,code=[compute_90a,sm_90a] \
  --expt-relaxed-constexpr -Xcompiler=-Wall,-Wextra -Werror all-warnings -I"$repo/src" \
  "$repo/bench/gemv/gemv_check.cu" "$repo/src/engine/cuda/gemv_kernels.cu" "$repo/src/common/status.cpp" \
  -o "$out"
echo "built $out"

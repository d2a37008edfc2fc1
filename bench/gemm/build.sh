#!/usr/bin/env bash
# Builds the bench/gemm drivers with nvcc (sm_90a).
#   bench/gemm/build.sh algo OUT_BINARY              cuBLASLt algorithm bench (links cuBLASLt; rpath to CUDA)
#   bench/gemm/build.sh elementwise OUT_BINARY [SRC]  element-wise kernels of SRC (default: this tree's src/;
#                                                     e.g. an older commit's: git archive C src | tar -x -C DIR)
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
what=$1
out=$2
cuda=${CUDA_HOME:-/usr/local/cuda}
flags=(-O3 -gencode=arch=compute_90a,code=sm_90a -Xcompiler=-Wall,-Wextra -cudart static)
case "$what" in
  algo)
    "$cuda/bin/nvcc" "${flags[@]}" -std=c++17 -o "$out" "$repo/bench/gemm/gemm_algo_bench.cu" -L"$cuda/lib64" -lcublasLt \
      -Xlinker -rpath="$cuda/lib64"
    ;;
  elementwise)
    src=${3:-$repo/src}
    "$cuda/bin/nvcc" "${flags[@]}" -std=c++20 --expt-relaxed-constexpr -I"$src" -o "$out" \
      "$repo/bench/gemm/elementwise_bench.cu" "$src/engine/cuda/elementwise_kernels.cu" \
      "$src/engine/cuda/rope_kv_kernels.cu" "$src/common/status.cpp"
    ;;
  *) echo "usage: build.sh algo|elementwise OUT [SRC]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Builds bench/decode/decode_step_bench.cu against src/engine/cuda/decode_step_kernel.cu: OUT (timing only)
# OUT_profile (with the per-phase %globaltimer stamps, TANDEM_DECODE_STEP_PROFILE) and OUT_fenced (the
# grid barrier as __threadfence + atomicAdd, TANDEM_DECODE_BARRIER_FENCED, for A/B), OUT_after (weight
# prefetch issued after the grid barrier instead of before it, TANDEM_DECODE_PREFETCH_AFTER, with stamps).
#   bench/decode/build_step_bench.sh OUT
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
flags=(-O3 -std=c++20 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I"$repo/src"
  -Xcompiler=-Wall,-Wextra -cudart static)
srcs=("$repo/bench/decode/decode_step_bench.cu" "$repo/src/engine/cuda/decode_step_kernel.cu" "$repo/src/common/status.cpp")
"$nvcc" "${flags[@]}" -o "$out" "${srcs[@]}" &
"$nvcc" "${flags[@]}" -DTANDEM_DECODE_STEP_PROFILE -o "${out}_profile" "${srcs[@]}" &
"$nvcc" "${flags[@]}" -DTANDEM_DECODE_BARRIER_FENCED -o "${out}_fenced" "${srcs[@]}" &
"$nvcc" "${flags[@]}" -DTANDEM_DECODE_PREFETCH_AFTER -DTANDEM_DECODE_STEP_PROFILE -o "${out}_after" "${srcs[@]}"
wait

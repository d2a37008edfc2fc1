#!/usr/bin/env bash
# Builds bench/attn/attn_bench.cu against src/engine/cuda/paged_attention.cu
# (or against another copy of that file, e.g. an older commit's, given as $2)
# and src/engine/cuda/prefill_attention_sm90.cu (the wgmma kernel it dispatches
# to; an older paged_attention.cu leaves it unused).
#   bench/attn/build.sh OUT_BINARY [PAGED_ATTENTION_CU]
# Extra nvcc flags (e.g. -DTANDEM_SM90_PIPELINE=0 for the unpipelined wgmma loop): $ATTN_NVCC_FLAGS.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=$1
kernel=${2:-$repo/src/engine/cuda/paged_attention.cu}
nvcc=${NVCC:-/usr/local/cuda/bin/nvcc}
# shellcheck disable=SC2086
"$nvcc" ${ATTN_NVCC_FLAGS:-} -O3 -std=c++20 --expt-relaxed-constexpr -gencode=arch=compute_90a,code=sm_90a -I"$repo/src" \
  -Xcompiler=-Wall,-Wextra -cudart static -o "$out" "$repo/bench/attn/attn_bench.cu" "$kernel" \
  "$repo/src/engine/cuda/prefill_attention_sm90.cu" "$repo/src/common/status.cpp"

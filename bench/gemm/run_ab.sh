#!/usr/bin/env bash
# Engine A/B of cuBLASLt algorithm tuning in ONE cuda_logits_driver binary (bench/NOTES.md v9-gemm), BC twice,
# Llama-3.1-8B prefill 512/2K/8K (bench/gpu/run_cuda_bench.sh), on a GPU machine:
#   B = TANDEM_GEMM_TUNE=0   the heuristic's first algorithm (the default)
#   C = TANDEM_GEMM_TUNE=1   cuBLASLt algorithms picked by timing
# (v9's arm A, the float32 QKV product, is gone with its switch: bf16 won.)
#
#   bench/gemm/run_ab.sh DRIVER [SHAPE...]     (default shape llama3.1-8b; env as run_cuda_bench.sh)
# No `timeout` around the driver runs: a killed parent leaves the driver running on the GPU and spoils the
# next run. One 8B run takes ~30 s on an H200 (ceilings, decode figures, then prefill).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
driver=$1
shift
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(llama3.1-8b)
for round in 1 2; do
  for arm in B C; do
    case $arm in
      B) env=(TANDEM_GEMM_TUNE=0) ;;
      C) env=(TANDEM_GEMM_TUNE=1) ;;
    esac
    echo "== arm $arm round $round (${env[*]})"
    env "${env[@]}" "$here/../gpu/run_cuda_bench.sh" "$driver" "${shapes[@]}" | grep -E '^ceiling|"prefill"'
  done
done

#!/usr/bin/env bash
# CUDA engine benchmark (bench/README.md workload 1) on a GPU machine with torch + transformers (for the random
# checkpoints). Prints one JSON line per figure; the last lines are the headline figures.
#
#   bench/gpu/run_cuda_bench.sh [DRIVER] [SHAPE...]      (default: build/tests/gpu/cuda_logits_driver,
#                                                          shapes qwen3-0.6b llama3.1-8b)
# Env: TANDEM_RANDOM_CHECKPOINT (checkpoint maker, tests/gpu/random_checkpoint.py), TANDEM_GPU_WORK (checkpoint
#      cache, /tmp/tandem-gpu-checks), BENCH_JSON (append the JSON lines to this file too).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
driver=${1:-$repo/build/tests/gpu/cuda_logits_driver}
shift || true
shapes=("$@")
[ ${#shapes[@]} -gt 0 ] || shapes=(qwen3-0.6b llama3.1-8b)
work=${TANDEM_GPU_WORK:-/tmp/tandem-gpu-checks}
tool=${TANDEM_RANDOM_CHECKPOINT:-$repo/tests/gpu/random_checkpoint.py}
json=${BENCH_JSON:-/dev/null}
mkdir -p "$work"

for shape in "${shapes[@]}"; do
  if [ ! -f "$work/$shape/config.json" ]; then
    python3 "$tool" --shape "$shape" --out "$work/$shape" >/dev/null
  fi
  "$driver" bench --model "$work/$shape" --json "$json" 2>&1
done

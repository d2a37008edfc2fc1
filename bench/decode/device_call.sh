#!/usr/bin/env bash
# One GPU call of the decode work (bench/NOTES.md v8..): checkpoints, ceilings, batch-1 decode A/B of the
# binaries in $BIN, the full engine bench of base and new once, and the correctness checks of the new binary.
# Run from the repository root on the device machine:
#   BIN=DIR [env...] bench/decode/device_call.sh
# BIN is a folder holding cuda_logits_driver builds named base_driver and new_driver (copied there stripped and
# carried to the device machine; any folder git ignores will do). Logs under $OUT. Env:
#   BIN         the binaries' folder (required)
#   SHAPES_AB   checkpoints for the A/B (default qwen3-0.6b)   ROUNDS  alternating rounds (default 3)
#   VARIANTS    NAME=DRIVER[:ENV=VAL,...] list for run_decode_ab.sh (default base=$BIN/base_driver
#               new=$BIN/new_driver)
#   FULL        1: also the full bench (decode throughput, prefill) of base and new on qwen3-0.6b
#   CHECK       1: run tests/gpu/run_gpu_checks.py on the new binary (CHECK_SHAPES, default smollm2-135m
#               qwen3-0.6b; CHECK_LIMIT seconds, default 200; CHECK_ENV e.g. TANDEM_CUDA_PDL=0)
#   TANDEM_RANDOM_CHECKPOINT   the checkpoint maker (default tests/gpu/random_checkpoint.py)
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
d=${BIN:?BIN=DIR: the folder holding base_driver and new_driver}
out=${OUT:-/tmp/decode-out}
mkdir -p "$out"
tool=${TANDEM_RANDOM_CHECKPOINT:-$repo/tests/gpu/random_checkpoint.py}
work=/tmp/tandem-gpu-checks
mkdir -p $work
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader
for shape in ${SHAPES_AB:-qwen3-0.6b}; do
  if [ ! -f $work/$shape/config.json ]; then
    python3 "$tool" --shape $shape --out $work/$shape >/dev/null 2>&1 || echo "checkpoint $shape failed"
  fi
  "$d"/new_driver ceilings 2>&1 | tail -1
  LOG_DIR=$out/ab-$shape bench/decode/run_decode_ab.sh $work/$shape ${ROUNDS:-3} \
    ${VARIANTS:-base=$d/base_driver new=$d/new_driver} 2>&1 | tee $out/ab-$shape.txt
done
if [ "${CHECK:-0}" = 1 ]; then
  # shellcheck disable=SC2086
  env ${CHECK_ENV:-} timeout ${CHECK_LIMIT:-200} python3 tests/gpu/run_gpu_checks.py --driver "$d"/new_driver --shapes ${CHECK_SHAPES:-smollm2-135m qwen3-0.6b} \
    --cpu-shapes smollm2-135m --json $out/checks.json >$out/checks.txt 2>&1
  echo "checks rc=$?"; tail -12 $out/checks.txt
fi
if [ "${FULL:-0}" = 1 ]; then
  for v in base new; do
    timeout 150 "$d/${v}_driver" bench --model $work/qwen3-0.6b --skip-ceilings 1 >$out/full-$v.txt 2>&1
    echo "full $v:"; grep -E '"decode_throughput"|"prefill"' $out/full-$v.txt | sed -E 's/.*"(batch|tokens)":([0-9]+).*"(ms_per_step|ms)":([0-9.]+).*/\1 \2 ms \4/'
  done
fi

#!/usr/bin/env bash
# One device call for the v10-decode-attn work (bench/NOTES.md): GPU checks with the new driver, then
# the driver bench of the base and new drivers alternated (ABAB), all logs under $OUT.
#   BIN=DIR bench/decode-attn/device_call.sh SHAPES_TO_CHECK BENCH_SHAPE ROUNDS [extra label=ENV ...]
# BIN (required) is a folder holding the two cuda_logits_driver builds, named base_driver and new_driver (copied
# there stripped and carried to the device machine; any folder git ignores will do). SHAPES_TO_CHECK is a
# comma-separated list or `none`.
# Env: CPU_SHAPES (shapes also checked on the CPU runner, default smollm2-135m qwen3-0.6b);
# TANDEM_RANDOM_CHECKPOINT (the checkpoint maker, default tests/gpu/random_checkpoint.py).
set -uo pipefail
checks=$1 shape=$2 rounds=$3
shift 3
bin=${BIN:?BIN=DIR: the folder holding base_driver and new_driver}
new=$bin/new_driver base=$bin/base_driver
export PYTHONUNBUFFERED=1
out=${OUT:-/tmp/out}
mkdir -p "$out"
jd=/tmp/decode-attn-json-$shape
rm -rf "$jd" && mkdir -p "$jd"
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv | tee "$out/bench_$shape.log"
if [ "$checks" != none ]; then
  # shellcheck disable=SC2086
  python3 tests/gpu/run_gpu_checks.py --driver "$new" --shapes ${checks//,/ } --cpu-shapes ${CPU_SHAPES:-smollm2-135m qwen3-0.6b} \
    2>&1 | tee "$out/checks_$shape.log" | tail -40
  echo "checks rc=${PIPESTATUS[0]}"
fi
bench() {  # label driver [env]
  local label=$1 drv=$2
  shift 2
  echo "== $label" >>"$out/bench_$shape.log"
  env "$@" BENCH_JSON="$jd/bench_$label.jsonl" bench/gpu/run_cuda_bench.sh "$drv" "$shape" >>"$out/bench_$shape.log" 2>&1
  echo "$label rc=$?"
  python3 bench/decode-attn/summarize.py "$jd"/bench_*.jsonl >"$out/summary_$shape.txt"  # kept current if the call is cut
}
# ROUNDS 0: only the extra runs (label=ENV, label "base..." runs the base driver).
for r in $(seq 1 "$rounds"); do
  bench "base_$r" "$base"
  bench "new_$r" "$new"
done
for extra in "$@"; do
  label=${extra%%=*}
  case $label in base*) drv=$base ;; *) drv=$new ;; esac
  bench "$label" "$drv" "${extra#*=}"
done
cat "$out/summary_$shape.txt"

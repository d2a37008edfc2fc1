#!/usr/bin/env bash
# One device call for the v10-decode-attn work (bench/NOTES.md): GPU checks with the new driver, then
# the driver bench of the base and new drivers alternated (ABAB), all logs under $OUT.
#   bench/decode-attn/device_call.sh SHAPES_TO_CHECK BENCH_SHAPE ROUNDS [extra label=ENV ...]
# Env: CPU_SHAPES (shapes also checked on the CPU runner, default smollm2-135m qwen3-0.6b).
# Needs .device/decode-attn/{cuda_logits_driver,random_checkpoint.py} and .device/base4/cuda_logits_driver.
set -uo pipefail
checks=$1 shape=$2 rounds=$3
shift 3
D=.device/decode-attn B=.device/base4
export TANDEM_RANDOM_CHECKPOINT=$PWD/$D/random_checkpoint.py PYTHONUNBUFFERED=1
out=${OUT:-/tmp/out}
mkdir -p "$out"
jd=/tmp/decode-attn-json-$shape
rm -rf "$jd" && mkdir -p "$jd"
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.max.mem --format=csv | tee "$out/bench_$shape.log"
if [ "$checks" != none ]; then
  # shellcheck disable=SC2086
  python3 tests/gpu/run_gpu_checks.py --driver "$D/cuda_logits_driver" --shapes ${checks//,/ } --cpu-shapes ${CPU_SHAPES:-smollm2-135m qwen3-0.6b} \
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
  bench "base_$r" "$B/cuda_logits_driver"
  bench "new_$r" "$D/cuda_logits_driver"
done
for extra in "$@"; do
  label=${extra%%=*}
  case $label in base*) drv=$B/cuda_logits_driver ;; *) drv=$D/cuda_logits_driver ;; esac
  bench "$label" "$drv" "${extra#*=}"
done
cat "$out/summary_$shape.txt"

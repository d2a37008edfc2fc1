#!/usr/bin/env bash
# One GPU call of the KV hand-off work (issue 21; README.md here): the CUDA KV transfer tests, the hand-off
# micro-benchmark and the one-GPU disaggregated serving test, whose /metrics give the hand-off latency.
# Run on the device machine from a folder holding (binaries built with -DTANDEM_CUDA=ON, the default
# TANDEM_HEADER_ONLY_DEPS=ON, stripped; any folder git ignores will do):
#   DIR/build/src/main/tandem  DIR/build/tests/gpu/cuda_unit_tests  DIR/build/bench/handoff_bench
#   DIR/tests/gpu/{test_cuda_disaggregation.py,gpu_env.py,run_gpu_checks.py,random_checkpoint.py}
#   DIR/latency.py DIR/device_call.sh (copies of the repository's files)
# as   DIR/device_call.sh   ; logs under $OUT.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${OUT:-/tmp/handoff-out}
mkdir -p "$out"
build=$here/build
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv,noheader | tee "$out/gpu.txt"
timeout 150 "$build/tests/gpu/cuda_unit_tests" --gtest_filter='CudaKvTransfer*' >"$out/unit.txt" 2>&1
echo "unit rc=$?"; grep -E '^\[ *(OK|FAILED|PASSED|SKIPPED) ' "$out/unit.txt" | tail -12
timeout 150 "$build/bench/handoff_bench" --reps 10 --blocks 16,64,256,512 >"$out/bench.txt" 2>&1
echo "bench rc=$?"; cat "$out/bench.txt"
export TANDEM_BUILD_DIR=$build TANDEM_GPU_WORK=/tmp/tandem-gpu-checks PYTHONUNBUFFERED=1
TANDEM_DISAGG_METRICS=$out/metrics.txt timeout 300 python3 -m pytest -q -s -p no:cacheprovider --basetemp /tmp/handoff-pt \
  "$here/tests/gpu/test_cuda_disaggregation.py" >"$out/serve.txt" 2>&1
echo "serve rc=$?"; tail -25 "$out/serve.txt"
[ -f "$out/metrics.txt" ] && python3 "$here/latency.py" "$out/metrics.txt" | tee "$out/latency.txt"
tar -czf "$out/logs.tgz" -C /tmp handoff-pt 2>/dev/null
true

#!/usr/bin/env bash
# One device call (session 10): CUDA KV hand-off tests + micro-benchmark + one-GPU disaggregated serving test,
# structured output on the GPU, then issue #21's prefill-heavy goodput comparison in the time left.
# Run from the repository root on the device machine: BIN=DIR bench/disagg/device_call.sh (logs under $OUT;
# the openai and jsonschema wheels in .whl/, see bench/serving/README.md).
cd "$(dirname "$0")/../.."  # the repository root
repo=$PWD
d=$(realpath "${BIN:?BIN=DIR: a folder holding build/src/main/tandem, build/tests/gpu/{cuda_unit_tests,cuda_sampling_check}, build/bench/handoff_bench}")
export TANDEM_BUILD_DIR=$d/build TANDEM_GPU_WORK=/tmp/tandem-gpu-checks PYTHONUNBUFFERED=1 WHEELS=$repo/.whl
mkdir -p $OUT
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv,noheader | tee $OUT/gpu.txt
timeout 120 $d/build/tests/gpu/cuda_unit_tests --gtest_filter='CudaKvTransfer*' >$OUT/unit.txt 2>&1
echo "kv unit rc=$?"; grep -E '^\[ *(OK|FAILED|PASSED|SKIPPED) ' $OUT/unit.txt | tail -10
timeout 100 $d/build/bench/handoff_bench --reps 10 --blocks 16,64,256,512 >$OUT/bench.txt 2>&1
echo "bench rc=$?"; cat $OUT/bench.txt | tail -20
# qwen3-0.6b checkpoint before /tmp/site (the openai wheels) joins PYTHONPATH
mkdir -p $TANDEM_GPU_WORK
[ -f $TANDEM_GPU_WORK/qwen3-0.6b/config.json ] || python3 tests/gpu/random_checkpoint.py --shape qwen3-0.6b --out $TANDEM_GPU_WORK/qwen3-0.6b >/dev/null 2>&1
source bench/serving/gpu_env.sh; ensure_openai >/dev/null || echo "no openai"
TANDEM_DISAGG_METRICS=$OUT/metrics.txt timeout 200 python3 -m pytest -q -s -p no:cacheprovider --basetemp /tmp/pt1 \
  tests/gpu/test_cuda_disaggregation.py >$OUT/disagg.txt 2>&1
echo "disagg rc=$?"; tail -15 $OUT/disagg.txt
[ -f $OUT/metrics.txt ] && python3 bench/handoff/latency.py $OUT/metrics.txt | tee $OUT/latency.txt
timeout 170 python3 -m pytest -q -s -p no:cacheprovider --basetemp /tmp/pt2 tests/gpu/test_structured_output_gpu.py \
  tests/gpu/test_cuda_sampling.py >$OUT/structured.txt 2>&1
echo "structured rc=$?"; tail -15 $OUT/structured.txt
left=$((575 - SECONDS)); echo "goodput with ${left} s left"
if [ $left -gt 150 ]; then
  INPUT_TOKENS=8192 OUTPUT_TOKENS=128 RATES="1.5 3" REQUESTS=16 WARMUP=2 CONFIGS="agg:2048 disagg:8192" \
    timeout $left bench/disagg/run_gpu.sh $d/build/src/main/tandem $OUT/g8k 2>&1 | grep -v "_bucket" | tail -30
fi
echo "total ${SECONDS} s"

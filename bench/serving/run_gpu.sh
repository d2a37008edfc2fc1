#!/usr/bin/env bash
# bench/README.md workload 2 on a GPU machine, one command: random-weight Llama-3.1-8B checkpoint, `tandem serve` on
# the CUDA backend, the concurrency sweep of serving_bench.py, server stopped; logs and JSON in OUT_DIR.
#
#   bench/serving/run_gpu.sh TANDEM_BINARY OUT_DIR [serving_bench.py options...]
#
# Env (defaults): SHAPE (llama3.1-8b), MODEL_DIR (/tmp/tandem-serving/$SHAPE, reused when it has config.json;
# may also be a .gguf), TANDEM_RANDOM_CHECKPOINT (tests/gpu/random_checkpoint.py), WHEELS (the openai wheels,
# $repo/.whl, used only when `import openai` fails), BACKEND (cuda), DEVICES ([0]), MAX_RUNNING (128),
# MAX_BATCH_TOKENS (8192), GPU_MEMORY_FRACTION (0.9), PORT (18000), CONCURRENCY ("1 8 32 64 128"),
# REQUESTS (per level; "" = max(2c, 8)), INPUT_TOKENS (1024), OUTPUT_TOKENS (256), WARMUP (8), API (completions).
# Output: OUT_DIR/serving.txt (the table), serving.json, server.log, tandem.toml, run.log.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
bin=$(realpath "$1"); out=$2; shift 2
mkdir -p "$out"
out=$(realpath "$out")
exec > >(tee -a "$out/run.log") 2>&1
source "$here/gpu_env.sh"

shape=${SHAPE:-llama3.1-8b}
model=${MODEL_DIR:-/tmp/tandem-serving/$shape}
port=${PORT:-18000}
t_start=$SECONDS
# The checkpoint first: random_checkpoint.py (torch, transformers) must not see the wheels in /tmp/site.
if [ ! -f "$model" ]; then ensure_checkpoint "$shape" "$model" || exit 1; fi
ensure_openai || exit 1
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader 2>/dev/null || true

cat > "$out/tandem.toml" <<EOF
[model]
path = "$model"
[engine]
backend = "${BACKEND:-cuda}"
devices = ${DEVICES:-[0]}
max_running = ${MAX_RUNNING:-128}
max_batch_tokens = ${MAX_BATCH_TOKENS:-8192}
gpu_memory_fraction = ${GPU_MEMORY_FRACTION:-0.9}
enable_prefix_caching = true
[scheduler]
max_queue = 1024
[server]
request_timeout_s = 900
EOF
start_server "$bin" "$out/tandem.toml" "$out/server.log" "$port" || { stop_server; exit 1; }
trap stop_server EXIT

args=(--base-url "http://127.0.0.1:$port" --concurrency ${CONCURRENCY:-1 8 32 64 128}
      --input-tokens "${INPUT_TOKENS:-1024}" --output-tokens "${OUTPUT_TOKENS:-256}" --warmup "${WARMUP:-8}"
      --api "${API:-completions}" --json "$out/serving.json")
[ -n "${REQUESTS:-}" ] && args+=(--requests "$REQUESTS")
PYTHONUNBUFFERED=1 python3 "$here/serving_bench.py" "${args[@]}" "$@" | tee "$out/serving.txt"
rc=${PIPESTATUS[0]}
grep -E "\[engine.cuda\]|\[main\] (model|serving|worker)" "$out/server.log" | head -20
echo "total $((SECONDS - t_start)) s, serving_bench exit status $rc"
exit "$rc"

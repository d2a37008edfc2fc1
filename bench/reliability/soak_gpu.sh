#!/usr/bin/env bash
# The GPU soak of issue #20 in one command: a random-weight checkpoint (tests/gpu/random_checkpoint.py),
# `tandem serve` on the CUDA backend, bench/reliability/soak.py at mid load for DURATION seconds (RSS and GPU
# memory sampled every 10 s), server stopped; the table and PASS/FAIL on stdout and in OUT_DIR.
#
#   bench/reliability/soak_gpu.sh TANDEM_BINARY OUT_DIR DURATION_S [soak.py options...]
#
# Env (defaults): SHAPE (qwen3-0.6b), MODEL_DIR (/tmp/tandem-soak/$SHAPE, reused when it has config.json),
# BACKEND (cuda; "cpu" with MODEL_DIR unset serves the demo model: the CPU smoke path), DEVICES ([0]),
# MAX_RUNNING (64), MAX_BATCH_TOKENS (4096), GPU_MEMORY_FRACTION (0.9), MAX_QUEUE (256), ADMISSION_TTFT_MS (0),
# PORT (18100), CLIENTS (32), MAX_TOKENS (256), PROMPT_WORDS (800), WARMUP (a fifth of DURATION, at most 300).
# Output: OUT_DIR/soak.txt (table + verdict), soak.json, server.log, tandem.toml, run.log.
# Exit status: soak.py's (0 pass, 1 fail), 1 when the server does not start.
#
# A command on the GPU machine may run 10 minutes: DURATION 480 fits one command with the checkpoint cached
# (about 20 s for qwen3-0.6b). For 30 minutes start it detached and read OUT_DIR/soak.txt afterwards:
#   nohup bench/reliability/soak_gpu.sh build/src/main/tandem /tmp/soak 1800 >/dev/null 2>&1 &
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ $# -ge 3 ] || { sed -n '2,18p' "$0"; exit 2; }
bin=$(realpath "$1"); out=$2; duration=$3; shift 3
mkdir -p "$out"
out=$(realpath "$out")
exec > >(tee -a "$out/run.log") 2>&1
source "$repo/bench/serving/gpu_env.sh"

backend=${BACKEND:-cuda}
shape=${SHAPE:-qwen3-0.6b}
port=${PORT:-18100}
t_start=$SECONDS
if [ "$backend" = cpu ] && [ -z "${MODEL_DIR:-}" ]; then
  model=$("$repo/scripts/fetch_model" | tail -1)
  case $model in /*) ;; *) model=$repo/$model ;; esac
else
  model=${MODEL_DIR:-/tmp/tandem-soak/$shape}
  if [ ! -f "$model" ]; then ensure_checkpoint "$shape" "$model" || exit 1; fi
fi
if [ "$backend" = cuda ]; then
  nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader 2>/dev/null || true
fi

{
  echo "[model]"
  echo "path = \"$model\""
  echo "[engine]"
  echo "backend = \"$backend\""
  [ "$backend" = cuda ] && echo "devices = ${DEVICES:-[0]}"
  [ "$backend" = cuda ] && echo "gpu_memory_fraction = ${GPU_MEMORY_FRACTION:-0.9}"
  echo "max_running = ${MAX_RUNNING:-64}"
  echo "max_batch_tokens = ${MAX_BATCH_TOKENS:-4096}"
  echo "enable_prefix_caching = true"
  echo "[scheduler]"
  echo "max_queue = ${MAX_QUEUE:-256}"
  echo "admission_ttft_ms = ${ADMISSION_TTFT_MS:-0}"
  echo "[server]"
  echo "request_timeout_s = 600"
} > "$out/tandem.toml"
start_server "$bin" "$out/tandem.toml" "$out/server.log" "$port" || { stop_server; exit 1; }
trap stop_server EXIT

args=(--duration "$duration" --interval 10 --base-url "http://127.0.0.1:$port" --pid "$SERVER_PID"
      --clients "${CLIENTS:-32}" --max-tokens "${MAX_TOKENS:-256}" --prompt-words "${PROMPT_WORDS:-800}"
      --json "$out/soak.json")
[ -n "${WARMUP:-}" ] && args+=(--warmup "$WARMUP")
PYTHONUNBUFFERED=1 python3 "$here/soak.py" "${args[@]}" "$@" | tee "$out/soak.txt"
rc=${PIPESTATUS[0]}
grep -E "\[engine.cuda\]|\[main\] (model|serving|worker)" "$out/server.log" | head -10
echo "total $((SECONDS - t_start)) s, soak exit status $rc"
exit "$rc"

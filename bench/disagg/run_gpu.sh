#!/usr/bin/env bash
# Issue #21's one-GPU goodput comparison, one command on a GPU machine: random-weight Llama-3.1-8B checkpoint, then
# for each configuration `tandem serve` on CUDA device 0 and an open-loop (Poisson) rate sweep of
# bench/serving/serving_bench.py, the server stopped between configurations; one summary table at the end.
#
#   bench/disagg/run_gpu.sh TANDEM_BINARY OUT_DIR
#
# Configurations (CONFIGS, default "agg:2048 agg:8192 disagg:8192"): agg:N = one aggregated worker with
# max_batch_tokens N (the prefill chunk); disagg:N = a prefill and a decode worker on the same GPU (each with its
# own weights and KV pool), max_batch_tokens N, conditional disaggregation at its configured defaults.
# Env (defaults): INPUT_TOKENS (8192), OUTPUT_TOKENS (128), RATES ("1 2 3"), REQUESTS (per rate; 32),
# SLO_TTFT_MS (1000), SLO_ITL_MS (50), SHAPE (llama3.1-8b), MODEL_DIR (/tmp/tandem-serving/$SHAPE), MAX_RUNNING (64),
# GPU_MEMORY_FRACTION (0.9), PORT (18000), BACKEND (cuda; "cpu" with MODEL_DIR=a .gguf is a dry run of the script), WARMUP (4), EXTRA_SCHEDULER (extra [scheduler] lines).
# Output: OUT_DIR/<config>/{serving.txt,serving.json,server.log,tandem.toml,metrics.txt}, OUT_DIR/summary.txt.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ $# -ge 2 ] || { sed -n '2,15p' "$0"; exit 2; }
bin=$(realpath "$1"); out=$2
mkdir -p "$out"
out=$(realpath "$out")
exec > >(tee -a "$out/run.log") 2>&1
source "$repo/bench/serving/gpu_env.sh"

shape=${SHAPE:-llama3.1-8b}
model=${MODEL_DIR:-/tmp/tandem-serving/$shape}
port=${PORT:-18000}
backend=${BACKEND:-cuda}
t_start=$SECONDS
if [ ! -f "$model" ]; then ensure_checkpoint "$shape" "$model" || exit 1; fi
ensure_openai || exit 1
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader 2>/dev/null || true

write_config() {  # KIND CHUNK FILE
  local kind=$1 chunk=$2 file=$3
  cat > "$file" <<TOML
[model]
path = "$model"
[engine]
backend = "$backend"
max_running = ${MAX_RUNNING:-64}
max_batch_tokens = $chunk
gpu_memory_fraction = ${GPU_MEMORY_FRACTION:-0.9}
enable_prefix_caching = true
[scheduler]
max_queue = 1024
${EXTRA_SCHEDULER:-}
[server]
request_timeout_s = 900
TOML
  if [ "$kind" = disagg ]; then
    local dev=""
    [ "$backend" = cuda ] && dev='device = 0\n'
    printf "[[workers]]\nbackend = \"$backend\"\n${dev}role = \"prefill\"\n[[workers]]\nbackend = \"$backend\"\n${dev}role = \"decode\"\n" \
      >> "$file"
  elif [ "$backend" = cuda ]; then
    sed -i 's/^backend = "cuda"$/backend = "cuda"\ndevices = [0]/' "$file"
  fi
}

rc_all=0
for config in ${CONFIGS:-agg:2048 agg:8192 disagg:8192}; do
  kind=${config%%:*}; chunk=${config#*:}
  dir="$out/${kind}-${chunk}"
  mkdir -p "$dir"
  write_config "$kind" "$chunk" "$dir/tandem.toml"
  echo "== $config"
  if ! start_server "$bin" "$dir/tandem.toml" "$dir/server.log" "$port"; then stop_server; rc_all=1; continue; fi
  PYTHONUNBUFFERED=1 python3 "$repo/bench/serving/serving_bench.py" --base-url "http://127.0.0.1:$port" \
    --rates ${RATES:-1 2 3} --requests "${REQUESTS:-32}" --input-tokens "${INPUT_TOKENS:-8192}" \
    --output-tokens "${OUTPUT_TOKENS:-128}" --warmup "${WARMUP:-4}" --slo-ttft-ms "${SLO_TTFT_MS:-1000}" \
    --slo-itl-ms "${SLO_ITL_MS:-50}" --json "$dir/serving.json" > "$dir/serving.txt" || rc_all=1
  tail -n +1 "$dir/serving.txt" | sed -n '2,/^(latencies/p'
  curl -s "http://127.0.0.1:$port/metrics" > "$dir/metrics.txt" || true
  grep -E "^tandem_(disagg|prefill|kv_transfer|handoff|worker_role)" "$dir/metrics.txt" | grep -v _bucket | head -30
  stop_server
done

python3 - "$out" <<'PY' | tee "$out/summary.txt"
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
rows = []
for d in sorted(p for p in out.iterdir() if (p / "serving.json").exists()):
    r = json.loads((d / "serving.json").read_text())
    for lv in r["levels"]:
        rows.append((d.name, lv))
p = r["params"] if rows else {}
print(f"goodput (TTFT <= {p.get('slo_ttft_ms')} ms, own chunk-gap p99 <= {p.get('slo_itl_ms')} ms), "
      f"input ~{p.get('input_tokens')} / output {p.get('output_tokens')} tokens, Poisson arrivals")
print(f"{'config':<14} {'rate':>5} {'ok':>4} {'goodput':>8} {'TTFT p50':>9} {'TTFT p99':>9} {'gap p99':>8} {'tok/s':>8}")
for name, lv in rows:
    print(f"{name:<14} {lv['rate']:>5.2f} {lv['completed']:>4} {lv['goodput_rps']:>8.2f} {lv['ttft_ms_p50']:>9.0f} "
          f"{lv['ttft_ms_p99']:>9.0f} {lv['itl_chunk_ms_p99']:>8.1f} {lv['output_tokens_per_s']:>8.0f}")
best = {}
for name, lv in rows:
    best[name] = max(best.get(name, 0.0), lv["goodput_rps"])
print("best goodput per config (req/s): " + ", ".join(f"{k} {v:.2f}" for k, v in best.items()))
PY
echo "total $((SECONDS - t_start)) s"
exit "$rc_all"

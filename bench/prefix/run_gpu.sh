#!/usr/bin/env bash
# bench/README.md workload 3 on a GPU machine, one command: random-weight Qwen3-0.6B checkpoint, `tandem serve` with
# several CUDA workers on one GPU (devices = [0, 0, 0, 0]), multi-turn chats behind a shared system prompt of
# several thousand tokens plus a per-conversation document, concurrency above the worker count; routers
# round_robin, least_loaded (load-aware, cache-blind) and kv (prefix caching on in all), in one run: hit rate,
# TTFT p50/p99, answers, ratios.
#
#   bench/prefix/run_gpu.sh TANDEM_BINARY OUT_DIR [prefix_bench.py options...]
#
# Env (defaults): SHAPE (qwen3-0.6b), MODEL_DIR (/tmp/tandem-prefix/$SHAPE, reused when it has config.json),
# TANDEM_RANDOM_CHECKPOINT, WHEELS ($repo/.whl, used only when `import openai` fails), DEVICES (0,0,0,0),
# CONVERSATIONS (32), CONCURRENCY (16), TURNS (6), MAX_TOKENS (64), SYSTEM_REPEAT (15), DOC_WORDS (1500),
# ROUTERS (round_robin,least_loaded,kv), MAX_RUNNING (64), GPU_MEMORY_FRACTION (0.9), BACKEND (cuda; cpu for a smoke run with a .gguf MODEL_DIR).
# Output: OUT_DIR/prefix.txt (the table), prefix.json, prefix_bench_ROUTER.log (server logs), run.log.
# Sizes: random_checkpoint.py's tokenizer makes the system prompt (598 chars x 15) ~5.5K tokens and a document
# of 1500 words ~7.1K, ~13.5K tokens a conversation after 6 turns (~1.5 GB of Qwen3-0.6B KV): 32 fit in the
# four pools of an H100 under kv routing (8 a worker, ~12 GB of ~16), not under round_robin (every worker
# sees every conversation), as in real traffic.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
[ $# -ge 2 ] || { sed -n '2,17p' "$0"; exit 2; }
bin=$(realpath "$1"); out=$2; shift 2
mkdir -p "$out"
out=$(realpath "$out")
exec > >(tee -a "$out/run.log") 2>&1
source "$repo/bench/serving/gpu_env.sh"

shape=${SHAPE:-qwen3-0.6b}
model=${MODEL_DIR:-/tmp/tandem-prefix/$shape}
t_start=$SECONDS
# The checkpoint first: random_checkpoint.py (torch, transformers) must not see the wheels in /tmp/site.
if [ ! -f "$model" ]; then ensure_checkpoint "$shape" "$model" || exit 1; fi
ensure_openai || exit 1
nvidia-smi --query-gpu=name,memory.total,memory.used --format=csv,noheader 2>/dev/null || true

PYTHONUNBUFFERED=1 python3 "$here/prefix_bench.py" --binary "$bin" --model "$model" --backend "${BACKEND:-cuda}" \
  --devices "${DEVICES:-0,0,0,0}" --max-running "${MAX_RUNNING:-64}" \
  --gpu-memory-fraction "${GPU_MEMORY_FRACTION:-0.9}" \
  --conversations "${CONVERSATIONS:-32}" --concurrency "${CONCURRENCY:-16}" --turns "${TURNS:-6}" --routers "${ROUTERS:-round_robin,least_loaded,kv}" \
  --max-tokens "${MAX_TOKENS:-64}" --ignore-eos --system-repeat "${SYSTEM_REPEAT:-15}" \
  --doc-words "${DOC_WORDS:-1500}" --log-dir "$out" --json "$out/prefix.json" "$@" | tee "$out/prefix.txt"
rc=${PIPESTATUS[0]}
for r in $(echo "${ROUTERS:-round_robin,least_loaded,kv}" | tr , " "); do
  echo "== $r: workers"
  grep -E "\[engine.cuda\] device|\[main\] worker" "$out/prefix_bench_$r.log" | head -8
done
echo "total $((SECONDS - t_start)) s, prefix_bench exit status $rc"
exit "$rc"

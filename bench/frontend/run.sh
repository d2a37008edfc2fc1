#!/usr/bin/env bash
# Frontend-alone benchmark (BENCH.md workload 5): tandem_testserver (the real
# HttpServer over the instant backend) measured with wrk.
#   1. non-streaming 16-token completions: requests/s and latency percentiles
#   2. streamed 256-token chat completions: streamed tokens/s
#   3. added latency at low load (1 connection): p50/p99 of a full request
# Usage: bench/frontend/run.sh [BUILD_DIR] [DURATION_S]
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DUR=${2:-10}
SERVER="$BUILD/tests/tools/tandem_testserver"
THREADS=${SERVER_THREADS:-1}
[[ -x $SERVER ]] || { echo "build $SERVER first (ninja -C $BUILD tandem_testserver)" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is not installed" >&2; exit 1; }

out=$(mktemp)
"$SERVER" --port 0 --threads "$THREADS" --log-level warn --max-context 100000 >"$out" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out"' EXIT
for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
port=$(awk '/listening on/ {print $3}' "$out")
url="http://127.0.0.1:$port"

# Sanity: the stream really carries 256 content chunks.
chunks=$(curl -s "$url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":256,"ignore_eos":true,"skip_special_tokens":false,"stream":true}' |
  grep -c '"content":"[^"]')
echo "stream sanity: $chunks content chunks per 256-token stream"

run() {  # name connections script
  wrk -t1 -c"$2" -d"${DUR}s" --latency -s "bench/frontend/$3" "$url/v1/${4}" | tee /dev/stderr |
    awk -v name="$1" '/Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2}
      END {printf "%s %s %s %s\n", name, rps, p50, p99}'
}
r1=$(run nonstream 32 completion16.lua completions 2>/dev/null)
r2=$(run stream 32 stream256.lua chat/completions 2>/dev/null)
r3=$(run latency 1 completion16.lua completions 2>/dev/null)

echo
printf "%-34s %14s %10s %10s\n" "workload" "value" "p50" "p99"
read -r _ rps p50 p99 <<<"$r1"
printf "%-34s %10.0f req/s %10s %10s\n" "non-streaming 16 tok, 32 conns" "$rps" "$p50" "$p99"
read -r _ rps p50 p99 <<<"$r2"
printf "%-34s %10.0f tok/s %10s %10s\n" "streamed 256 tok, 32 conns" "$(echo "$rps * 256" | bc)" "$p50" "$p99"
read -r _ rps p50 p99 <<<"$r3"
printf "%-34s %10.0f req/s %10s %10s\n" "added latency, 1 conn" "$rps" "$p50" "$p99"

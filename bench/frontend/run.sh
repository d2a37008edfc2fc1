#!/usr/bin/env bash
# Frontend-alone benchmark (bench/README.md workload 5): tandem_testserver (the real
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
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out" "$out.wrk"' EXIT
for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
port=$(awk '/listening on/ {print $3}' "$out")
url="http://127.0.0.1:$port"

# Sanity: the stream really carries 256 content chunks.
chunks=$(curl -s "$url/v1/chat/completions" -H 'Content-Type: application/json' \
  -d '{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":256,"ignore_eos":true,"skip_special_tokens":false,"stream":true}' |
  grep -c '"content":"[^"]')
echo "stream sanity: $chunks content chunks per 256-token stream"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }  # server utime + stime
HZ=$(getconf CLK_TCK)
run() {  # name connections script path -> "name rps p50 p99 requests server_cpu_s"
  local t0 t1
  t0=$(cpu_ticks)
  wrk -t1 -c"$2" -d"${DUR}s" --latency -s "bench/frontend/$3" "$url/v1/${4}" >"$out.wrk"
  t1=$(cpu_ticks)
  cat "$out.wrk" >&2
  awk -v name="$1" -v cpu="$(echo "($t1 - $t0) / $HZ" | bc -l)" '
    /Requests\/sec/ {rps=$2} /^ +50%/ {p50=$2} /^ +99%/ {p99=$2} /requests in/ {n=$1}
    END {printf "%s %s %s %s %s %s\n", name, rps, p50, p99, n, cpu}' "$out.wrk"
}
r1=$(run nonstream 32 completion16.lua completions 2>/dev/null)
r2=$(run stream 32 stream256.lua chat/completions 2>/dev/null)
r3=$(run latency 1 completion16.lua completions 2>/dev/null)

echo
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews p99)"
printf "%-32s %16s %10s %10s %14s\n" "workload" "throughput" "p50" "p99" "server CPU"
read -r _ rps p50 p99 n cpu <<<"$r1"
printf "%-32s %10.0f req/s %10s %10s %8.1f us/req\n" "non-streaming 16 tok, 32 conns" "$rps" "$p50" "$p99" \
  "$(echo "$cpu * 1000000 / $n" | bc -l)"
read -r _ rps p50 p99 n cpu <<<"$r2"
printf "%-32s %10.0f tok/s %10s %10s %8.2f us/tok\n" "streamed 256 tok, 32 conns" "$(echo "$rps * 256" | bc)" \
  "$p50" "$p99" "$(echo "$cpu * 1000000 / ($n * 256)" | bc -l)"
read -r _ rps p50 p99 n cpu <<<"$r3"
printf "%-32s %10.0f req/s %10s %10s %8.1f us/req\n" "added latency, 1 conn" "$rps" "$p50" "$p99" \
  "$(echo "$cpu * 1000000 / $n" | bc -l)"

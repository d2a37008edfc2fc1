#!/usr/bin/env bash
# Batch-1 decode A/B on a GPU machine (bench/NOTES.md v8..): runs `cuda_logits_driver bench` of several
# binaries / launch settings alternately (ABAB...) on one checkpoint and keeps only the decode_b1 figure
# (the driver is stopped once it printed it). Prints one line per run and a median table last.
#
#   bench/decode/run_decode_ab.sh CKPT_DIR ROUNDS NAME=DRIVER[:ENV=VAL[,ENV=VAL]] ...
# e.g. run_decode_ab.sh /tmp/q06 3 base=$BIN/base_driver new=$BIN/new_driver new_nopdl=$BIN/new_driver:TANDEM_CUDA_PDL=0
# where $BIN is the folder the cuda_logits_driver builds to compare were copied into.
# Env: LOG_DIR (per-run logs, default /tmp/decode-ab); RUN_LIMIT (seconds a run may take before it is
# stopped and reported as nan, default 90: a hung kernel must not eat the whole device call); SAMPLED=1 also
# waits for the driver's decode_b1_sampled rows (ctx 256, greedy and Qwen3 defaults: the served path) and
# reports their medians as NAME.greedy and NAME.qwen3.
set -uo pipefail
ckpt=$1
rounds=$2
shift 2
logs=${LOG_DIR:-/tmp/decode-ab}
mkdir -p "$logs"
declare -A results

run_b1() {  # name driver envs
  local name=$1 driver=$2 envs=$3 log
  log=$logs/$name.$RANDOM.log
  (
    [ -n "$envs" ] && IFS=, read -ra kv <<<"$envs" && for e in "${kv[@]}"; do export "$e"; done
    exec "$driver" bench --model "$ckpt" --skip-ceilings 1
  ) >"$log" 2>&1 &
  local pid=$! start=$SECONDS
  local stop='"decode_b1"'
  [ "${SAMPLED:-0}" = 1 ] && stop='"qwen3_defaults"'
  while kill -0 $pid 2>/dev/null && ! grep -q "$stop" "$log" && ((SECONDS - start < ${RUN_LIMIT:-90})); do
    sleep 0.1
  done
  kill $pid 2>/dev/null
  wait $pid 2>/dev/null
  local ms
  ms=$(grep -o '"ms_per_token":[0-9.]*' "$log" | head -1 | cut -d: -f2)
  if [ -z "$ms" ]; then
    echo "run $name: no decode_b1 figure; log tail:"
    tail -5 "$log"
    ms=nan
  fi
  echo "run $name ms_per_token $ms"
  results[$name]="${results[$name]:-} $ms"
  if [ "${SAMPLED:-0}" = 1 ]; then
    local mode v
    for mode in greedy qwen3; do
      v=$(grep "decode_b1_sampled" "$log" | grep "\"$mode" | grep -o '"ms_per_token":[0-9.]*' | head -1 | cut -d: -f2)
      results[$name.$mode]="${results[$name.$mode]:-} ${v:-nan}"
    done
  fi
}

names=()
for spec in "$@"; do
  names+=("${spec%%=*}")
  [ "${SAMPLED:-0}" = 1 ] && names+=("${spec%%=*}.greedy" "${spec%%=*}.qwen3")
done
for ((r = 0; r < rounds; ++r)); do
  for spec in "$@"; do
    name=${spec%%=*}
    rest=${spec#*=}
    driver=${rest%%:*}
    envs=""
    [[ $rest == *:* ]] && envs=${rest#*:}
    run_b1 "$name" "$driver" "$envs"
  done
done
echo "== batch-1 decode, ms per token (median of $rounds alternating runs) =="
for name in "${names[@]}"; do
  med=$(echo ${results[$name]} | tr ' ' '\n' | sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')
  echo "$name median $med runs:${results[$name]}"
done

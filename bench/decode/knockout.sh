#!/usr/bin/env bash
# Knock-out arms of the batch-1 decode (bench/NOTES.md Run 20), on the GPU machine, from the repository root:
#   bench/decode/knockout.sh DRIVER CHECKPOINT [ROUNDS]
# DRIVER is a cuda_logits_driver built with bench/decode/knockout.patch applied (it skips the kernels named in
# TANDEM_KO and replays each decode graph TANDEM_KO_REPLAY times; its results are wrong by design, only the
# time is read). Prints per arm: decode_b1 (ctx 128, logits path), decode_b1_sampled greedy and Qwen3 defaults
# (ctx 256), ms/token.
set -uo pipefail
driver=$1 ckpt=$2 rounds=${3:-2}
arms="base R2 R5 sample head rope attn rope,attn qkv o gu down samewt qkv,o,gu,down rope,attn,samewt qkv,rope,attn,o,gu,down"
for r in $(seq "$rounds"); do
  for a in $arms; do
    ko=$a rep=1
    [ "$a" = base ] && ko=
    case $a in R*) ko= rep=${a#R} ;; esac
    line=$(TANDEM_KO=$ko TANDEM_KO_REPLAY=$rep TANDEM_PROFILE_DECODE=1 timeout -k 5 60 "$driver" bench --model "$ckpt" \
             --skip-ceilings 1 2>&1 | grep decode_b1 | sed -E 's/.*"ms_per_token":([0-9.]+).*/\1/' | tr '\n' ' ')
    echo "r$r $a: $line"
  done
done

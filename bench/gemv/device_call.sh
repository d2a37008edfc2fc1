#!/usr/bin/env bash
# One GPU call of the v10-gemv work (bench/NOTES.md): the GEMV correctness check (tests/gpu/ops, the Gemv* cases
# of cuda_op_checks) and microbench (gemv_bench), then batch-1 decode A/B of several driver arms alternating
# (ABAB), then tests/gpu/run_gpu_checks.py. Needs
# .device/gemv/{cuda_op_checks,gemv_bench,new_driver,base_driver,random_checkpoint.py}
# (scripts/build cuda_op_checks gemv_bench builds the first two). Logs in $OUT/logs.tar.gz. Env:
#   SHAPE      checkpoint for the A/B (default qwen3-0.6b)        ROUNDS     alternating rounds (default 3)
#   STEPS      subset of "check bench ab checks" (default all)
#   WAVES      values of TANDEM_CUDA_GEMV_WAVE for check/bench (only bench/gemv/one_wave.patch reads it)
#   ARMS       NAME=DRIVER[:ENV=VAL+ENV=VAL...] list for the A/B (default base and new)
#   CHECKS     NAME=ENV=VAL+ENV=VAL... runs of run_gpu_checks on the new driver (default "new=X=1"); CHECK_SHAPES
#              (default "smollm2-135m qwen3-0.6b"); CHECK_LIMIT seconds per run (default 150)
# The v10-gemv calls ran with bench/gemv/one_wave.patch applied, e.g.
#   WAVES="1,16 2,16" ARMS="off=.device/gemv/new_driver:TANDEM_CUDA_GEMV_ONE_WAVE=0 w=.device/gemv/new_driver"
set -uo pipefail
d=.device/gemv
out=${OUT:-/tmp/gemv-out}
logs=/tmp/gemv-logs
rm -rf $logs; mkdir -p "$out" $logs
shape=${SHAPE:-qwen3-0.6b}
work=/tmp/tandem-gpu-checks
mkdir -p $work
export TANDEM_RANDOM_CHECKPOINT=$PWD/$d/random_checkpoint.py
steps=" ${STEPS:-check bench ab checks} "
nvidia-smi --query-gpu=name,clocks.sm,clocks.mem --format=csv,noheader
t0=$SECONDS
ckpt_pid=
if [[ $steps == *" ab "* ]] && [ ! -f $work/$shape/config.json ]; then
  python3 $d/random_checkpoint.py --shape $shape --out $work/$shape >$logs/ckpt.log 2>&1 &
  ckpt_pid=$!
fi
if [[ $steps == *" check "* ]]; then
  for w in ${WAVES:-1,16}; do
    TANDEM_CUDA_GEMV_WAVE=$w $d/cuda_op_checks --gtest_filter='Gemv*' >$logs/gemv_check-$w.txt 2>&1
    echo "gemv check wave=$w rc=$? ($((SECONDS - t0)) s): $(grep '^op checks:' $logs/gemv_check-$w.txt)"
    grep -E "FAIL" $logs/gemv_check-$w.txt | head -3
  done
fi
[ -n "$ckpt_pid" ] && wait $ckpt_pid
if [[ $steps == *" bench "* ]]; then
  for w in ${WAVES:-1,16}; do
    echo "== gemv_bench wave=$w"
    TANDEM_CUDA_GEMV_WAVE=$w $d/gemv_bench 2>&1 | tee $logs/gemv_bench-$w.txt |
      sed -E 's/"bench":"gemv_//'
  done
  echo "($((SECONDS - t0)) s)"
fi
if [[ $steps == *" ab "* ]]; then
  arms=${ARMS:-base=$d/base_driver new=$d/new_driver}
  for ((r = 0; r < ${ROUNDS:-3}; ++r)); do
    for spec in $arms; do
      name=${spec%%=*}; rest=${spec#*=}; drv=${rest%%:*}; envs=""
      [[ $rest == *:* ]] && envs=${rest#*:}
      env TANDEM_PROFILE_DECODE=1 ${envs//+/ } timeout ${RUN_LIMIT:-60} $drv bench --model $work/$shape --skip-ceilings 1 \
        >$logs/ab-$name-$r.log 2>&1
      echo "$name round $r rc=$? $(grep -o '"ms_per_token":[0-9.]*' $logs/ab-$name-$r.log | cut -d: -f2 | tr '\n' ' ')"
    done
  done
  python3 - $logs "$arms" <<'PY'
import json, glob, sys, statistics, re
logs, arms = sys.argv[1], [a.split("=")[0] for a in sys.argv[2].split()]
rows = {}
for f in sorted(glob.glob(logs + "/ab-*.log")):
    arm = re.match(r".*/ab-(.*)-\d+\.log", f).group(1)
    for line in open(f):
        if not line.startswith("{"): continue
        try: j = json.loads(line)
        except Exception: continue
        if j.get("bench") == "decode_b1": key = "decode_b1_ms"
        elif j.get("bench") == "decode_b1_sampled": key = "sampled_%s_ms" % j["sampling"]
        elif j.get("bench") == "gemm_alone" and j["path"] == "gemv": key = "alone_%s_n%d_us" % (j["matrix"], j["n"])
        else: continue
        rows.setdefault(key, {}).setdefault(arm, []).append(j.get("ms_per_token", j.get("us")))
print("figure | " + " | ".join(arms) + " | " + " | ".join("%s/%s" % (a, arms[0]) for a in arms[1:]))
for key, d in rows.items():
    med = {a: statistics.median(d[a]) if d.get(a) else float("nan") for a in arms}
    print("%s | %s | %s" % (key, " | ".join("%.4f" % med[a] for a in arms),
                            " | ".join("%.3f" % (med[a] / med[arms[0]]) for a in arms[1:])))
PY
  echo "($((SECONDS - t0)) s)"
fi
if [[ $steps == *" checks "* ]]; then
  for spec in ${CHECKS:-new=X=1}; do
    name=${spec%%=*}; envs=${spec#*=}
    env ${envs//+/ } timeout ${CHECK_LIMIT:-150} python3 tests/gpu/run_gpu_checks.py --driver $d/new_driver \
      --shapes ${CHECK_SHAPES:-smollm2-135m qwen3-0.6b} --cpu-shapes smollm2-135m --json $logs/checks-$name.json \
      >$logs/checks-$name.txt 2>&1
    echo "run_gpu_checks $name ($envs) rc=$? ($((SECONDS - t0)) s)"
    grep -E "PASS|FAIL" $logs/checks-$name.txt
  done
fi
tar czf $out/logs.tar.gz -C $logs .

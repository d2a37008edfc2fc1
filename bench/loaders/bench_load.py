#!/usr/bin/env python3
"""Model-loading benchmark: times engine::inspect_model and engine::load_model
(parse + dequantize/convert every weight) on a model path, through
tests/tools/loader_dump. Prints one table; the last lines are the headline
figures (median seconds, and converted output bytes per second).

Usage: bench/loaders/bench_load.py [PATH] [--runs N] [--build DIR]
(PATH defaults to the demo model; DIR to $TANDEM_BUILD_DIR or build/.)
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("path", nargs="?", default=str(REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--build", default=os.environ.get("TANDEM_BUILD_DIR", str(REPO / "build")))
    args = ap.parse_args()
    tool = Path(args.build) / "tests" / "tools" / "loader_dump"
    info = json.loads(subprocess.run([str(tool), "inspect", args.path], check=True, capture_output=True,
                                     text=True).stdout)
    s = info["spec"]
    params = s["vocab"] * s["hidden"] * (1 if s["tied_embeddings"] else 2) + s["hidden"] + s["n_layers"] * (
        2 * s["hidden"] + s["hidden"] * s["head_dim"] * (2 * s["n_heads"] + 2 * s["n_kv_heads"])
        + 3 * s["hidden"] * s["intermediate"])
    rows = []
    for dtype, width in (("f32", 4), ("bf16", 2)):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        out = subprocess.run([str(tool), "bench", args.path, dtype, str(args.runs)], check=True, capture_output=True,
                             text=True).stdout
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) / args.runs
        r = json.loads(out)
        rows.append((dtype, statistics.median(r["inspect_s"]), statistics.median(r["load_s"]), cpu, params * width))
    print(f"model: {args.path}  ({params / 1e6:.1f} M parameters, runs={args.runs}, file {Path(args.path).stat().st_size / 1e6:.1f} MB)")
    print("wall = median per run; cpu = user+sys seconds per run (inspect + load), robust on a shared machine")
    print(f"{'dtype':<6} {'inspect (ms)':>13} {'load wall (s)':>14} {'cpu (s)':>8} {'output GB/s (wall)':>19}")
    for dtype, ins, load, cpu, nbytes in rows:
        print(f"{dtype:<6} {ins * 1e3:>13.1f} {load:>14.3f} {cpu:>8.3f} {nbytes / load / 1e9:>19.2f}")


if __name__ == "__main__":
    main()

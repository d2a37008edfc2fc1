#!/usr/bin/env python3
"""BENCH.md workload 3 on the CPU: multi-turn chats behind a long shared system
prompt, served by `tandem serve` with 4 CPU workers and the demo model, once
with router = "kv" and once with router = "round_robin" (prefix caching on in
both), in one run. Reports TTFT p50/p99 (streamed, official openai client),
the prefix-cache hit rate (tandem_prefix_cache_hits_total / queries_total) and
whether both runs gave the same answers (greedy).

    .venv/bin/python bench/prefix/prefix_bench.py [--build build] [--conversations 8] [--turns 4]
        [--concurrency 4] [--max-tokens 16] [--system-repeat 3]
"""
import argparse
import concurrent.futures
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

import openai
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
MODEL_NAME = "SmolLM2-135M-Instruct.Q4_1"
SYSTEM = " ".join([
    "You are the support assistant of a regional rail company.",
    "Answer in one or two short sentences, politely, and never invent timetables or prices.",
    "Trains run every thirty minutes between the main station and the airport from five in the",
    "morning until midnight. Bicycles travel free outside rush hours. Children under six ride free.",
    "Season tickets can be bought online or at the ticket office, which opens at six.",
    "Lost property is kept for thirty days at the main station. Delays over an hour are refunded",
    "in part; over two hours in full. Dogs on a leash are welcome. Quiet carriages are at the front.",
])
SYSTEM_REPEAT = 3
QUESTIONS = ["How often do trains go to the airport?", "Can I bring my bike?", "What about my dog?",
             "Where is lost property?", "Do children pay?", "When does the ticket office open?",
             "What if my train is late?", "Where is the quiet carriage?"]


def start(build, toml, log_path):
    cfg = pathlib.Path(tempfile.mkdtemp()) / "tandem.toml"
    cfg.write_text(toml)
    model = subprocess.run([str(REPO / "scripts" / "fetch_model")], check=True, capture_output=True,
                           text=True).stdout.strip().splitlines()[-1]
    model = model if os.path.isabs(model) else str(REPO / model)
    log = open(log_path, "w")
    proc = subprocess.Popen([str(build / "src" / "main" / "tandem"), "serve", "--config", str(cfg),
                             "--model", model, "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    for _ in range(600):
        m = re.search(r"\[main\] serving .* on http://[^ ]*:(\d+) ", pathlib.Path(log_path).read_text())
        if m:
            return proc, f"http://127.0.0.1:{m.group(1)}"
        if proc.poll() is not None:
            sys.exit("tandem serve exited:\n" + pathlib.Path(log_path).read_text())
        time.sleep(0.2)
    proc.kill()
    sys.exit("tandem serve did not start")


def metric(base, name):
    text = requests.get(base + "/metrics", timeout=5).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def conversation(base, c, turns, max_tokens):
    client = openai.OpenAI(base_url=base + "/v1", api_key="none")
    messages = [{"role": "system", "content": " ".join([SYSTEM] * SYSTEM_REPEAT)}]
    out = []
    for t in range(turns):
        messages.append({"role": "user", "content": QUESTIONS[(c + t) % len(QUESTIONS)]})
        t0 = time.perf_counter()
        ttft = None
        parts = []
        stream = client.chat.completions.create(model=MODEL_NAME, messages=messages, max_tokens=max_tokens,
                                                temperature=0, stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                if ttft is None:
                    ttft = time.perf_counter() - t0
                parts.append(chunk.choices[0].delta.content)
        answer = "".join(parts)
        out.append((ttft if ttft is not None else time.perf_counter() - t0, answer))
        messages.append({"role": "assistant", "content": answer})
    return out


def run(build, router, args):
    toml = (f"[engine]\nworkers = {args.workers}\ncpu_threads = 1\ncpu_kv_cache_mib = 64\n"
            f"[scheduler]\nrouter = \"{router}\"\n")
    proc, base = start(build, toml, f"/tmp/prefix_bench_{router}.log")
    try:
        q0, h0 = metric(base, "tandem_prefix_cache_queries_total"), metric(base, "tandem_prefix_cache_hits_total")
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            convs = list(pool.map(lambda c: conversation(base, c, args.turns, args.max_tokens),
                                  range(args.conversations)))
        wall = time.perf_counter() - t0
        q = metric(base, "tandem_prefix_cache_queries_total") - q0
        h = metric(base, "tandem_prefix_cache_hits_total") - h0
    finally:
        proc.terminate()
        proc.wait(30)
    ttfts = sorted(t for conv in convs for t, _ in conv)
    later = sorted(t for conv in convs for t, _ in conv[1:])
    pct = lambda xs, p: xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")
    return {"router": router, "p50": pct(ttfts, 0.5), "p99": pct(ttfts, 0.99), "later_p50": pct(later, 0.5),
            "hit": h / q if q else 0.0, "wall": wall, "answers": [[a for _, a in conv] for conv in convs]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.environ.get("TANDEM_BUILD_DIR", str(REPO / "build")))
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--conversations", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--system-repeat", type=int, default=3, help="system prompt = the base text N times")
    args = ap.parse_args()
    global SYSTEM_REPEAT
    SYSTEM_REPEAT = args.system_repeat
    build = pathlib.Path(args.build)
    results = [run(build, "round_robin", args), run(build, "kv", args)]
    print(f"workload 3 (CPU): {args.workers} workers, {args.conversations} conversations x {args.turns} turns, "
          f"{args.concurrency} concurrent, system prompt {len(SYSTEM) * args.system_repeat} chars, "
          f"max_tokens {args.max_tokens}")
    print(f"{'router':<12} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} {'turn>1 p50 ms':>14} {'hit rate':>9} {'wall s':>8}")
    for r in results:
        print(f"{r['router']:<12} {r['p50']*1e3:12.1f} {r['p99']*1e3:12.1f} {r['later_p50']*1e3:14.1f} "
              f"{r['hit']:9.3f} {r['wall']:8.1f}")
    rr, kv = results
    print(f"same answers: {rr['answers'] == kv['answers']}")
    print(f"TTFT p50 round_robin / kv: {rr['p50'] / kv['p50']:.2f}x")


if __name__ == "__main__":
    main()

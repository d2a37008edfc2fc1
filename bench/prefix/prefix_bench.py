#!/usr/bin/env python3
"""bench/README.md workload 3: multi-turn chats behind a long shared system prompt, served by `tandem serve` with
several workers, once with router = "kv" and once with router = "round_robin" (prefix caching on in both),
in one run. Reports TTFT p50/p99 over all turns and over later turns only (streamed, official openai
client), the prefix-cache hit rate (tandem_prefix_cache_hits_total / queries_total), the share of prompt
tokens served from cache (usage.prompt_tokens_details.cached_tokens), and whether both runs gave the same
answers (greedy).

CPU (default; session 1's design, documented in docs/benchmarks.md): 4 CPU workers, the demo model.

    .venv/bin/python bench/prefix/prefix_bench.py [--build build] [--conversations 8] [--turns 4]
        [--concurrency 4] [--max-tokens 16] [--system-repeat 3] [--doc-words 0]

GPU: a Hugging Face checkpoint, CUDA workers (a repeated ordinal = several workers on one GPU):

    python3 bench/prefix/prefix_bench.py --binary BIN --model DIR --backend cuda --devices 0,0,0,0 \\
        --system-repeat 15 --doc-words 1500 --conversations 32 --concurrency 16 --turns 6 \\
        --max-tokens 64 --ignore-eos

--doc-words N gives every conversation its own document of N random words in its first user turn (the
"fair" multi-turn design: what a conversation reuses from turn to turn is then mostly its own history,
which only the worker that served it holds, rather than the system prompt that every worker caches after
its first request under round-robin too). 0 keeps the original design.
"""
import argparse
import concurrent.futures
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import tempfile
import time

import openai
import requests

REPO = pathlib.Path(__file__).resolve().parents[2]
SYSTEM = " ".join([
    "You are the support assistant of a regional rail company.",
    "Answer in one or two short sentences, politely, and never invent timetables or prices.",
    "Trains run every thirty minutes between the main station and the airport from five in the",
    "morning until midnight. Bicycles travel free outside rush hours. Children under six ride free.",
    "Season tickets can be bought online or at the ticket office, which opens at six.",
    "Lost property is kept for thirty days at the main station. Delays over an hour are refunded",
    "in part; over two hours in full. Dogs on a leash are welcome. Quiet carriages are at the front.",
])
QUESTIONS = ["How often do trains go to the airport?", "Can I bring my bike?", "What about my dog?",
             "Where is lost property?", "Do children pay?", "When does the ticket office open?",
             "What if my train is late?", "Where is the quiet carriage?"]
WORDS = ("station platform ticket journey delay refund carriage airport bicycle season morning evening "
         "timetable conductor luggage weekend holiday connection passenger window corridor network route "
         "signal junction express regional suburb harbour bridge tunnel valley river museum market square "
         "office counter machine receipt complaint request booking seat reservation student senior family").split()


def document(conv, words):
    """Conversation `conv`'s own text: `words` words, different for every conversation."""
    rng = random.Random(1000 + conv)
    return "Here is my itinerary and booking history: " + " ".join(rng.choice(WORDS) for _ in range(words))


def default_model():
    out = subprocess.run([str(REPO / "scripts" / "fetch_model")], check=True, capture_output=True,
                         text=True).stdout.strip().splitlines()[-1]
    return out if os.path.isabs(out) else str(REPO / out)


def start(args, toml, log_path):
    cfg = pathlib.Path(tempfile.mkdtemp()) / "tandem.toml"
    cfg.write_text(toml)
    log = open(log_path, "w")
    proc = subprocess.Popen([str(args.binary), "serve", "--config", str(cfg), "--model", args.model,
                             "--host", "127.0.0.1", "--port", "0"],
                            stdout=subprocess.DEVNULL, stderr=log, text=True)
    deadline = time.monotonic() + args.start_timeout
    while time.monotonic() < deadline:
        m = re.search(r"\[main\] serving .* on http://[^ ]*:(\d+) ", pathlib.Path(log_path).read_text())
        if m:
            return proc, f"http://127.0.0.1:{m.group(1)}"
        if proc.poll() is not None:
            sys.exit("tandem serve exited:\n" + pathlib.Path(log_path).read_text()[-4000:])
        time.sleep(0.2)
    proc.kill()
    sys.exit(f"tandem serve did not start in {args.start_timeout} s; log in {log_path}")


def metric(base, name):
    text = requests.get(base + "/metrics", timeout=10).text
    m = re.search(rf"^{name} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def conversation(base, model, c, args):
    client = openai.OpenAI(base_url=base + "/v1", api_key="none", max_retries=0, timeout=args.request_timeout)
    messages = [{"role": "system", "content": " ".join([SYSTEM] * args.system_repeat)}]
    extra = {"ignore_eos": True} if args.ignore_eos else {}
    out = []
    for t in range(args.turns):
        question = QUESTIONS[(c + t) % len(QUESTIONS)]
        if t == 0 and args.doc_words > 0:
            question = document(c, args.doc_words) + "\n\n" + question
        messages.append({"role": "user", "content": question})
        t0 = time.perf_counter()
        ttft, parts, usage = None, [], None
        stream = client.chat.completions.create(model=model, messages=messages, max_tokens=args.max_tokens,
                                                temperature=0, stream=True, stream_options={"include_usage": True},
                                                extra_body=extra)
        for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            if chunk.choices and (chunk.choices[0].delta.content or chunk.choices[0].finish_reason):
                if ttft is None:
                    ttft = time.perf_counter() - t0
                parts.append(chunk.choices[0].delta.content or "")
        answer = "".join(parts)
        details = getattr(usage, "prompt_tokens_details", None) if usage else None
        out.append({"ttft": ttft if ttft is not None else time.perf_counter() - t0, "answer": answer,
                    "prompt_tokens": usage.prompt_tokens if usage else 0,
                    "cached_tokens": (details.cached_tokens or 0) if details else 0})
        messages.append({"role": "assistant", "content": answer})
    return out


def engine_toml(args, router):
    if args.backend == "cpu":
        engine = (f"backend = \"cpu\"\nworkers = {args.workers}\ncpu_threads = {args.cpu_threads}\n"
                  f"cpu_kv_cache_mib = {args.cpu_kv_cache_mib}\n")
    else:
        devices = ", ".join(str(int(d)) for d in args.devices.split(","))
        engine = (f"backend = \"{args.backend}\"\ndevices = [{devices}]\nmax_running = {args.max_running}\n"
                  f"max_batch_tokens = {args.max_batch_tokens}\n"
                  f"gpu_memory_fraction = {args.gpu_memory_fraction}\n")
    return f"[engine]\n{engine}enable_prefix_caching = true\n[scheduler]\nrouter = \"{router}\"\n{args.extra_toml}"


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))] if xs else float("nan")


def run(router, args):
    log_path = os.path.join(args.log_dir, f"prefix_bench_{router}.log")
    proc, base = start(args, engine_toml(args, router), log_path)
    try:
        model = openai.OpenAI(base_url=base + "/v1", api_key="none").models.list().data[0].id
        q0, h0 = metric(base, "tandem_prefix_cache_queries_total"), metric(base, "tandem_prefix_cache_hits_total")
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
            convs = list(pool.map(lambda c: conversation(base, model, c, args), range(args.conversations)))
        wall = time.perf_counter() - t0
        q = metric(base, "tandem_prefix_cache_queries_total") - q0
        h = metric(base, "tandem_prefix_cache_hits_total") - h0
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
    turns = [t for conv in convs for t in conv]
    later = [t for conv in convs for t in conv[1:]]
    prompt = sum(t["prompt_tokens"] for t in turns)
    return {"router": router, "p50": pct([t["ttft"] for t in turns], 0.5),
            "p99": pct([t["ttft"] for t in turns], 0.99),
            "later_p50": pct([t["ttft"] for t in later], 0.5), "later_p99": pct([t["ttft"] for t in later], 0.99),
            "hit": h / q if q else 0.0, "cached_share": sum(t["cached_tokens"] for t in turns) / prompt if prompt else 0.0,
            "mean_prompt_tokens": prompt / len(turns) if turns else 0.0, "wall": wall,
            "answers": [[t["answer"] for t in conv] for conv in convs], "log": log_path}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.environ.get("TANDEM_BUILD_DIR", str(REPO / "build")),
                    help="build directory (its src/main/tandem is the default --binary)")
    ap.add_argument("--binary", default="", help="the tandem executable")
    ap.add_argument("--model", default="", help=".gguf file or HF directory (default: the demo model)")
    ap.add_argument("--backend", choices=["cpu", "cuda", "auto"], default="cpu")
    ap.add_argument("--devices", default="0,0,0,0", help="CUDA ordinals, comma-separated (repeat = workers per GPU)")
    ap.add_argument("--workers", type=int, default=4, help="CPU backend: workers")
    ap.add_argument("--cpu-threads", type=int, default=1)
    ap.add_argument("--cpu-kv-cache-mib", type=int, default=64)
    ap.add_argument("--max-running", type=int, default=64)
    ap.add_argument("--max-batch-tokens", type=int, default=8192)
    ap.add_argument("--gpu-memory-fraction", type=float, default=0.9)
    ap.add_argument("--extra-toml", default="", help="appended to the generated tandem.toml")
    ap.add_argument("--conversations", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--turns", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=16)
    ap.add_argument("--ignore-eos", action="store_true", help="every answer exactly --max-tokens tokens")
    ap.add_argument("--system-repeat", type=int, default=3, help="system prompt = the base text N times")
    ap.add_argument("--doc-words", type=int, default=0, help="per-conversation document in the first turn (words)")
    ap.add_argument("--routers", default="round_robin,kv",
                    help="comma-separated, run in this order; the last is the ratios' denominator (add least_loaded "
                         "to separate load balancing from cache reuse)")
    ap.add_argument("--start-timeout", type=float, default=600)
    ap.add_argument("--request-timeout", type=float, default=600)
    ap.add_argument("--log-dir", default="/tmp")
    ap.add_argument("--json", default="")
    args = ap.parse_args()
    args.binary = args.binary or str(pathlib.Path(args.build) / "src" / "main" / "tandem")
    args.model = args.model or default_model()
    if args.backend != "cpu":
        args.devices = ",".join(d.strip() for d in args.devices.split(",") if d.strip())
    routers = [r.strip() for r in args.routers.split(",") if r.strip()]
    results = [run(r, args) for r in routers]

    workers = args.workers if args.backend == "cpu" else f"{len(args.devices.split(','))} ({args.backend} {args.devices})"
    print(f"workload 3 ({args.backend}): {workers} workers, {args.conversations} conversations x {args.turns} turns, "
          f"{args.concurrency} concurrent, system prompt {len(SYSTEM) * args.system_repeat} chars, "
          f"document {args.doc_words} words per conversation, max_tokens {args.max_tokens}"
          f"{' (ignore_eos)' if args.ignore_eos else ''}, mean prompt {results[0]['mean_prompt_tokens']:.0f} tokens")
    print(f"{'router':<12} {'TTFT p50 ms':>12} {'TTFT p99 ms':>12} {'turn>1 p50 ms':>14} {'turn>1 p99 ms':>14} "
          f"{'hit rate':>9} {'cached':>7} {'wall s':>8}")
    for r in results:
        print(f"{r['router']:<12} {r['p50']*1e3:12.1f} {r['p99']*1e3:12.1f} {r['later_p50']*1e3:14.1f} "
              f"{r['later_p99']*1e3:14.1f} {r['hit']:9.3f} {r['cached_share']:7.3f} {r['wall']:8.1f}")
    same = sum(a == b for a, b in zip(sum(results[0]["answers"], []), sum(results[-1]["answers"], [])))
    total = len(sum(results[0]["answers"], []))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results, "same_answers": same, "answers_total": total},
                      f, indent=1)
    first, last = results[0], results[-1]
    print(f"same answers ({first['router']} vs {last['router']}): {first['answers'] == last['answers']} "
          f"({same}/{total} turns identical)")
    for r in results[:-1]:
        print(f"TTFT p50 {r['router']} / {last['router']}: {r['p50'] / last['p50']:.2f}x; "
              f"turn>1 p50: {r['later_p50'] / last['later_p50']:.2f}x")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Soak: a steady mid load on a running `tandem serve` for a given time, sampling the server's memory every
--interval seconds (RSS from /proc, and GPU memory from nvidia-smi where there is one), then a table and a
verdict (issue #20: "a 30-minute soak at mid load: RSS and GPU memory flat, no error").

  bench/reliability/soak.py --duration 1800 --base-url http://127.0.0.1:18000 --pid PID   # a server you started
  bench/reliability/soak.py --duration 60 --interval 2 --serve                          # starts one: demo model, CPU

bench/reliability/soak_gpu.sh wraps it on the GPU machine (random-weight checkpoint, CUDA backend).

Load: --clients clients, each sending one request after another: streaming, non-streaming and cancelled
(closed after a few streamed events) in the ratio 2:2:1, alternating /v1/completions and /v1/chat/completions,
prompts of varied length from a fixed word list with a few shared openings (the prefix cache gets hits and
evictions), max_tokens between --max-tokens / 4 and --max-tokens (ignore_eos, so lengths are as asked).

Pass: the server is alive and /health answers 200 at the end; no response other than 200 and the intended 429s
(refused requests wait for their Retry-After, capped at 5 s); no stream truncated (every whole stream ends with
[DONE] and the terminating chunk); after the load the running and waiting gauges return to 0; and after the
warm-up (--warmup seconds) RSS and GPU memory stay within their tolerances (max - min over the samples taken
after it: --rss-tolerance-mib, --gpu-tolerance-mib; GPU memory is the server process's as nvidia-smi
--query-compute-apps reports it, or, where it lists no such process id (containers), the GPUs' used memory
from --query-gpu). Exit status 0 on pass, 1 on fail.
Standard library only; contacts the given server only.
"""
import argparse
import asyncio
import collections
import json
import os
import pathlib
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import reliability  # noqa: E402  (the HTTP/SSE client, the metric reader and the Server wrapper)

WORDS = ("the a river mountain engine protocol garden signal winter copper lantern orbit harvest theorem "
         "cathedral wire meadow algorithm tide granite violin compiler glacier festival lattice ember "
         "archive horizon quartz ledger canyon beacon spindle prism thicket").split()
OPENINGS = ["You are a careful assistant. Answer briefly and precisely.",
            "Summarise the following notes for an engineering review.",
            "Translate the following text into plain English, keeping every number.",
            ""]


def rss_mib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def gpu_mib(pid):
    """(this process's GPU memory, the GPUs' total used memory) in MiB; None where unknown."""
    if not shutil.which("nvidia-smi"):
        return None, None
    proc = total = None
    try:
        out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid,used_memory", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout
        for line in out.splitlines():
            parts = [p.strip() for p in line.split(",")]
            if len(parts) == 2 and parts[0] == str(pid):
                proc = (proc or 0) + float(parts[1])
        out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=20).stdout
        used = [float(x) for x in out.split() if x.strip()]
        total = sum(used) if used else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        pass
    return proc, total


def prompt(rng, tokens):
    opening = rng.choice(OPENINGS)
    words = [rng.choice(WORDS) for _ in range(max(1, tokens))]
    return (opening + " " + " ".join(words)).strip()


class Stats:
    def __init__(self):
        self.counts = collections.Counter()
        self.errors = collections.Counter()
        self.ttfts = []


async def client(i, args, port, stop_at, stats, served_model):
    rng = random.Random(args.seed * 1000 + i)
    k = i
    while time.monotonic() < stop_at:
        kind = ("stream", "stream", "plain", "plain", "cancel")[k % 5]
        chat = k % 2 == 1
        k += 1
        stream = kind != "plain"
        text = prompt(rng, rng.randint(args.prompt_words // 4, args.prompt_words))
        max_tokens = rng.randint(max(1, args.max_tokens // 4), args.max_tokens)
        body = {"max_tokens": max_tokens, "ignore_eos": True, "stream": stream, "temperature": 0.8,
                "seed": rng.randrange(1 << 30)}
        if served_model:
            body["model"] = served_model
        if chat:
            path = "/v1/chat/completions"
            body["messages"] = [{"role": "user", "content": text}]
        else:
            path = "/v1/completions"
            body["prompt"] = text
        drop = rng.randint(1, 8) if kind == "cancel" else None
        o = await reliability.request(port, path, body, stream, drop_after_events=drop, timeout=args.request_timeout)
        if o.status is None:
            stats.errors[f"no response: {o.error}"] += 1
            await asyncio.sleep(0.5)
            continue
        stats.counts[o.status] += 1
        if o.status == 429:
            try:
                wait = float(o.retry_after)
            except (TypeError, ValueError):
                stats.errors["429 without Retry-After"] += 1
                wait = 1.0
            await asyncio.sleep(min(wait, 5.0) * rng.uniform(0.5, 1.0))
            continue
        if o.status != 200:
            stats.errors[f"status {o.status}"] += 1
            await asyncio.sleep(0.5)
            continue
        stats.counts[kind] += 1
        if stream and kind == "stream":
            if o.ttft is not None:
                stats.ttfts.append(o.ttft)
            if o.error or not (o.done and o.terminated):
                stats.errors["truncated stream"] += 1
        elif kind == "plain" and (o.error or not o.terminated):
            stats.errors["truncated response"] += 1


async def sampler(args, pid, t0, stop_at, stats, samples):
    while True:
        now = time.monotonic()
        proc_gpu, total_gpu = await asyncio.to_thread(gpu_mib, pid)
        row = {"t": now - t0, "rss_mib": rss_mib(pid), "gpu_proc_mib": proc_gpu, "gpu_used_mib": total_gpu,
               "ok": stats.counts[200], "refused_429": stats.counts[429], "errors": sum(stats.errors.values())}
        samples.append(row)
        print(f"  t={row['t']:7.0f} s  rss {fmt(row['rss_mib'])} MiB  gpu(proc) {fmt(row['gpu_proc_mib'])} MiB  "
              f"gpu(used) {fmt(row['gpu_used_mib'])} MiB  ok {row['ok']}  429 {row['refused_429']}  "
              f"errors {row['errors']}", file=sys.stderr, flush=True)
        if now >= stop_at:
            return
        await asyncio.sleep(min(args.interval, max(0.0, stop_at - time.monotonic())))


def fmt(x):
    return "-" if x is None else f"{x:.0f}"


def spread(samples, key, after):
    xs = [s[key] for s in samples if s["t"] >= after and s[key] is not None]
    if len(xs) < 2:
        return None, xs
    return max(xs) - min(xs), xs


async def run(args, port, pid, served_model):
    stats = Stats()
    samples = []
    t0 = time.monotonic()
    stop_at = t0 + args.duration
    await asyncio.gather(sampler(args, pid, t0, stop_at, stats, samples),
                         *(client(i, args, port, stop_at, stats, served_model) for i in range(args.clients)))
    alive = rss_mib(pid) is not None
    health = (await reliability.get(port, "/health"))[0] if alive else None
    settle, gauges = await reliability.wait_idle(port, 30) if alive else (None, None)
    return stats, samples, alive, health, settle, gauges


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, required=True, help="seconds of load")
    ap.add_argument("--interval", type=float, default=10, help="seconds between memory samples (10)")
    ap.add_argument("--warmup", type=float, default=None,
                    help="seconds before memory must be flat (default: a fifth of the duration, at most 300)")
    ap.add_argument("--clients", type=int, default=32, help="concurrent clients (32: mid load)")
    ap.add_argument("--max-tokens", type=int, default=256, help="largest max_tokens (each request: 1/4 to all)")
    ap.add_argument("--prompt-words", type=int, default=400, help="longest prompt in words (each: 1/4 to all)")
    ap.add_argument("--request-timeout", type=float, default=600)
    ap.add_argument("--rss-tolerance-mib", type=float, default=64)
    ap.add_argument("--gpu-tolerance-mib", type=float, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--base-url", help="a running server (http://127.0.0.1:PORT); needs --pid")
    ap.add_argument("--pid", type=int, help="its process id (RSS, GPU memory)")
    ap.add_argument("--model", help="served model name to send (default: none, the server's model)")
    ap.add_argument("--serve", action="store_true",
                    help="start `tandem serve` here: the demo model on the CPU backend (CI-style smoke run)")
    ap.add_argument("--tandem", default=str(reliability.BUILD_DIR / "src" / "main" / "tandem"))
    ap.add_argument("--json", help="also write the samples and the verdict here")
    args = ap.parse_args()
    if args.warmup is None:
        args.warmup = min(300.0, args.duration / 5)
    server = None
    if args.serve:
        port = reliability.free_port()
        toml = ("[engine]\nbackend = \"cpu\"\nmax_running = 8\n[scheduler]\nmax_queue = 64\n"
                "[server]\nrequest_timeout_s = 600\n")
        server = reliability.Server(args.tandem, reliability.demo_model(), port, toml)
        pid = server.proc.pid
    else:
        if not args.base_url or not args.pid:
            ap.error("give --base-url and --pid, or --serve")
        port = int(args.base_url.rstrip("/").rsplit(":", 1)[1])
        pid = args.pid
    try:
        stats, samples, alive, health, settle, gauges = asyncio.run(run(args, port, pid, args.model))
    finally:
        if server:
            server.stop()
    rss_spread, rss_after = spread(samples, "rss_mib", args.warmup)
    gpu_spread, gpu_after = spread(samples, "gpu_proc_mib", args.warmup)
    used_spread, _ = spread(samples, "gpu_used_mib", args.warmup)
    checks = {
        "alive, /health 200": alive and health == 200,
        "no error responses (only 200 and 429)": not stats.errors,
        "queues idle after the load": settle is not None,
        f"RSS flat after {args.warmup:.0f} s (spread <= {args.rss_tolerance_mib:g} MiB)":
            rss_spread is not None and rss_spread <= args.rss_tolerance_mib,
    }
    if gpu_after or shutil.which("nvidia-smi"):
        # The process's own figure; where nvidia-smi cannot see it (a container's process ids differ from the
        # driver's), the GPUs' used memory, the server being their only user on the GPU machine.
        which, value = ("process", gpu_spread) if gpu_after else ("used, all processes", used_spread)
        checks[f"GPU memory ({which}) flat after {args.warmup:.0f} s (spread <= {args.gpu_tolerance_mib:g} MiB)"] = \
            value is not None and value <= args.gpu_tolerance_mib
    ok = all(checks.values())

    print(f"soak: {args.duration:.0f} s, {args.clients} clients, max_tokens <= {args.max_tokens}, prompts <= "
          f"{args.prompt_words} words; warm-up {args.warmup:.0f} s; server pid {pid}")
    print("| t (s) | RSS (MiB) | GPU, process (MiB) | GPU, used (MiB) | 200 | 429 | errors |")
    print("|---|---|---|---|---|---|---|")
    for s in samples:
        print(f"| {s['t']:.0f} | {fmt(s['rss_mib'])} | {fmt(s['gpu_proc_mib'])} | {fmt(s['gpu_used_mib'])} | "
              f"{s['ok']} | {s['refused_429']} | {s['errors']} |")
    ttft = sorted(stats.ttfts)
    print(f"requests: {stats.counts[200]} answered 200 ({stats.counts['stream']} streamed, {stats.counts['plain']} "
          f"whole, {stats.counts['cancel']} cancelled), {stats.counts[429]} refused with 429; errors: "
          f"{dict(stats.errors) or 'none'}")
    if ttft:
        print(f"TTFT of whole streams: p50 {ttft[len(ttft) // 2] * 1000:.0f} ms, p99 "
              f"{ttft[min(len(ttft) - 1, int(0.99 * (len(ttft) - 1) + 0.5))] * 1000:.0f} ms")
    print(f"after warm-up: RSS spread {fmt(rss_spread)} MiB over {len(rss_after)} samples, GPU (process) spread "
          f"{fmt(gpu_spread)} MiB over {len(gpu_after)}, GPU (used, all processes) spread {fmt(used_spread)} MiB; "
          f"queues idle {'after %.2f s' % settle if settle is not None else 'NO ' + str(gauges)}")
    for name, passed in checks.items():
        print(f"[{'pass' if passed else 'FAIL'}] {name}")
    print("PASS" if ok else "FAIL")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"samples": samples, "checks": checks, "counts": {str(k): v for k, v in stats.counts.items()},
                       "errors": dict(stats.errors), "pass": ok}, f, indent=1)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

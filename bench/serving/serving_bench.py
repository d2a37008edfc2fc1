#!/usr/bin/env python3
"""bench/README.md workload 2: a running OpenAI-compatible server under a concurrency sweep.

The load generator is the official `openai` client (AsyncOpenAI, streaming), spread over several
worker processes so one Python interpreter never limits the rate at high concurrency. Each level
runs N requests with at most c in flight; every request has its own random-word prompt of about
--input-tokens tokens (calibrated against the server's own tokenizer through usage.prompt_tokens)
and asks for exactly --output-tokens tokens (max_tokens = min_tokens, ignore_eos), so random
weights still produce full-length answers.

Per level: TTFT p50/p99 (request sent -> first streamed token), inter-token latency p50/p99 both
per streamed chunk (gap between chunks that carry tokens) and per token (a request's decode time /
(tokens - 1)), output tokens/s, requests/s, errors, mean prompt tokens, and the client's own CPU
use (core-seconds per second of wall time, and the busiest process's share of one core).

With --rates the levels are open loop instead: requests arrive as a Poisson process at each rate
(req/s), whatever is in flight, as disaggregation papers (DistServe) and Dynamo's benchmarks drive
servers. Every level also reports goodput: requests per second that completed with TTFT <=
--slo-ttft-ms and the p99 of their own gaps between streamed chunks <= --slo-itl-ms.

    python3 bench/serving/serving_bench.py --base-url http://127.0.0.1:8000 \
        [--concurrency 1 8 32 64 128 | --rates 1 2 4] [--requests N] [--input-tokens 1024] \
        [--output-tokens 256] [--slo-ttft-ms 1000] [--slo-itl-ms 50] [--api completions|chat] \
        [--warmup 8] [--processes P] [--json out.json]

The table's last lines are the headline figures (output tokens/s and TTFT/ITL p50 per level).
"""
import argparse
import asyncio
import json
import math
import multiprocessing
import os
import random
import sys
import time

import openai

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "ben", "dor", "gal", "pen", "tor", "ush",
             "wey", "zan", "an", "el", "is", "om", "ur", "bri", "cla", "fro", "gle", "pla", "ste", "tri"]


def random_words(rng, n):
    """n pseudo-words: different for every request, so no request reuses another's prefix."""
    return " ".join("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(n))


def percentile(xs, p):
    """Nearest-rank percentile (p in [0, 100]); nan for an empty list."""
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, math.ceil(p / 100.0 * len(s)) - 1))
    return s[k]


# ----------------------------------------------------------------------------- one request

async def one_request(client, cfg, prompt):
    """Streams one request. Returns a record: timings (monotonic seconds), token counts, error."""
    rec = {"start": time.monotonic(), "ttft": None, "end": None, "chunk_gaps": [], "first": None,
           "last": None, "completion_tokens": 0, "prompt_tokens": 0, "error": None}
    common = dict(model=cfg["model"], max_tokens=cfg["output_tokens"], stream=True, temperature=0,
                  stream_options={"include_usage": True},
                  extra_body={"min_tokens": cfg["output_tokens"], "ignore_eos": True})
    try:
        if cfg["api"] == "chat":
            stream = await client.chat.completions.create(messages=[{"role": "user", "content": prompt}],
                                                          **common)
        else:
            stream = await client.completions.create(prompt=prompt, **common)
        prev = None
        async for chunk in stream:
            now = time.monotonic()
            if chunk.usage is not None:
                rec["completion_tokens"] = chunk.usage.completion_tokens
                rec["prompt_tokens"] = chunk.usage.prompt_tokens
            if not chunk.choices:
                continue
            c = chunk.choices[0]
            if cfg["api"] == "chat":
                has_token = bool(c.delta and c.delta.content) or c.finish_reason is not None
            else:
                has_token = bool(c.text) or c.finish_reason is not None
            # The detokenizer may hold back bytes of an incomplete UTF-8 character, so a chunk with
            # no text can still end a token run; the first chunk with text (or the finish) marks TTFT.
            if not has_token:
                continue
            if rec["ttft"] is None:
                rec["ttft"] = now - rec["start"]
                rec["first"] = now
            elif prev is not None:
                rec["chunk_gaps"].append(now - prev)
            prev = now
            rec["last"] = now
    except Exception as e:  # noqa: BLE001 - any failure of a request is counted and reported
        rec["error"] = f"{type(e).__name__}: {e}"[:300]
    rec["end"] = time.monotonic()
    if rec["error"] is None and rec["completion_tokens"] != cfg["output_tokens"]:
        rec["error"] = f"expected {cfg['output_tokens']} completion tokens, usage says {rec['completion_tokens']}"
    return rec


async def run_slice_async(cfg, slots, prompts, rate, seed):
    """Closed loop (rate 0): at most `slots` requests in flight in this process, until `prompts` are
    all sent. Open loop (rate > 0): requests arrive as a Poisson process of `rate` per second (this
    process's share of the level's rate), whatever is in flight."""
    client = openai.AsyncOpenAI(base_url=cfg["base_url"] + "/v1", api_key=cfg["api_key"], max_retries=0,
                                timeout=cfg["timeout"])
    queue = list(reversed(prompts))
    records = []

    async def slot():
        while queue:
            records.append(await one_request(client, cfg, queue.pop()))

    async def arrivals():
        rng = random.Random(seed)
        tasks = []
        for prompt in prompts:
            await asyncio.sleep(rng.expovariate(rate))
            tasks.append(asyncio.ensure_future(one_request(client, cfg, prompt)))
        records.extend(await asyncio.gather(*tasks))

    if rate > 0:
        await arrivals()
    else:
        await asyncio.gather(*(slot() for _ in range(slots)))
    await client.close()
    return records


def run_slice(args):
    """Process entry: returns (records, cpu seconds of this process, wall seconds)."""
    cfg, slots, prompts, rate, seed = args
    cpu0, wall0 = time.process_time(), time.monotonic()
    records = asyncio.run(run_slice_async(cfg, slots, prompts, rate, seed))
    return records, time.process_time() - cpu0, time.monotonic() - wall0


def meets_slo(rec, cfg):
    """A completed request within the goodput targets: TTFT, and the p99 of its own chunk gaps."""
    if rec["error"] is not None or rec["ttft"] is None or rec["ttft"] * 1e3 > cfg["slo_ttft_ms"]:
        return False
    return not rec["chunk_gaps"] or percentile(rec["chunk_gaps"], 99) * 1e3 <= cfg["slo_itl_ms"]


# ----------------------------------------------------------------------------- prompts

def measure_prompt_tokens(cfg, text):
    client = openai.OpenAI(base_url=cfg["base_url"] + "/v1", api_key=cfg["api_key"], max_retries=0,
                           timeout=cfg["timeout"])
    if cfg["api"] == "chat":
        r = client.chat.completions.create(model=cfg["model"], messages=[{"role": "user", "content": text}],
                                           max_tokens=1)
    else:
        r = client.completions.create(model=cfg["model"], prompt=text, max_tokens=1)
    return r.usage.prompt_tokens


def calibrate_words(cfg, target, seed):
    """Words per prompt so that prompt_tokens ~= target, from the server's own counts: a line
    through two prompt sizes (template/BOS overhead + tokens per word), then two corrections."""
    rng = random.Random(seed)
    mean_tokens = lambda w: sum(measure_prompt_tokens(cfg, random_words(rng, w)) for _ in range(3)) / 3
    w1 = max(4, target // 4)
    t1, t2 = mean_tokens(w1), mean_tokens(2 * w1)
    per_word = max(1e-3, (t2 - t1) / w1)
    overhead = t1 - per_word * w1
    words = max(1, round((target - overhead) / per_word))
    for _ in range(2):
        words = max(1, round(words * (target - overhead) / max(1e-3, mean_tokens(words) - overhead)))
    return words, overhead


def make_prompts(rng, n, words):
    return [random_words(rng, words) for _ in range(n)]


# ----------------------------------------------------------------------------- one level

def run_level(pool, cfg, concurrency, n_requests, prompts, processes, rate=0.0, seed=1):
    """One level: closed loop at `concurrency` streams, or (rate > 0) Poisson arrivals at `rate`
    requests/s spread evenly over the client processes (a sum of Poisson processes is one)."""
    if rate > 0:
        procs = max(1, min(processes, n_requests))
        slots = [1] * procs
        shares = [n_requests // procs + (1 if i < n_requests % procs else 0) for i in range(procs)]
    else:
        procs = max(1, min(processes, concurrency))
        slots = [concurrency // procs + (1 if i < concurrency % procs else 0) for i in range(procs)]
        # Requests split in proportion to the slots, so every process finishes at about the same time.
        shares = [n_requests * s // concurrency for s in slots]
        for i in range(n_requests - sum(shares)):
            shares[i % procs] += 1
    jobs, at = [], 0
    for i, (s, k) in enumerate(zip(slots, shares)):
        jobs.append((cfg, s, prompts[at:at + k], rate / procs, seed * 1000 + i))
        at += k
    t0 = time.monotonic()
    results = pool.map(run_slice, [j for j in jobs if j[2]])
    wall = time.monotonic() - t0
    records = [r for recs, _, _ in results for r in recs]
    ok = [r for r in records if r["error"] is None]
    span = (max(r["end"] for r in records) - min(r["start"] for r in records)) if records else float("nan")
    ttft = [r["ttft"] * 1e3 for r in ok]
    gaps = [g * 1e3 for r in ok for g in r["chunk_gaps"]]
    tpot = [(r["last"] - r["first"]) * 1e3 / (r["completion_tokens"] - 1) for r in ok
            if r["completion_tokens"] > 1 and r["first"] is not None]
    out_tokens = sum(r["completion_tokens"] for r in ok)
    cpu = sum(c for _, c, _ in results)
    busiest = max((c / w for _, c, w in results if w > 0), default=0.0)
    errors = [r["error"] for r in records if r["error"] is not None]
    good = sum(1 for r in records if meets_slo(r, cfg))
    return {
        "concurrency": concurrency, "rate": rate,
        "slo_met": good, "goodput_rps": good / span if span > 0 else float("nan"), "requests": len(records), "completed": len(ok), "errors": len(errors),
        "error_samples": sorted(set(errors))[:5], "processes": len(results),
        "duration_s": span, "output_tokens": out_tokens,
        "expected_output_tokens": len(ok) * cfg["output_tokens"],
        "output_tokens_per_s": out_tokens / span if span > 0 else float("nan"),
        "requests_per_s": len(ok) / span if span > 0 else float("nan"),
        "ttft_ms_p50": percentile(ttft, 50), "ttft_ms_p99": percentile(ttft, 99),
        "itl_chunk_ms_p50": percentile(gaps, 50), "itl_chunk_ms_p99": percentile(gaps, 99),
        "itl_token_ms_p50": percentile(tpot, 50), "itl_token_ms_p99": percentile(tpot, 99),
        "mean_prompt_tokens": (sum(r["prompt_tokens"] for r in ok) / len(ok)) if ok else float("nan"),
        "client_cpu_cores": cpu / wall if wall > 0 else float("nan"),
        "client_busiest_process": busiest,
    }


# ----------------------------------------------------------------------------- report

def print_table(report, out=sys.stdout):
    p = report["params"]
    print(f"serving benchmark: {report['model']} at {p['base_url']} ({p['api']}, stream), "
          f"input ~{p['input_tokens']} tokens (mean measured {report['mean_prompt_tokens']:.0f}), "
          f"output {p['output_tokens']} tokens, {report['client_processes']} client processes", file=out)
    rated = any(lv["rate"] > 0 for lv in report["levels"])
    head = (f"{'rate' if rated else 'conc':>5} {'reqs':>5} {'err':>4} {'TTFT p50':>9} {'TTFT p99':>9} {'ITLchunk p50':>12} "
            f"{'ITLchunk p99':>12} {'ITLtok p50':>10} {'ITLtok p99':>10} {'out tok/s':>10} {'req/s':>7} "
            f"{'client cpu':>10} {'busiest':>7} {'goodput':>8}")
    print(head, file=out)
    print("-" * len(head), file=out)
    for lv in report["levels"]:
        level = f"{lv['rate']:>5.2f}" if rated else f"{lv['concurrency']:>5}"
        print(f"{level} {lv['completed']:>5} {lv['errors']:>4} {lv['ttft_ms_p50']:>9.1f} "
              f"{lv['ttft_ms_p99']:>9.1f} {lv['itl_chunk_ms_p50']:>12.2f} {lv['itl_chunk_ms_p99']:>12.2f} "
              f"{lv['itl_token_ms_p50']:>10.2f} {lv['itl_token_ms_p99']:>10.2f} {lv['output_tokens_per_s']:>10.1f} "
              f"{lv['requests_per_s']:>7.2f} {lv['client_cpu_cores']:>10.2f} {lv['client_busiest_process']:>6.0%} "
              f"{lv['goodput_rps']:>8.2f}", file=out)
    print("(latencies in ms; ITLchunk = gap between streamed chunks, ITLtok = decode time / (tokens - 1); "
          "client cpu = client core-seconds per wall second, busiest = busiest client process's share of a core; "
          f"goodput = requests/s with TTFT <= {p['slo_ttft_ms']:g} ms and their own chunk-gap p99 <= "
          f"{p['slo_itl_ms']:g} ms)", file=out)
    name = lambda lv: f"rate {lv['rate']:g}/s" if rated else f"concurrency {lv['concurrency']}"
    for lv in report["levels"]:
        for e in lv["error_samples"]:
            print(f"  error at {name(lv)}: {e}", file=out)
    print("headline:", file=out)
    for lv in report["levels"]:
        label = f"rate {lv['rate']:>5.2f}/s" if rated else f"concurrency {lv['concurrency']:>3}"
        print(f"  {label}: {lv['output_tokens_per_s']:.0f} output tokens/s, "
              f"TTFT p50 {lv['ttft_ms_p50']:.0f} ms, ITL p50 {lv['itl_token_ms_p50']:.2f} ms/token, "
              f"goodput {lv['goodput_rps']:.2f} req/s ({lv['slo_met']}/{lv['requests']} within SLO), "
              f"{lv['errors']} errors", file=out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", required=True, help="server root, e.g. http://127.0.0.1:8000")
    ap.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"))
    ap.add_argument("--model", default="", help="model id (default: the first of /v1/models)")
    ap.add_argument("--api", choices=["completions", "chat"], default="completions")
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64, 128])
    ap.add_argument("--rates", type=float, nargs="+", default=[],
                    help="open loop instead: Poisson arrivals at each of these request rates (req/s), "
                         "one level per rate (--concurrency is then ignored)")
    ap.add_argument("--requests", type=int, default=0,
                    help="requests per level (default max(2c, 8); with --rates, max(20 * rate, 16))")
    ap.add_argument("--slo-ttft-ms", type=float, default=1000.0, help="goodput target: TTFT")
    ap.add_argument("--slo-itl-ms", type=float, default=50.0,
                    help="goodput target: p99 of a request's gaps between streamed chunks")
    ap.add_argument("--input-tokens", type=int, default=1024)
    ap.add_argument("--output-tokens", type=int, default=256)
    ap.add_argument("--warmup", type=int, default=8, help="warm-up requests before the sweep (0: none)")
    ap.add_argument("--processes", type=int, default=0,
                    help="client processes (default: one per 16 streams, at most the CPU count)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--json", default="", help="also write the report as JSON here")
    args = ap.parse_args(argv)
    if any(c < 1 for c in args.concurrency) or args.input_tokens < 1 or args.output_tokens < 1:
        ap.error("--concurrency, --input-tokens and --output-tokens must be positive")
    if any(r <= 0 for r in args.rates):
        ap.error("--rates must be positive")

    base = args.base_url.rstrip("/")
    model = args.model
    if not model:
        model = openai.OpenAI(base_url=base + "/v1", api_key=args.api_key).models.list().data[0].id
    cfg = {"base_url": base, "api_key": args.api_key, "model": model, "api": args.api,
           "output_tokens": args.output_tokens, "timeout": args.timeout,
           "slo_ttft_ms": args.slo_ttft_ms, "slo_itl_ms": args.slo_itl_ms}
    words, overhead = calibrate_words(cfg, args.input_tokens, args.seed)
    rng = random.Random(args.seed)
    max_c = max(args.concurrency)
    if args.rates:  # open loop: enough processes for the largest level's expected streams in flight
        max_c = max(16, math.ceil(max(args.rates) * 4))
    processes = args.processes or max(1, min(os.cpu_count() or 1, math.ceil(max_c / 16)))

    ctx = multiprocessing.get_context("fork")
    levels = []
    with ctx.Pool(processes) as pool:
        if args.warmup > 0:
            wc = min(args.warmup, max_c)
            run_level(pool, cfg, wc, args.warmup, make_prompts(rng, args.warmup, words), processes)
        for c in args.concurrency if not args.rates else []:
            n = args.requests or max(2 * c, 8)
            lv = run_level(pool, cfg, c, n, make_prompts(rng, n, words), processes)
            levels.append(lv)
            print(f"[serving_bench] concurrency {c}: {lv['completed']}/{lv['requests']} ok, "
                  f"{lv['output_tokens_per_s']:.1f} output tokens/s", file=sys.stderr, flush=True)
        for rate in args.rates:
            n = args.requests or max(round(20 * rate), 16)
            lv = run_level(pool, cfg, 0, n, make_prompts(rng, n, words), processes, rate, args.seed)
            levels.append(lv)
            print(f"[serving_bench] rate {rate:g}/s: {lv['completed']}/{lv['requests']} ok, "
                  f"goodput {lv['goodput_rps']:.2f} req/s", file=sys.stderr, flush=True)
    done = [lv for lv in levels if lv["completed"]]
    report = {
        "model": model, "client_processes": processes, "words_per_prompt": words,
        "prompt_overhead_tokens": overhead,
        "mean_prompt_tokens": (sum(lv["mean_prompt_tokens"] * lv["completed"] for lv in done) /
                               sum(lv["completed"] for lv in done)) if done else float("nan"),
        "params": {"base_url": base, "api": args.api, "concurrency": args.concurrency,
                   "rates": args.rates, "slo_ttft_ms": args.slo_ttft_ms, "slo_itl_ms": args.slo_itl_ms,
                   "requests": args.requests, "input_tokens": args.input_tokens,
                   "output_tokens": args.output_tokens, "warmup": args.warmup, "seed": args.seed},
        "levels": levels,
    }
    print_table(report)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0 if all(lv["errors"] == 0 for lv in levels) else 1


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""KV tiers benchmark (issue #22): a multi-turn workload whose working set is several times the device KV pool,
played against one or more running servers (e.g. the same model with and without `[kv]` tiers), reporting TTFT on
the turns whose prefix was evicted from the device pool.

Workload: N conversations, each over its own document of --doc-words words. Round k sends turn k of every
conversation (--concurrency at a time); turn k's prompt is the document, the earlier questions and answers, and
question k. With --working-set F (default 4) and no --conversations, N is chosen so that the documents alone
take F x the device pool (tandem_kv_blocks_capacity x --block-tokens, read from the first server's /metrics),
so by the time a conversation's next turn comes, its prefix has left the device pool: every turn > 1 is an
evicted-prefix turn, served from host or disk with tiers and recomputed without.

Per server: TTFT p50/p99 of turn 1 and of turns > 1 (streamed completions, greedy, time to the first content
chunk), the prompt tokens found cached per tier over the run (tandem_kv_tier_hit_tokens_total deltas), onboard
rates (bytes / seconds per tier), wall time. With several servers: how many answers are identical to the first
server's, and the TTFT p50 ratio of later turns, last server / first server... printed as first / each, so
"no tiers" first and "tiers" second gives the speed-up. The last two lines are the headline figures.
"""
import argparse
import concurrent.futures
import json
import re
import sys
import time

import requests


def document(conv, words):
    return f"Document {conv}: " + " ".join(f"fact{conv}_{j}" for j in range(words))


QUESTIONS = ["What is the first fact?", "And the last one?", "Which fact comes after the fifth?",
             "Summarize the document in one line.", "What does fact two say?", "Anything else?"]


def scrape(base):
    text = requests.get(base + "/metrics", timeout=10).text
    out = {}
    for m in re.finditer(r"^(tandem_[a-z_]+)(\{[^}]*\})? (\S+)$", text, re.M):
        out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def total(snapshot, name, **labels):
    s = 0.0
    for (n, lab), v in snapshot.items():
        if n != name:
            continue
        have = dict(re.findall(r'(\w+)="([^"]*)"', lab))
        if all(have.get(k) == v2 for k, v2 in labels.items()):
            s += v
    return s


def model_of(base):
    return requests.get(base + "/v1/models", timeout=10).json()["data"][0]["id"]


def stream_turn(base, model, prompt, max_tokens, ignore_eos):
    """One streamed greedy completion: (ttft seconds, text, cached tokens)."""
    body = {"model": model, "prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    if ignore_eos:
        body["ignore_eos"] = True
    t0 = time.perf_counter()
    ttft = None
    text = []
    cached = 0
    with requests.post(base + "/v1/completions", json=body, stream=True, timeout=600) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith(b"data: ") or line == b"data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            for c in chunk.get("choices", []):
                if c.get("text"):
                    if ttft is None:
                        ttft = time.perf_counter() - t0
                    text.append(c["text"])
            usage = chunk.get("usage")
            if usage:
                cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens", 0) or 0
    return (ttft if ttft is not None else time.perf_counter() - t0), "".join(text), cached


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else float("nan")


def run(base, args, conversations):
    model = args.model or model_of(base)
    before = scrape(base)
    history = [document(c, args.doc_words) for c in range(conversations)]
    answers = [[] for _ in range(conversations)]
    ttft = {1: [], 2: []}  # turn 1, turns > 1
    cached = {1: [], 2: []}
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(args.concurrency) as pool:
        for turn in range(args.turns):
            q = QUESTIONS[turn % len(QUESTIONS)]
            prompts = [f"{history[c]}\nUser: {q}\nAssistant:" for c in range(conversations)]
            results = list(pool.map(lambda p: stream_turn(base, model, p, args.max_tokens, args.ignore_eos), prompts))
            for c, (t, text, hit) in enumerate(results):
                key = 1 if turn == 0 else 2
                ttft[key].append(t)
                cached[key].append(hit)
                answers[c].append(text)
                history[c] = prompts[c] + text
    wall = time.perf_counter() - t0
    after = scrape(base)
    d = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}

    def delta(name, **labels):
        return total(d, name, **labels)

    res = {"url": base, "conversations": conversations, "turns": args.turns, "wall_s": wall,
           "turn1_p50": pct(ttft[1], 50), "turn1_p99": pct(ttft[1], 99),
           "later_p50": pct(ttft[2], 50), "later_p99": pct(ttft[2], 99),
           "later_cached_mean": sum(cached[2]) / max(1, len(cached[2])),
           "hit_tokens": {t: delta("tandem_kv_tier_hit_tokens_total", tier=t) for t in ("device", "host", "disk")},
           "onboard": {}, "answers": answers}
    for t in ("host", "disk"):
        b = delta("tandem_kv_onboarded_bytes_total", tier=t)
        s = delta("tandem_kv_onboard_seconds_total", tier=t)
        res["onboard"][t] = {"bytes": b, "seconds": s, "gb_per_s": (b / s / 1e9) if s > 0 else 0.0}
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", action="append", required=True, help="server base URL (repeat to compare)")
    ap.add_argument("--label", action="append", help="one per --url (default: the URL)")
    ap.add_argument("--model", help="model id (default: the server's first)")
    ap.add_argument("--conversations", type=int, help="default: from --working-set")
    ap.add_argument("--working-set", type=float, default=4.0, help="documents' tokens / device pool tokens")
    ap.add_argument("--block-tokens", type=int, default=16)
    ap.add_argument("--tokens-per-word", type=float, default=4.0, help="for sizing only (fact12_34 ~ 4 tokens)")
    ap.add_argument("--doc-words", type=int, default=1000)
    ap.add_argument("--turns", type=int, default=3)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--ignore-eos", action="store_true", help="fixed-length answers (random weights)")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--json", help="write the report here")
    args = ap.parse_args()
    urls = [u.rstrip("/") for u in args.url]
    labels = args.label or urls
    if len(labels) != len(urls):
        ap.error("give one --label per --url")
    conversations = args.conversations
    pool_tokens = total(scrape(urls[0]), "tandem_kv_blocks_capacity") * args.block_tokens
    if not conversations:
        doc_tokens = args.doc_words * args.tokens_per_word
        conversations = max(2, int(-(-args.working_set * pool_tokens // doc_tokens)))
    results = []
    for url, label in zip(urls, labels):
        r = run(url, args, conversations)
        r["label"] = label
        results.append(r)
    print(f"device pool: {int(pool_tokens)} tokens (first server); {conversations} conversations x {args.turns} turns, "
          f"{args.doc_words}-word documents, concurrency {args.concurrency}")
    print(f"{'server':<16} {'turn1 p50':>10} {'turn1 p99':>10} {'later p50':>10} {'later p99':>10} "
          f"{'cached/turn':>11} {'hit dev/host/disk':>22} {'host GB/s':>9} {'disk GB/s':>9} {'wall s':>7}")
    for r in results:
        h = r["hit_tokens"]
        print(f"{r['label']:<16} {r['turn1_p50'] * 1e3:>9.1f}m {r['turn1_p99'] * 1e3:>9.1f}m "
              f"{r['later_p50'] * 1e3:>9.1f}m {r['later_p99'] * 1e3:>9.1f}m {r['later_cached_mean']:>11.0f} "
              f"{h['device']:>7.0f}/{h['host']:>6.0f}/{h['disk']:>7.0f} "
              f"{r['onboard']['host']['gb_per_s']:>9.2f} {r['onboard']['disk']['gb_per_s']:>9.2f} {r['wall_s']:>7.1f}")
    same = [sum(a == b for ca, cb in zip(results[0]["answers"], r["answers"]) for a, b in zip(ca, cb))
            for r in results]
    n = sum(len(c) for c in results[0]["answers"])
    report = {"pool_tokens": pool_tokens, "conversations": conversations, "answers_total": n, "results": results,
              "same_answers": same}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    print("same answers as " + results[0]["label"] + ": " +
          ", ".join(f"{r['label']} {s}/{n}" for r, s in zip(results, same)))
    print("later-turn TTFT p50 " + results[0]["label"] + " / each: " +
          ", ".join(f"{r['label']} {results[0]['later_p50'] / r['later_p50']:.2f}x" for r in results))
    return 0


if __name__ == "__main__":
    sys.exit(main())

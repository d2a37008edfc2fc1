#!/usr/bin/env python3
"""CPU decode throughput: Tandem's CpuRunner (bench/cpu/cpu_bench) side by side
with llama.cpp (llama-cpp-python's low-level API) on the same GGUF, the same
thread count, the same prompts, in one run.

For each batch size B (default 1 and 8): B sequences are prefilled with
--prompt-tokens tokens, then --decode-tokens greedy decode steps run, each
decoding one token of every sequence in one batched call (llama_decode with B
sequence ids; CpuRunner::step with B sequences). Reported: aggregate decode
tokens/s, median over --repeats runs. Prefill is not timed.

Usage: .venv/bin/python bench/cpu/bench_cpu.py --cpu-bench build/bench/cpu/cpu_bench
           [--model PATH] [--threads 2] [--batches 1,8] [--prompt-tokens 64]
           [--decode-tokens 64] [--repeats 3]
"""
import argparse
import ctypes
import os
import re
import statistics
import subprocess
import time

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def prompt_id(seq, k, vocab):
    # Same formula as cpu_bench.cpp.
    return (k * 7919 + seq * 104729 + 17) % vocab


def run_tandem(args):
    out = subprocess.run([args.cpu_bench, "--model", args.model, "--threads", str(args.threads),
                          "--batches", args.batches, "--prompt-tokens", str(args.prompt_tokens),
                          "--decode-tokens", str(args.decode_tokens), "--repeats", str(args.repeats)],
                         check=True, capture_output=True, text=True).stdout
    return {int(b): float(t) for b, t in re.findall(r"RESULT batch=(\d+) tokens_per_s=([\d.]+)", out)}


def run_llamacpp(args):
    import llama_cpp as L

    L.llama_backend_init()
    batches = [int(b) for b in args.batches.split(",")]
    max_b = max(batches)
    per_seq = args.prompt_tokens + args.decode_tokens + 16
    mp = L.llama_model_default_params()
    model = L.llama_model_load_from_file(args.model.encode(), mp)
    cp = L.llama_context_default_params()
    cp.n_ctx = per_seq * max_b
    cp.n_batch = max(args.prompt_tokens, max_b)
    cp.n_ubatch = cp.n_batch
    cp.n_seq_max = max_b
    cp.n_threads = args.threads
    cp.n_threads_batch = args.threads
    ctx = L.llama_init_from_model(model, cp)
    vocab = L.llama_vocab_n_tokens(L.llama_model_get_vocab(model))
    batch = L.llama_batch_init(cp.n_batch, 0, max_b)

    def submit(items):
        """items: (token, pos, seq); returns logits rows of every item."""
        batch.n_tokens = 0
        for i, (tok, pos, seq) in enumerate(items):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = True
            batch.n_tokens = i + 1
        if L.llama_decode(ctx, batch) != 0:
            raise RuntimeError("llama_decode failed")
        return [np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, i), shape=(vocab,)) for i in range(len(items))]

    results = {}
    for B in batches:
        rates = []
        for _ in range(args.repeats):
            L.llama_memory_clear(L.llama_get_memory(ctx), True)
            last = []
            for s in range(B):
                batch.n_tokens = 0
                for k in range(args.prompt_tokens):
                    batch.token[k] = prompt_id(s, k, vocab)
                    batch.pos[k] = k
                    batch.n_seq_id[k] = 1
                    batch.seq_id[k][0] = s
                    batch.logits[k] = k == args.prompt_tokens - 1
                batch.n_tokens = args.prompt_tokens
                if L.llama_decode(ctx, batch) != 0:
                    raise RuntimeError("llama_decode failed (prefill)")
                last.append(int(np.argmax(np.ctypeslib.as_array(L.llama_get_logits_ith(ctx, -1), shape=(vocab,)))))
            t0 = time.perf_counter()
            for d in range(args.decode_tokens):
                rows = submit([(last[s], args.prompt_tokens + d, s) for s in range(B)])
                last = [int(np.argmax(r)) for r in rows]
            rates.append(B * args.decode_tokens / (time.perf_counter() - t0))
        results[B] = statistics.median(rates)
    L.llama_batch_free(batch)
    L.llama_free(ctx)
    L.llama_model_free(model)
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cpu-bench", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--prompt-tokens", type=int, default=64)
    ap.add_argument("--decode-tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if args.model is None:
        args.model = subprocess.check_output([os.path.join(ROOT, "scripts", "fetch_model")], text=True).strip()
    # Interleave the two engines so both see the same machine conditions.
    tandem, llama = {}, {}
    for r in range(args.repeats):
        one = argparse.Namespace(**{**vars(args), "repeats": 1})
        for b, v in run_tandem(one).items():
            tandem.setdefault(b, []).append(v)
        for b, v in run_llamacpp(one).items():
            llama.setdefault(b, []).append(v)
    print(f"model {os.path.basename(args.model)}, {args.threads} threads, prompt {args.prompt_tokens}, "
          f"decode {args.decode_tokens}, median of {args.repeats}")
    print(f"{'batch':>6} {'tandem tok/s':>14} {'llama.cpp tok/s':>16} {'ratio':>7}")
    for b in sorted(tandem):
        t, l = statistics.median(tandem[b]), statistics.median(llama[b])
        print(f"{b:>6} {t:>14.1f} {l:>16.1f} {t / l:>7.2f}")


if __name__ == "__main__":
    main()

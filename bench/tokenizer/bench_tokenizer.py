#!/usr/bin/env python3
"""Tokenizer encode throughput: Tandem (tools/tokenize_cli bench) against
Hugging Face `tokenizers`, single-threaded, same vocabulary, on the reference
corpus (tests/reference/tokenizer/make_corpus.py, 1.1 MB) in two shapes:
"document" = the corpus as one document, "lines" = each of its ~4.8k lines
encoded as its own document, one after the other (batch of one).

    TANDEM_BUILD_DIR=build python3 bench/tokenizer/bench_tokenizer.py [--repeat 7] [VOCAB...]

HF runs with RAYON_NUM_THREADS=1 and TOKENIZERS_PARALLELISM=false in this
process; both sides encode without special tokens. Prints one table; the last
line is the headline (geometric mean of the speed ratios).
"""
import os

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import math  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "reference" / "tokenizer"))
import vocabularies  # noqa: E402

BYTE_LEVEL = ["smollm2_gguf", "qwen2", "llama3", "deepseek_v3", "mistral_v1_json"]


def main():
    args = sys.argv[1:]
    repeat = 7
    if "--repeat" in args:
        i = args.index("--repeat")
        repeat = int(args[i + 1])
        del args[i:i + 2]
    names = args or BYTE_LEVEL
    cli = vocabularies.BUILD / "tests" / "tools" / "tokenize_cli"
    corpus_path = vocabularies.CACHE / "corpus.txt"
    vocabularies.CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(HERE.parents[1] / "tests/reference/tokenizer/make_corpus.py"),
                    str(corpus_path)], check=True)
    text = corpus_path.read_bytes().decode("utf-8")  # keep CRLF as is
    mb = len(text.encode()) / 1e6
    rows = []
    for name in names:
        v = vocabularies.load(name)
        v.hf.encode_special_tokens = True
        lines = text.split("\n")
        if lines[-1] == "":
            lines.pop()
        for shape, docs, flags in (("document", [text], []), ("lines", lines, ["--lines"])):
            hf_times = []
            n_hf = 0
            for _ in range(repeat):
                t0 = time.perf_counter()
                n_hf = sum(len(v.hf.encode(d, add_special_tokens=False).ids) for d in docs)
                hf_times.append(time.perf_counter() - t0)
            out = subprocess.run(["taskset", "-c", "0", str(cli), "bench", str(v.tandem_path), str(corpus_path),
                                  "--repeat", str(repeat), *flags],
                                 check=True, capture_output=True, text=True).stdout.split()
            kv = dict(zip(out[::2], out[1::2]))
            ours = float(kv["median_s"])
            hf = statistics.median(hf_times)
            assert int(kv["tokens"]) == n_hf, f"{name}: token counts differ ({kv['tokens']} vs {n_hf})"
            rows.append((f"{name} {shape}", n_hf, hf, ours))
    print(f"corpus {mb:.2f} MB, median of {repeat} runs, one thread, one document")
    print(f"{'vocabulary, shape':<28}{'tokens':>9}{'HF s':>9}{'HF MB/s':>9}{'Tandem s':>10}{'Tandem MB/s':>13}"
          f"{'speedup':>9}")
    for name, n, hf, ours in rows:
        print(f"{name:<28}{n:>9}{hf:>9.3f}{mb / hf:>9.2f}{ours:>10.3f}{mb / ours:>13.2f}{hf / ours:>8.2f}x")
    gm = math.exp(sum(math.log(hf / ours) for _, _, hf, ours in rows) / len(rows))
    print(f"headline: Tandem encodes {gm:.2f}x as fast as HF tokenizers (geometric mean over {len(rows)} vocabulary x shape runs; slowest ratio {min(hf / o for _, _, hf, o in rows):.2f}x)")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Regenerates the llama.cpp reference fixtures for the CPU runner.

Runs llama.cpp (PyPI `llama-cpp-python`, which builds llama.cpp from source:
`CMAKE_ARGS="-DGGML_NATIVE=OFF" .venv/bin/pip install llama-cpp-python`) on the
demo GGUF and records, for each prompt below:
  - the token ids from llama.cpp's own tokenizer (so the test does not depend
    on ours),
  - at every position (logits_all): the top-K token ids and logits, the L2
    norm of the logits row,
  - the full logits row at the last prompt position,
  - the greedy continuation of GENERATE tokens, with the same per-position
    summaries for the continuation rows;
and the same summaries (no full rows) from an exact float64 forward pass over
the same dequantized weights (gguf_numpy_reference.py, gguf-py + numpy), which
test_cpu_vs_gguf_exact.py uses as the tight reference (llama.cpp's own
activation quantization makes it a loose one).
Output: fixtures/smollm2_q4_1.json (ids, generation, metadata) and
fixtures/smollm2_q4_1.npz (float arrays), a few hundred KB to ~2 MB.

Usage: .venv/bin/python tests/reference/llamacpp/make_fixtures.py [--model PATH] [--threads N]
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from fixture_common import GENERATE, TOP_K, model_path, parse_args, sha256, summarize, write_fixture  # noqa: E402

LONG_TEXT = (
    "The history of computing is a story of layers. At the bottom are transistors, switching on and off "
    "billions of times per second; above them sit logic gates, then arithmetic units, registers and caches. "
    "Instruction sets hide the circuits from the programmer, operating systems hide the devices from the "
    "application, and languages hide the machine from the idea. Each layer is a promise: if you follow these "
    "rules, the layer below will do what you mean. Most of the time the promise holds. When it does not, an "
    "engineer has to peel the layers back one at a time, reading documentation that was written for a "
    "different era, measuring what the hardware actually does, and comparing it with what the specification "
    "says it should do. Caches are a good example. A program that walks through memory in order runs many "
    "times faster than one that jumps around, even though both perform the same number of loads. The "
    "difference is invisible in the source code and obvious in a profiler. Large language models add a new "
    "layer on top of all this: a function from text to text, learned rather than written, whose behaviour is "
    "specified by examples instead of rules. Serving such a model efficiently means caring about every layer "
    "at once, from the order in which weights are read out of memory to the way requests from many users are "
    "packed into a single batch. The engineers who build these systems spend their days moving between "
    "levels of abstraction, and the best of them never forget that each level is only a promise."
)

PROMPTS = [
    ("one_token", "Hello"),
    ("short_question", "What is the capital of France?"),
    ("chat_template",
     "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
     "<|im_start|>user\nWrite a haiku about the sea.<|im_end|>\n<|im_start|>assistant\n"),
    ("code", "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    if n < 2:\n        return n\n"),
    ("list", "Shopping list:\n1. apples\n2. bread\n3. milk\n4."),
    ("unicode", "Voilà un café très agréable à Zürich — 東京 also has great coffee. Ça va?"),
    ("numbers", "The first ten prime numbers are 2, 3, 5, 7, 11, 13, 17, 19, 23, and"),
    ("medium_story", "Once upon a time, in a small village at the edge of a vast forest, there lived an old "
     "clockmaker who had never once been late. Every morning he opened his shop at exactly seven o'clock, and "
     "every evening he"),
    ("long_essay", LONG_TEXT),
]


def main():
    args = parse_args()
    model = model_path(args.model)

    import llama_cpp
    from llama_cpp import Llama

    sys.path.insert(0, HERE)
    from gguf_numpy_reference import GgufReference

    exact = GgufReference(model)

    llm = Llama(model_path=model, n_ctx=1024, n_batch=512, n_threads=args.threads,
                n_threads_batch=args.threads, logits_all=True, verbose=False)
    meta = {
        "model_file": os.path.basename(model),
        "model_sha256": sha256(model),
        "llama_cpp_python": llama_cpp.__version__,
        "top_k": TOP_K,
        "generate": GENERATE,
        "prompts": [],
    }
    arrays = {}
    for i, (name, text) in enumerate(PROMPTS):
        ids = llm.tokenize(text.encode("utf-8"), add_bos=False, special=True)
        llm.reset()
        llm.eval(ids)
        n = len(ids)
        prompt_rows = np.array(llm.scores[:n], dtype=np.float32)
        gen, gen_rows = [], []
        tok = int(np.argmax(prompt_rows[-1]))
        for step in range(GENERATE):
            gen.append(tok)
            if step == GENERATE - 1:
                break
            llm.eval([tok])
            row = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            gen_rows.append(row)
            tok = int(np.argmax(row))
        rows = np.concatenate([prompt_rows, np.array(gen_rows, dtype=np.float32)], axis=0)
        top_ids, top_logits, norms = summarize(rows)
        arrays[f"p{i}_top_ids"] = top_ids
        arrays[f"p{i}_top_logits"] = top_logits
        arrays[f"p{i}_norms"] = norms
        arrays[f"p{i}_last_row"] = prompt_rows[-1]
        exact_rows, exact_gen = exact.greedy(ids, GENERATE)
        top_ids, top_logits, norms = summarize(exact_rows)
        arrays[f"exact_p{i}_top_ids"] = top_ids
        arrays[f"exact_p{i}_top_logits"] = top_logits
        arrays[f"exact_p{i}_norms"] = norms
        meta["prompts"].append({"name": name, "text": text, "ids": [int(t) for t in ids], "generated": gen,
                                "exact_generated": exact_gen})
        print(f"{name}: {n} tokens, continuation {llm.detokenize(gen)[:60]!r}, "
              f"exact continuation {'same' if exact_gen == gen else 'differs'}", file=sys.stderr)

    write_fixture(os.path.join(HERE, "fixtures"), "smollm2_q4_1", meta, arrays)


if __name__ == "__main__":
    main()

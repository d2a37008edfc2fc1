#!/usr/bin/env python3
"""Regenerates the Hugging Face transformers reference fixtures for the CPU runner.

Needs (not in CI; CI only reads the fixtures): torch (CPU is enough),
transformers and gguf: `.venv/bin/pip install torch transformers gguf`.
transformers loads the demo GGUF through gguf-py, dequantizes every tensor to
float32 and runs its own Llama forward pass in float32 - an implementation
independent of ours and of llama.cpp's kernels.

The prompts are the token ids of the llama.cpp fixtures
(tests/reference/llamacpp/fixtures/smollm2_q4_1.json), reused as is, so
tokenization is not part of this comparison. For each prompt it records:
  - at every prompt position and every continuation position (the row from
    which the next greedy token was chosen): the top-K token ids (best first),
    their logits and the L2 norm of the full logits row;
  - the greedy continuation of GENERATE tokens (argmax, first index on ties),
    each step recomputed with a full forward pass over prompt + tokens so far
    (no KV cache, so the reference has no cache logic of its own to get wrong);
and the transformers / torch / gguf / numpy versions.
Output: fixtures/smollm2_q4_1_hf.json and fixtures/smollm2_q4_1_hf.npz (~200 KB).

Usage: .venv/bin/python tests/reference/transformers/make_fixtures.py [--model PATH] [--threads N]
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from fixture_common import (GENERATE, ROOT, TOP_K, model_path, parse_args, sha256, summarize,  # noqa: E402
                            write_fixture)

LLAMACPP_FIXTURE = os.path.join(ROOT, "tests", "reference", "llamacpp", "fixtures", "smollm2_q4_1.json")


def main():
    args = parse_args()
    model_file = model_path(args.model)

    import gguf
    import torch
    import transformers
    from transformers import AutoModelForCausalLM

    torch.set_num_threads(args.threads)
    # transformers >= 4.56 calls it `dtype` (`torch_dtype` is the deprecated alias).
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(model_file), gguf_file=os.path.basename(model_file),
                                                 dtype=torch.float32)
    model.eval()
    assert next(model.parameters()).dtype == torch.float32

    def forward(ids):
        with torch.no_grad():
            out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
        return out.logits[0].to(torch.float32).numpy()

    with open(LLAMACPP_FIXTURE) as f:
        llama_meta = json.load(f)
    meta = {
        "model_file": os.path.basename(model_file),
        "model_sha256": sha256(model_file),
        "prompts_from": os.path.relpath(LLAMACPP_FIXTURE, ROOT),
        "versions": {"transformers": transformers.__version__, "torch": torch.__version__,
                     "gguf": getattr(gguf, "__version__", None) or _dist_version("gguf"), "numpy": np.__version__,
                     "python": sys.version.split()[0]},
        "dtype": "float32",
        "attn_implementation": getattr(model.config, "_attn_implementation", None),
        "top_k": TOP_K,
        "generate": GENERATE,
        "prompts": [],
    }
    arrays = {}
    for i, p in enumerate(llama_meta["prompts"]):
        ids = [int(t) for t in p["ids"]]
        rows = [forward(ids)]  # every prompt position
        gen = [int(np.argmax(rows[0][-1]))]
        for _ in range(GENERATE - 1):
            row = forward(ids + gen)[-1]
            rows.append(row[None, :])
            gen.append(int(np.argmax(row)))
        rows = np.concatenate(rows, axis=0)
        assert rows.shape[0] == len(ids) + GENERATE - 1
        top_ids, top_logits, norms = summarize(rows)
        arrays[f"p{i}_top_ids"] = top_ids
        arrays[f"p{i}_top_logits"] = top_logits
        arrays[f"p{i}_norms"] = norms
        meta["prompts"].append({"name": p["name"], "ids": ids, "generated": gen})
        same = "same as" if gen == p.get("exact_generated") else "differs from"
        print(f"{p['name']}: {len(ids)} tokens, continuation {same} the float64 gguf pass", file=sys.stderr)

    write_fixture(os.path.join(HERE, "fixtures"), "smollm2_q4_1_hf", meta, arrays)


def _dist_version(name):
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()

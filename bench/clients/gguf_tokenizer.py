#!/usr/bin/env python3
"""Writes the Hugging Face tokenizer embedded in a GGUF file into a directory.

    gguf_tokenizer.py MODEL.gguf OUT_DIR

transformers reads the GGUF's tokenizer.ggml.* metadata (vocabulary, merges, special tokens, chat
template) through the `gguf` package; save_pretrained writes tokenizer.json, tokenizer_config.json and
chat_template.jinja, which guidellm (--tokenizer model=DIR) and aiperf (--tokenizer DIR) load. Prints
the token count of a fixed sentence, to compare with the server's usage.prompt_tokens for that text.
"""
import os
import sys

SAMPLE = "The quick brown fox jumps over the lazy dog."


def export(gguf_path: str, out_dir: str) -> str:
    from transformers import AutoTokenizer

    gguf_path = os.path.abspath(gguf_path)
    tok = AutoTokenizer.from_pretrained(os.path.dirname(gguf_path), gguf_file=os.path.basename(gguf_path))
    os.makedirs(out_dir, exist_ok=True)
    tok.save_pretrained(out_dir)
    n = len(tok(SAMPLE, add_special_tokens=False)["input_ids"])
    return f"tokenizer from {os.path.basename(gguf_path)}: vocab {len(tok)}, '{SAMPLE}' -> {n} tokens, in {out_dir}"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    print(export(sys.argv[1], sys.argv[2]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Writes the seed corpora of tests/fuzz/gguf_fuzz.cpp and
tests/fuzz/safetensors_fuzz.cpp: small valid files (made with gguf-py's
GGUFWriter and numpy) and broken variants (truncations, bad magic, absurd
counts, bad offsets, bad JSON). Every file stays under 4 KB.

Usage: .venv/bin/python tests/fuzz/corpus/make_loader_corpora.py
"""
import io
import json
import struct
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter
from gguf.quants import quantize

HERE = Path(__file__).resolve().parent
LIMIT = 4096


def gguf_bytes(build):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "f.gguf"
        w = GGUFWriter(str(path), "llama")
        build(w)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        return path.read_bytes()


def tiny_llama(w, qtype=None):
    h, heads, kv, hd, inter, vocab = 32, 2, 1, 2, 4, 4
    w.add_block_count(1)
    w.add_context_length(64)
    w.add_embedding_length(h)
    w.add_feed_forward_length(inter)
    w.add_head_count(heads)
    w.add_head_count_kv(kv)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_tokenizer_model("gpt2")
    w.add_token_list(["a", "b", "c"])
    w.add_token_scores([0.0, -1.0, -2.0])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template("{{ x }}")
    rng = np.random.default_rng(0)

    def t(name, shape):
        x = rng.standard_normal(shape).astype(np.float32)
        if qtype is not None and len(shape) == 2 and shape[1] % 32 == 0:
            w.add_tensor(name, quantize(x, qtype), raw_dtype=qtype)
        else:
            w.add_tensor(name, x.astype(np.float16) if len(shape) == 2 else x)

    t("token_embd.weight", (vocab, h))
    t("output_norm.weight", (h,))
    t("blk.0.attn_norm.weight", (h,))
    t("blk.0.attn_q.weight", (heads * hd, h))
    t("blk.0.attn_k.weight", (kv * hd, h))
    t("blk.0.attn_v.weight", (kv * hd, h))
    t("blk.0.attn_output.weight", (h, heads * hd))
    t("blk.0.ffn_norm.weight", (h,))
    t("blk.0.ffn_gate.weight", (inter, h))
    t("blk.0.ffn_up.weight", (inter, h))
    t("blk.0.ffn_down.weight", (h, inter))


def metadata_only(w):
    w.add_custom_alignment(64)
    w.add_uint8("a.u8", 7)
    w.add_int64("a.i64", -5)
    w.add_float64("a.f64", 2.5)
    w.add_bool("a.b", True)
    w.add_array("a.nested", [["x", "y"], ["z"]])
    w.add_array("a.ints", [1, 2, 3])
    w.add_tensor("t", np.arange(8, dtype=np.float32))


def gguf_corpus():
    out = {}
    base = gguf_bytes(tiny_llama)
    out["llama_f16.gguf"] = base
    out["llama_q8_0.gguf"] = gguf_bytes(lambda w: tiny_llama(w, Q.Q8_0))
    out["llama_q4_1.gguf"] = gguf_bytes(lambda w: tiny_llama(w, Q.Q4_1))
    meta = gguf_bytes(metadata_only)
    out["metadata_types.gguf"] = meta
    out["v2.gguf"] = meta[:4] + struct.pack("<I", 2) + meta[8:]
    out["v1.gguf"] = meta[:4] + struct.pack("<I", 1) + meta[8:]
    out["big_endian.gguf"] = meta[:4] + struct.pack(">I", 3) + meta[8:]
    out["bad_magic.gguf"] = b"GGUG" + meta[4:]
    out["huge_kv_count.gguf"] = meta[:16] + struct.pack("<Q", 1 << 62) + meta[24:]
    out["huge_tensor_count.gguf"] = meta[:8] + struct.pack("<Q", 1 << 62) + meta[16:]
    for frac in (0.1, 0.3, 0.5, 0.7, 0.9):
        out[f"truncated_{int(frac * 100)}.gguf"] = base[: int(len(base) * frac)]
    # Corrupt the first key's string length.
    out["huge_key_len.gguf"] = meta[:24] + struct.pack("<Q", 1 << 60) + meta[32:]
    # Flip bytes across the header area.
    for i, pos in enumerate((30, 60, 90, 150, 250, 400)):
        b = bytearray(meta)
        if pos < len(b):
            b[pos] ^= 0xFF
            out[f"flip_{i}.gguf"] = bytes(b)
    return out


def st_bytes(header, data):
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_corpus():
    out = {}
    data = np.arange(6, dtype=np.float32).tobytes() + np.arange(4, dtype=np.float16).tobytes()
    good = {"__metadata__": {"format": "pt"},
            "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]},
            "b": {"dtype": "F16", "shape": [4], "data_offsets": [24, 32]}}
    base = st_bytes(good, data)
    out["valid.safetensors"] = base
    out["bf16.safetensors"] = st_bytes({"w": {"dtype": "BF16", "shape": [2, 2], "data_offsets": [0, 8]}}, bytes(8))
    out["empty_header.safetensors"] = st_bytes({}, b"")
    out["short.safetensors"] = base[:5]
    out["huge_header_len.safetensors"] = struct.pack("<Q", 1 << 40) + base[8:]
    out["not_json.safetensors"] = struct.pack("<Q", 5) + b"{abc]" + data
    out["array_root.safetensors"] = st_bytes([1, 2], b"")
    out["deep.safetensors"] = struct.pack("<Q", 200) + b"[" * 100 + b"]" * 100
    bad_entries = {
        "unknown_dtype": {"dtype": "F4", "shape": [1], "data_offsets": [0, 1]},
        "negative_shape": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]},
        "float_shape": {"dtype": "F32", "shape": [1.5], "data_offsets": [0, 4]},
        "offsets_reversed": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]},
        "offsets_beyond": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4000]},
        "size_mismatch": {"dtype": "F32", "shape": [3], "data_offsets": [0, 4]},
        "overflow_shape": {"dtype": "F32", "shape": [2**62, 2**62], "data_offsets": [0, 4]},
        "missing_offsets": {"dtype": "F32", "shape": [1]},
    }
    for name, entry in bad_entries.items():
        out[f"{name}.safetensors"] = st_bytes({"t": entry}, bytes(32))
    for frac in (0.2, 0.5, 0.8, 0.95):
        out[f"truncated_{int(frac * 100)}.safetensors"] = base[: int(len(base) * frac)]
    return out


def main():
    for target, files in (("gguf_fuzz", gguf_corpus()), ("safetensors_fuzz", safetensors_corpus())):
        d = HERE / target
        d.mkdir(exist_ok=True)
        for name, content in files.items():
            assert len(content) < LIMIT, f"{name} is {len(content)} bytes"
            (d / name).write_bytes(content)
        print(f"{target}: {len(files)} files")


if __name__ == "__main__":
    main()

"""Shared helpers for the loader reference tests: the loader_dump driver
(tests/tools/loader_dump.cpp) and small GGUF / Hugging Face checkpoint
builders that use gguf-py and numpy as independent references."""
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf", reason="gguf (gguf-py) is required: pip install gguf")

REPO = Path(__file__).resolve().parents[3]
BUILD_DIR = Path(os.environ.get("TANDEM_BUILD_DIR", REPO / "build"))
DEMO_MODEL = REPO / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def tool_path() -> Path:
    p = BUILD_DIR / "tests" / "tools" / "loader_dump"
    if not p.exists():
        pytest.fail(f"{p} is not built (build target loader_dump, or set TANDEM_BUILD_DIR)")
    return p


def run_tool(*args, check=True):
    proc = subprocess.run([str(tool_path()), *map(str, args)], capture_output=True, text=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"loader_dump {' '.join(map(str, args))} failed ({proc.returncode}): {proc.stderr}")
    return proc


def load(path, out_dir, dtype="f32"):
    """Runs load_model; returns (model.json dict, {hf name: np.ndarray})."""
    run_tool("load", path, out_dir, dtype)
    meta = json.loads((Path(out_dir) / "model.json").read_text())
    tensors = {}
    for name, info in meta["tensors"].items():
        raw = np.fromfile(Path(out_dir) / f"{name}.bin", dtype=np.float32 if info["dtype"] == "f32" else np.uint16)
        tensors[name] = raw.reshape(info["shape"])
    return meta, tensors


def expect_error(args, kind, *needles):
    """Runs the tool, expects exit 2 with `error: <kind>:` naming each needle."""
    proc = run_tool(*args, check=False)
    assert proc.returncode == 2, f"expected failure, got {proc.returncode}: {proc.stdout[:200]} {proc.stderr}"
    assert proc.stderr.startswith(f"error: {kind}:"), proc.stderr
    for n in needles:
        assert n in proc.stderr, f"{n!r} not in {proc.stderr!r}"
    return proc.stderr


def f32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """Round-to-nearest-even float32 -> bfloat16 bits (as torch does), NaN kept NaN."""
    b = x.astype(np.float32).view(np.uint32).astype(np.uint64)
    rounded = ((b + 0x7FFF + ((b >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    rounded[nan] = ((b[nan] >> 16) | 0x40).astype(np.uint16)
    return rounded


def bf16_bits_to_f32(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32)


def llama_permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp convert_hf_to_gguf.py's LlamaModel.permute (published formula):
    rows of each head reordered from rotate-half to interleaved pairs."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama_unpermute(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of llama_permute, written independently of the C++ code."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


# Small model shape used by the builders.
SHAPE = dict(n_layers=2, hidden=64, n_heads=4, n_kv_heads=2, head_dim=16, intermediate=96, vocab=80)


def random_hf_weights(rng, *, qkv_bias=False, qk_norm=False, tied=True, shape=SHAPE):
    """A dict of HF tensor name -> float32 array for a tiny Llama-family model."""
    h, nh, nkv, hd, inter, v = (shape[k] for k in ("hidden", "n_heads", "n_kv_heads", "head_dim", "intermediate", "vocab"))
    w = {"model.embed_tokens.weight": rng.standard_normal((v, h)), "model.norm.weight": rng.standard_normal(h)}
    if not tied:
        w["lm_head.weight"] = rng.standard_normal((v, h))
    for i in range(shape["n_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = rng.standard_normal(h)
        w[p + "self_attn.q_proj.weight"] = rng.standard_normal((nh * hd, h))
        w[p + "self_attn.k_proj.weight"] = rng.standard_normal((nkv * hd, h))
        w[p + "self_attn.v_proj.weight"] = rng.standard_normal((nkv * hd, h))
        w[p + "self_attn.o_proj.weight"] = rng.standard_normal((h, nh * hd))
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = rng.standard_normal(nh * hd)
            w[p + "self_attn.k_proj.bias"] = rng.standard_normal(nkv * hd)
            w[p + "self_attn.v_proj.bias"] = rng.standard_normal(nkv * hd)
        if qk_norm:
            w[p + "self_attn.q_norm.weight"] = rng.standard_normal(hd)
            w[p + "self_attn.k_norm.weight"] = rng.standard_normal(hd)
        w[p + "post_attention_layernorm.weight"] = rng.standard_normal(h)
        w[p + "mlp.gate_proj.weight"] = rng.standard_normal((inter, h))
        w[p + "mlp.up_proj.weight"] = rng.standard_normal((inter, h))
        w[p + "mlp.down_proj.weight"] = rng.standard_normal((h, inter))
    return {k: v.astype(np.float32) for k, v in w.items()}


HF_TO_GGUF = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}


def gguf_name(hf: str) -> str:
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    _, _, layer, rest = hf.split(".", 3)
    return f"blk.{layer}.{HF_TO_GGUF[rest]}"


def write_gguf_model(path, arch, weights, *, shape=SHAPE, permute=None, extra_kv=None, extra_tensors=None,
                     version=None, qtype=None):
    """Writes `weights` (HF names, float32) as a GGUF file the way llama.cpp's
    converter does: llama-arch Q/K permuted (unless permute=False), metadata
    under `<arch>.*`, 2-D weights quantized to `qtype` with gguf-py when given.
    Returns {hf name: float32 array the loader must produce} (gguf-py's
    dequantization of what was written, un-permuted with numpy)."""
    if permute is None:
        permute = arch == "llama"
    w = gguf.GGUFWriter(str(path), arch)
    w.add_block_count(shape["n_layers"])
    w.add_context_length(4096)
    w.add_embedding_length(shape["hidden"])
    w.add_feed_forward_length(shape["intermediate"])
    w.add_head_count(shape["n_heads"])
    w.add_head_count_kv(shape["n_kv_heads"])
    w.add_key_length(shape["head_dim"])
    w.add_value_length(shape["head_dim"])
    w.add_rope_freq_base(50000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_chat_template("{{ messages }}")
    for k, (val, vtype) in (extra_kv or {}).items():
        w.add_key_value(k, val, vtype)
    expected = {}
    for hf, arr in weights.items():
        data = arr
        heads = None
        if permute and (hf.endswith("q_proj.weight") or hf.endswith("q_proj.bias")):
            heads = shape["n_heads"]
        elif permute and (hf.endswith("k_proj.weight") or hf.endswith("k_proj.bias")):
            heads = shape["n_kv_heads"]
        if heads:
            data = llama_permute(arr, heads)
        data = np.ascontiguousarray(data)
        if qtype is not None and data.ndim == 2:
            q = gguf.quants.quantize(data, qtype)
            w.add_tensor(gguf_name(hf), q, raw_dtype=qtype)
            stored = gguf.quants.dequantize(q, qtype).reshape(data.shape)
        else:
            w.add_tensor(gguf_name(hf), data)
            stored = data
        expected[hf] = llama_unpermute(stored, heads) if heads else stored
    for name, arr in (extra_tensors or {}).items():
        w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    if version is not None:
        raw = bytearray(Path(path).read_bytes())
        raw[4:8] = int(version).to_bytes(4, "little")
        Path(path).write_bytes(bytes(raw))
    return expected

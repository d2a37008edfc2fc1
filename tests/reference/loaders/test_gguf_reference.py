"""GGUF reader, dequantizers and GGUF model loading compared with gguf-py
(the `gguf` PyPI package: GGUFWriter, GGUFReader, gguf.quants) and numpy."""
import json
import subprocess

import numpy as np
import pytest
from gguf import GGMLQuantizationType as Q
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

from conftest import (DEMO_MODEL, REPO, SHAPE, expect_error, f32_to_bf16_bits, llama_unpermute, load,
                      random_hf_weights, run_tool, write_gguf_model)

ALL_TYPES = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q5_K, Q.Q6_K]
QUANTIZABLE = [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1]  # gguf-py has quantizers for these
# Byte offsets of the f16 scale fields inside one block, per type.
SCALE_FIELDS = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q4_K: [0, 2], Q.Q5_K: [0, 2], Q.Q6_K: [208]}


def write_single(path, name, data, qtype):
    w = GGUFWriter(str(path), "test")
    if data.dtype == np.uint8:
        w.add_tensor(name, data, raw_dtype=qtype)
    else:
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def assert_same_floats(got: np.ndarray, want: np.ndarray):
    """Bit-identical, except that any NaN matches any NaN."""
    assert got.shape == want.shape
    nan_g, nan_w = np.isnan(got), np.isnan(want)
    np.testing.assert_array_equal(nan_g, nan_w)
    g, w = got[~nan_g], want[~nan_w]
    bad = np.flatnonzero(g.view(np.uint32) != w.view(np.uint32))
    assert bad.size == 0, f"{bad.size} of {g.size} differ; first: got {g[bad[0]]!r} want {w[bad[0]]!r}"


def dequant_via_tool(tmp_path, path, name, dtype):
    out = tmp_path / f"{name}.{dtype}"
    run_tool("tensor", path, name, out, dtype)
    return np.fromfile(out, dtype=np.float32 if dtype == "f32" else np.uint16)


def check_both_dtypes(tmp_path, path, name, want_f32):
    got = dequant_via_tool(tmp_path, path, name, "f32")
    assert_same_floats(got, want_f32.ravel())
    got_bf16 = dequant_via_tool(tmp_path, path, name, "bf16")
    want_bf16 = f32_to_bf16_bits(want_f32.ravel())
    nan = np.isnan(want_f32.ravel())
    np.testing.assert_array_equal(got_bf16[~nan], want_bf16[~nan])
    assert np.all((got_bf16[nan] & 0x7FFF) > 0x7F80)


@pytest.mark.parametrize("qtype", QUANTIZABLE, ids=lambda t: t.name)
def test_quantized_with_gguf_py_dequantizes_identically(tmp_path, qtype):
    rng = np.random.default_rng(int(qtype) + 1)
    x = (rng.standard_normal((6, 512)) * rng.uniform(0.01, 10, (6, 1))).astype(np.float32)
    q = quantize(x, qtype)
    path = tmp_path / "q.gguf"
    write_single(path, "w", q if q.dtype == np.uint8 else q, qtype)
    want = dequantize(q, qtype).reshape(x.shape).astype(np.float32)
    check_both_dtypes(tmp_path, path, "w", want)


@pytest.mark.parametrize("qtype", ALL_TYPES, ids=lambda t: t.name)
def test_random_blocks_dequantize_identically(tmp_path, qtype):
    rng = np.random.default_rng(100 + int(qtype))
    block, type_size = GGML_QUANT_SIZES[qtype]
    rows, cols = 5, 1024
    raw = rng.integers(0, 256, size=(rows, cols // block * type_size), dtype=np.uint8)
    if qtype in SCALE_FIELDS:  # finite, varied scales so values are meaningful
        blocks = raw.reshape(-1, type_size)
        for off in SCALE_FIELDS[qtype]:
            scales = rng.uniform(-2, 2, blocks.shape[0]).astype(np.float16)
            blocks[:, off:off + 2] = scales.view(np.uint8).reshape(-1, 2)
    path = tmp_path / "r.gguf"
    write_single(path, "w", raw, qtype)
    want = dequantize(raw, qtype).reshape(rows, cols).astype(np.float32)
    check_both_dtypes(tmp_path, path, "w", want)


def test_metadata_of_every_value_type_matches_gguf_py(tmp_path):
    path = tmp_path / "meta.gguf"
    w = GGUFWriter(str(path), "llama")
    w.add_custom_alignment(64)
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -120)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -32000)
    w.add_uint32("t.u32", 4_000_000_000)
    w.add_int32("t.i32", -2_000_000_000)
    w.add_float32("t.f32", 0.1)
    w.add_uint64("t.u64", 2**63 + 5)
    w.add_int64("t.i64", -(2**62))
    w.add_float64("t.f64", 1e300)
    w.add_bool("t.bool", True)
    w.add_string("t.str", "héllo ✓ <|im_end|>")
    w.add_array("t.arr_i32", [1, -2, 3])
    w.add_array("t.arr_f32", [0.5, -1.25, 3e-8])
    w.add_array("t.arr_str", ["a", "", "ĠHello", "<0x0A>"])
    w.add_array("t.arr_nested", [["x", "y"], ["z"]])
    w.add_array("t.arr_bool", [True, False, True])
    w.add_tensor("a", np.arange(64, dtype=np.float32))
    w.add_tensor("b", np.ones((3, 32), dtype=np.float16))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    ours = json.loads(run_tool("meta", path).stdout)
    ref = GGUFReader(str(path))
    assert ours["version"] == 3
    assert ours["alignment"] == 64
    assert ours["data_offset"] == ref.data_offset
    ref_fields = {k: f for k, f in ref.fields.items() if not k.startswith("GGUF.")}
    assert list(ours["metadata"]) == list(ref_fields)
    for key, field in ref_fields.items():
        want = field.contents()
        got = ours["metadata"][key]
        if field.types[-1] in (GGUFValueType.FLOAT32,):
            assert np.array_equal(np.float32(got), np.float32(want)), key
        elif len(field.types) > 2:  # gguf-py flattens nested arrays: compare flat, and the structure as written
            assert [x for sub in got for x in sub] == want, key
            assert got == [["x", "y"], ["z"]]
        else:
            assert got == want, key
    assert [(t["name"], t["type"], t["dims"], t["offset"]) for t in ours["tensors"]] == [
        (t.name, int(t.tensor_type), [int(d) for d in t.shape], int(t.data_offset) - ref.data_offset)
        for t in ref.tensors
    ]
    for t in ref.tensors:
        got = dequant_via_tool(tmp_path, path, t.name, "f32")
        np.testing.assert_array_equal(got, np.asarray(t.data, dtype=np.float32).ravel())


@pytest.fixture(scope="module")
def demo_model():
    if not DEMO_MODEL.exists():
        subprocess.run([str(REPO / "scripts" / "fetch_model")], check=False)
    if not DEMO_MODEL.exists():
        pytest.skip(f"demo model {DEMO_MODEL} is absent and scripts/fetch_model could not fetch it")
    return DEMO_MODEL


@pytest.fixture(scope="module")
def demo_reader(demo_model):
    return GGUFReader(str(demo_model))  # slow to parse (49K token strings): once per module


def test_demo_file_metadata_and_tensor_infos_match_gguf_py(demo_model, demo_reader):
    ours = json.loads(run_tool("meta", demo_model).stdout)
    ref = demo_reader
    ref_fields = {k: f for k, f in ref.fields.items() if not k.startswith("GGUF.")}
    assert list(ours["metadata"]) == list(ref_fields)
    for key, field in ref_fields.items():
        want = field.contents()
        got = ours["metadata"][key]
        if field.types[-1] == GGUFValueType.FLOAT32:
            assert np.array_equal(np.float32(got), np.float32(want)), key
        else:
            assert got == want, key
    assert ours["data_offset"] == ref.data_offset
    assert [(t["name"], t["type"], t["dims"], t["offset"], t["n_bytes"]) for t in ours["tensors"]] == [
        (t.name, int(t.tensor_type), [int(d) for d in t.shape], int(t.data_offset) - ref.data_offset, int(t.n_bytes))
        for t in ref.tensors
    ]


def test_demo_file_loads_completely_and_matches_gguf_py(demo_model, demo_reader, tmp_path):
    meta, got = load(demo_model, tmp_path, "f32")
    spec = meta["spec"]
    assert (spec["arch"], spec["n_layers"], spec["hidden"], spec["n_heads"], spec["n_kv_heads"]) == ("llama", 30, 576, 9, 3)
    assert (spec["head_dim"], spec["intermediate"], spec["vocab"], spec["max_position"]) == (64, 1536, 49152, 8192)
    assert spec["tied_embeddings"] and spec["rope_theta"] == 100000.0 and spec["rope_scaling"] == "none"
    assert meta["defaults"]["eos_token_ids"] == [2] and meta["defaults"]["bos_token_id"] == 1
    assert meta["chat_template"].startswith("{% for message in messages %}")
    assert meta["progress_last"] == 1.0 and meta["progress_monotonic"]

    ref_by_name = {t.name: t for t in demo_reader.tensors}
    names = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight"}
    inv = {v: k for k, v in {
        "attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
        "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
        "attn_output.weight": "self_attn.o_proj.weight", "ffn_norm.weight": "post_attention_layernorm.weight",
        "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
        "ffn_down.weight": "mlp.down_proj.weight"}.items()}
    for i in range(30):
        for hf_rest, g in inv.items():
            names[f"blk.{i}.{g}"] = f"model.layers.{i}.{hf_rest}"
    assert set(names) == set(ref_by_name), "every tensor of the file is used"
    assert set(got) == set(names.values())
    for gname, hf in names.items():
        t = ref_by_name[gname]
        want = dequantize(t.data, t.tensor_type).astype(np.float32)
        want = want.reshape([int(d) for d in reversed(t.shape)])
        if gname.endswith("attn_q.weight"):
            want = llama_unpermute(want, 9)
        elif gname.endswith("attn_k.weight"):
            want = llama_unpermute(want, 3)
        assert got[hf].shape == want.shape, hf
        assert_same_floats(got[hf], want)


def test_demo_file_bf16_conversion(demo_model, demo_reader, tmp_path):
    ref = {t.name: t for t in demo_reader.tensors}
    for name in ("token_embd.weight", "blk.7.ffn_down.weight", "blk.7.attn_norm.weight"):
        t = ref[name]
        want = dequantize(t.data, t.tensor_type).astype(np.float32).ravel()
        got = dequant_via_tool(tmp_path, demo_model, name, "bf16")
        np.testing.assert_array_equal(got, f32_to_bf16_bits(want))


@pytest.mark.parametrize("version", [2, 3])
def test_llama_permutation_round_trips_to_hf_weights(tmp_path, version):
    rng = np.random.default_rng(7)
    hf = random_hf_weights(rng, tied=True)
    path = tmp_path / "llama.gguf"
    expected = write_gguf_model(path, "llama", hf, version=version)
    meta, got = load(path, tmp_path)
    assert meta["spec"]["arch"] == "llama" and meta["spec"]["tied_embeddings"]
    assert "lm_head.weight" not in got
    assert set(got) == set(hf)
    for name, want in hf.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)  # original HF weights, exactly
        np.testing.assert_array_equal(expected[name], want)


def test_quantized_llama_q_k_are_unpermuted_after_dequantization(tmp_path):
    rng = np.random.default_rng(8)
    hf = random_hf_weights(rng, tied=False)
    path = tmp_path / "llama_q8.gguf"
    expected = write_gguf_model(path, "llama", hf, qtype=Q.Q8_0)
    meta, got = load(path, tmp_path)
    assert not meta["spec"]["tied_embeddings"] and "lm_head.weight" in got
    for name, want in expected.items():
        assert_same_floats(got[name], want.astype(np.float32))
    # and the quantization error is small relative to the original HF weights
    q = "model.layers.1.self_attn.q_proj.weight"
    assert np.max(np.abs(got[q] - hf[q])) < 0.05


@pytest.mark.parametrize("arch,kw", [("qwen2", dict(qkv_bias=True)), ("qwen3", dict(qk_norm=True))])
def test_qwen_gguf_is_not_permuted(tmp_path, arch, kw):
    rng = np.random.default_rng(9)
    hf = random_hf_weights(rng, tied=True, **kw)
    path = tmp_path / f"{arch}.gguf"
    write_gguf_model(path, arch, hf)
    meta, got = load(path, tmp_path)
    assert meta["spec"]["arch"] == arch
    assert meta["spec"]["qkv_bias"] == (arch == "qwen2") and meta["spec"]["qk_norm"] == (arch == "qwen3")
    assert set(got) == set(hf)
    for name, want in hf.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)


def llama3_rope_factors(theta, head_dim, factor, low, high, orig):
    """convert_hf_to_gguf.py's LlamaModel llama3 rope_freqs (published formula)."""
    freqs = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float32) / head_dim))
    low_wavelen, high_wavelen = orig / low, orig / high
    out = []
    for f in freqs:
        wavelen = 2 * np.pi / f
        if wavelen < high_wavelen:
            out.append(1)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (orig / wavelen - low) / (high - low)
            out.append(1 / ((1 - smooth) / factor + smooth))
    return np.array(out, dtype=np.float32)


def test_llama3_rope_scaling_recovered_from_rope_freqs(tmp_path):
    rng = np.random.default_rng(10)
    hf = random_hf_weights(rng)
    # theta chosen so that the 8 frequencies of head_dim 16 span all three regions
    ff = llama3_rope_factors(50000.0, SHAPE["head_dim"], 8.0, 1.0, 4.0, 64)
    assert 1.0 in ff and 8.0 in ff and np.any((ff > 1) & (ff < 8))
    path = tmp_path / "llama3.gguf"
    write_gguf_model(path, "llama", hf, extra_tensors={"rope_freqs.weight": ff},
                     extra_kv={"llama.rope.scaling.original_context_length": (64, GGUFValueType.UINT32)})
    info = json.loads(run_tool("inspect", path).stdout)
    s = info["spec"]
    assert (s["rope_scaling"], s["rope_factor"], s["rope_low_freq_factor"], s["rope_high_freq_factor"],
            s["rope_original_max_position"]) == ("llama3", 8.0, 1.0, 4.0, 64)
    # factors that are not llama3's are refused rather than silently ignored
    bad = ff.copy()
    bad[3] *= 1.5
    path2 = tmp_path / "bad_rope.gguf"
    write_gguf_model(path2, "llama", hf, extra_tensors={"rope_freqs.weight": bad},
                     extra_kv={"llama.rope.scaling.original_context_length": (64, GGUFValueType.UINT32)})
    expect_error(["inspect", path2], "unsupported", "rope_freqs.weight")


def test_unsupported_architecture_is_named(tmp_path):
    rng = np.random.default_rng(11)
    path = tmp_path / "gemma.gguf"
    write_gguf_model(path, "gemma", random_hf_weights(rng))
    expect_error(["inspect", path], "unsupported", "gemma")


def test_missing_and_misshapen_tensors_are_named(tmp_path):
    rng = np.random.default_rng(12)
    hf = random_hf_weights(rng)
    del hf["model.layers.1.mlp.up_proj.weight"]
    path = tmp_path / "missing.gguf"
    write_gguf_model(path, "llama", hf)
    expect_error(["load", path, tmp_path, "f32"], "malformed_file", "blk.1.ffn_up.weight", "missing")

    hf = random_hf_weights(rng)
    hf["model.layers.0.mlp.down_proj.weight"] = hf["model.layers.0.mlp.down_proj.weight"][:, :32].copy()
    path = tmp_path / "shape.gguf"
    write_gguf_model(path, "llama", hf)
    expect_error(["load", path, tmp_path, "f32"], "malformed_file", "blk.0.ffn_down.weight", "[64, 32]", "[64, 96]")


def test_unconvertible_tensor_type_is_refused(tmp_path):
    rng = np.random.default_rng(13)
    hf = random_hf_weights(rng)
    path = tmp_path / "q5_0.gguf"
    write_gguf_model(path, "qwen2", {k: v for k, v in random_hf_weights(rng, qkv_bias=True).items()}, qtype=Q.Q5_0)
    expect_error(["load", path, tmp_path, "f32"], "unsupported", "q5_0")
    del hf

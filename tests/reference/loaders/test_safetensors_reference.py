"""Hugging Face directories (config.json, safetensors single/sharded with an
index, generation_config.json, tokenizer_config.json) loaded by Tandem and
compared with what numpy and the `safetensors` package wrote."""
import json
import struct

import numpy as np
import pytest

from conftest import SHAPE, bf16_bits_to_f32, expect_error, f32_to_bf16_bits, load, random_hf_weights, run_tool

st_numpy = pytest.importorskip("safetensors.numpy", reason="safetensors is required: pip install safetensors")


def write_bf16_safetensors(path, tensors):
    """numpy has no bfloat16, so BF16 files are written by hand following the
    published format: u64 header length, JSON header, 8-byte aligned data."""
    header, blobs, offset = {}, [], 0
    for name, bits in tensors.items():
        raw = np.ascontiguousarray(bits.astype("<u2")).tobytes()
        header[name] = {"dtype": "BF16", "shape": list(bits.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def config(arch, **extra):
    s = SHAPE
    c = {"architectures": [arch], "hidden_size": s["hidden"], "num_hidden_layers": s["n_layers"],
         "num_attention_heads": s["n_heads"], "num_key_value_heads": s["n_kv_heads"],
         "intermediate_size": s["intermediate"], "vocab_size": s["vocab"], "max_position_embeddings": 2048,
         "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "hidden_act": "silu", "torch_dtype": "bfloat16",
         "bos_token_id": 1, "eos_token_id": 2}
    c.update(extra)
    return c


def write_dir(d, cfg, generation=None, tokenizer_config=None):
    d.mkdir(parents=True, exist_ok=True)
    (d / "config.json").write_text(json.dumps(cfg))
    if generation is not None:
        (d / "generation_config.json").write_text(json.dumps(generation))
    if tokenizer_config is not None:
        (d / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return d


def shard(weights, n):
    names = sorted(weights)
    return [{k: weights[k] for k in names[i::n]} for i in range(n)]


def write_index(d, shards, filenames):
    weight_map = {name: fn for part, fn in zip(shards, filenames) for name in part}
    (d / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}))


def test_llama_untied_f32_with_llama3_rope_and_generation_config(tmp_path):
    rng = np.random.default_rng(1)
    hf = random_hf_weights(rng, tied=False)
    rope = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
            "original_max_position_embeddings": 8192}
    d = write_dir(tmp_path / "m", config("LlamaForCausalLM", rope_scaling=rope, tie_word_embeddings=False),
                  generation={"bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009], "do_sample": True,
                              "temperature": 0.6, "top_p": 0.9},
                  tokenizer_config={"chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"})
    st_numpy.save_file(hf, str(d / "model.safetensors"))
    out = tmp_path / "out"
    out.mkdir()
    meta, got = load(d, out)
    s = meta["spec"]
    assert (s["arch"], s["n_layers"], s["hidden"], s["n_heads"], s["n_kv_heads"], s["head_dim"]) == ("llama", 2, 64, 4, 2, 16)
    assert (s["intermediate"], s["vocab"], s["max_position"], s["rope_theta"]) == (96, 80, 2048, 500000.0)
    assert (s["rope_scaling"], s["rope_factor"], s["rope_low_freq_factor"], s["rope_high_freq_factor"],
            s["rope_original_max_position"]) == ("llama3", 8.0, 1.0, 4.0, 8192)
    assert np.float32(s["rms_eps"]) == np.float32(1e-5)
    assert not s["tied_embeddings"] and not s["qkv_bias"] and not s["qk_norm"]
    dflt = meta["defaults"]
    assert dflt["eos_token_ids"] == [128001, 128008, 128009] and dflt["bos_token_id"] == 128000
    assert np.float32(dflt["temperature"]) == np.float32(0.6) and np.float32(dflt["top_p"]) == np.float32(0.9)
    assert dflt["top_k"] == -1 and dflt["min_p"] == -1 and dflt["repetition_penalty"] == -1
    assert meta["chat_template"].startswith("{{ bos_token }}") and meta["format"] == "safetensors"
    assert set(got) == set(hf)
    for name, want in hf.items():
        np.testing.assert_array_equal(got[name], want, err_msg=name)


def test_qwen2_bf16_sharded_with_index(tmp_path):
    rng = np.random.default_rng(2)
    hf = random_hf_weights(rng, qkv_bias=True, tied=True)
    bits = {k: f32_to_bf16_bits(v) for k, v in hf.items()}
    d = write_dir(tmp_path / "q2", config("Qwen2ForCausalLM", tie_word_embeddings=True, max_position_embeddings=32768),
                  generation={"eos_token_id": [151645, 151643], "repetition_penalty": 1.05, "top_k": 20,
                              "temperature": 0.7, "top_p": 0.8},
                  tokenizer_config={"chat_template": [{"name": "tool_use", "template": "TOOLS"},
                                                      {"name": "default", "template": "DEFAULT"}]})
    parts = shard(bits, 3)
    names = [f"model-0000{i + 1}-of-00003.safetensors" for i in range(3)]
    for part, fn in zip(parts, names):
        write_bf16_safetensors(d / fn, part)
    write_index(d, parts, names)
    out = tmp_path / "o1"
    out.mkdir()
    meta, got = load(d, out, "f32")
    s = meta["spec"]
    assert s["arch"] == "qwen2" and s["qkv_bias"] and s["tied_embeddings"] and s["max_position"] == 32768
    assert meta["chat_template"] == "DEFAULT"
    dflt = meta["defaults"]
    assert dflt["eos_token_ids"] == [151645, 151643] and dflt["top_k"] == 20
    assert np.float32(dflt["repetition_penalty"]) == np.float32(1.05)
    assert "lm_head.weight" not in got and set(got) == set(hf)
    for name, b in bits.items():
        np.testing.assert_array_equal(got[name], bf16_bits_to_f32(b), err_msg=name)
    out2 = tmp_path / "o2"
    out2.mkdir()
    _, got16 = load(d, out2, "bf16")
    for name, b in bits.items():
        np.testing.assert_array_equal(got16[name], b, err_msg=name)  # bf16 -> bf16 is a copy


def test_qwen3_f16_explicit_head_dim_and_qk_norm(tmp_path):
    rng = np.random.default_rng(3)
    shape = dict(SHAPE, head_dim=32)  # head_dim != hidden / heads, as in Qwen3
    hf = random_hf_weights(rng, qk_norm=True, tied=False, shape=shape)
    hf16 = {k: v.astype(np.float16) for k, v in hf.items()}
    d = write_dir(tmp_path / "q3", config("Qwen3ForCausalLM", head_dim=32, tie_word_embeddings=False,
                                          attention_bias=False))
    st_numpy.save_file(hf16, str(d / "model.safetensors"))
    out = tmp_path / "o"
    out.mkdir()
    meta, got = load(d, out, "f32")
    s = meta["spec"]
    assert s["arch"] == "qwen3" and s["qk_norm"] and s["head_dim"] == 32 and not s["qkv_bias"]
    assert got["model.layers.0.self_attn.q_proj.weight"].shape == (4 * 32, 64)
    for name, want in hf16.items():
        np.testing.assert_array_equal(got[name], want.astype(np.float32), err_msg=name)
    out2 = tmp_path / "o2"
    out2.mkdir()
    _, got16 = load(d, out2, "bf16")
    for name, want in hf16.items():
        np.testing.assert_array_equal(got16[name], f32_to_bf16_bits(want.astype(np.float32)), err_msg=name)


def test_mistral_sliding_window_caps_context_and_tie_inferred(tmp_path):
    rng = np.random.default_rng(4)
    hf = random_hf_weights(rng, tied=True)  # no lm_head and no tie_word_embeddings key
    cfg = config("MistralForCausalLM", max_position_embeddings=32768, sliding_window=4096)
    d = write_dir(tmp_path / "mi", cfg, generation={"eos_token_id": 2})
    st_numpy.save_file(hf, str(d / "model.safetensors"))
    info = json.loads(run_tool("inspect", d).stdout)
    assert info["spec"]["arch"] == "mistral" and info["spec"]["max_position"] == 4096
    assert info["spec"]["tied_embeddings"] and not info["has_weights"]
    assert info["defaults"]["eos_token_ids"] == [2]


def test_directory_errors_are_named(tmp_path):
    rng = np.random.default_rng(5)
    hf = random_hf_weights(rng, tied=True)
    parts = shard(hf, 2)

    d = write_dir(tmp_path / "absent_shard", config("LlamaForCausalLM"))
    st_numpy.save_file(parts[0], str(d / "model-00001-of-00002.safetensors"))
    write_index(d, parts, ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"])
    expect_error(["inspect", d], "malformed_file", "model.safetensors.index.json", "model-00002-of-00002.safetensors")

    d = write_dir(tmp_path / "traversal", config("LlamaForCausalLM"))
    st_numpy.save_file(parts[0], str(d / "a.safetensors"))
    write_index(d, parts, ["a.safetensors", "../a.safetensors"])
    expect_error(["inspect", d], "malformed_file", "../a.safetensors")

    d = tmp_path / "bad_json"
    d.mkdir()
    (d / "config.json").write_text("{not json")
    expect_error(["inspect", d], "malformed_file", "config.json")

    d = write_dir(tmp_path / "gemma", config("GemmaForCausalLM"))
    expect_error(["inspect", d], "unsupported", "GemmaForCausalLM")

    d = write_dir(tmp_path / "no_key", {k: v for k, v in config("LlamaForCausalLM").items() if k != "vocab_size"})
    expect_error(["inspect", d], "malformed_file", "vocab_size")

    d = write_dir(tmp_path / "yarn", config("Qwen2ForCausalLM", rope_scaling={"type": "yarn", "factor": 4.0}))
    expect_error(["inspect", d], "unsupported", "yarn")

    d = write_dir(tmp_path / "missing_tensor", config("LlamaForCausalLM"))
    st_numpy.save_file({k: v for k, v in hf.items() if k != "model.layers.1.mlp.gate_proj.weight"},
                       str(d / "model.safetensors"))
    expect_error(["load", d, tmp_path, "f32"], "malformed_file", "model.layers.1.mlp.gate_proj.weight", "missing")

    d = write_dir(tmp_path / "bad_shape", config("LlamaForCausalLM"))
    bad = dict(hf)
    bad["model.norm.weight"] = np.ones(63, dtype=np.float32)
    st_numpy.save_file(bad, str(d / "model.safetensors"))
    expect_error(["load", d, tmp_path, "f32"], "malformed_file", "model.norm.weight", "[63]", "[64]")

    d = write_dir(tmp_path / "int_dtype", config("LlamaForCausalLM"))
    bad = dict(hf)
    bad["model.norm.weight"] = np.ones(64, dtype=np.int64)
    st_numpy.save_file(bad, str(d / "model.safetensors"))
    expect_error(["load", d, tmp_path, "f32"], "unsupported", "model.norm.weight", "I64")

    d = write_dir(tmp_path / "truncated", config("LlamaForCausalLM"))
    st_numpy.save_file(hf, str(d / "model.safetensors"))
    raw = (d / "model.safetensors").read_bytes()
    (d / "model.safetensors").write_bytes(raw[: len(raw) - 100])
    expect_error(["inspect", d], "malformed_file", "model.safetensors")

    d = write_dir(tmp_path / "no_weights", config("LlamaForCausalLM"))
    expect_error(["inspect", d], "io", "no_weights")

    expect_error(["inspect", tmp_path / "nowhere"], "io", "nowhere")

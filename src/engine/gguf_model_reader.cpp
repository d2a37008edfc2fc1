#include "engine/gguf_model_reader.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string_view>

#include "engine/dequant.h"
#include "engine/loader_checks.h"
#include "engine/weight_loader.h"

namespace tandem::engine {

using model_files::GgmlType;
using model_files::GgufFile;
using model_files::GgufTensorInfo;

namespace {

Status bad(const GgufFile& f, const std::string& what) {
  return Status(ErrorKind::kMalformedFile, f.name() + ": " + what);
}

// HF tensor name -> llama.cpp GGUF tensor name ("" when there is none).
std::string gguf_tensor_name(const std::string& hf) {
  if (hf == "model.embed_tokens.weight") return "token_embd.weight";
  if (hf == "model.norm.weight") return "output_norm.weight";
  if (hf == "lm_head.weight") return "output.weight";
  static constexpr std::string_view kPrefix = "model.layers.";
  if (hf.compare(0, kPrefix.size(), kPrefix) != 0) return {};
  size_t dot = hf.find('.', kPrefix.size());
  if (dot == std::string::npos) return {};
  const std::string layer = hf.substr(kPrefix.size(), dot - kPrefix.size());
  const std::string rest = hf.substr(dot + 1);
  static const std::pair<std::string_view, std::string_view> kMap[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  for (const auto& [from, to] : kMap) {
    if (rest == from) return "blk." + layer + "." + std::string(to);
  }
  return {};
}

std::vector<int64_t> row_major(const std::vector<int64_t>& dims) { return {dims.rbegin(), dims.rend()}; }

// Reads a required positive integer `<arch>.<key>`.
Result<int> arch_int(const GgufFile& f, const std::string& arch, const char* key) {
  const std::string full = arch + "." + key;
  auto v = f.require_u32(full);
  if (!v.ok()) return v.status();
  if (v.value() > static_cast<uint32_t>(INT32_MAX)) return bad(f, "metadata key '" + full + "' is too large");
  return static_cast<int>(v.value());
}

// Llama 3 frequency divisors as llama.cpp's converter computes them.
float llama3_factor(double freq, const RopeConfig& r) {
  const double wavelen = 2.0 * M_PI / freq;
  const double low_wavelen = r.original_max_position / r.low_freq_factor;
  const double high_wavelen = r.original_max_position / r.high_freq_factor;
  if (wavelen < high_wavelen) return 1.0f;
  if (wavelen > low_wavelen) return r.factor;
  const double smooth =
      (r.original_max_position / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  return static_cast<float>(1.0 / ((1.0 - smooth) / r.factor + smooth));
}

// Fills spec.rope scaling from metadata or the rope_freqs tensor.
Status read_rope_scaling(const GgufFile& f, const std::string& arch, ModelSpec& spec) {
  const std::string p = arch + ".rope.scaling.";
  auto type = f.get_string(p + "type");
  auto factor = f.get_f32(p + "factor");
  auto orig = f.get_u32(p + "original_context_length");
  if (type && *type != "none") {
    if (*type == "linear") {
      if (!factor) return bad(f, "metadata key '" + p + "factor' is missing for linear rope scaling");
      spec.rope.scaling = RopeScalingType::kLinear;
      spec.rope.factor = *factor;
    } else if (*type == "llama3") {
      if (!factor) return bad(f, "metadata key '" + p + "factor' is missing for llama3 rope scaling");
      spec.rope.scaling = RopeScalingType::kLlama3;
      spec.rope.factor = *factor;
      if (orig) spec.rope.original_max_position = static_cast<int>(*orig);
      if (auto lo = f.get_f32(p + "low_freq_factor")) spec.rope.low_freq_factor = *lo;
      if (auto hi = f.get_f32(p + "high_freq_factor")) spec.rope.high_freq_factor = *hi;
    } else {
      return Status(ErrorKind::kUnsupported, f.name() + ": rope scaling type '" + *type + "' is not supported");
    }
  }
  const GgufTensorInfo* freqs = f.find_tensor("rope_freqs.weight");
  if (freqs == nullptr) return Status::ok_status();
  // llama.cpp's converter stores Llama 3 scaling only as per-frequency divisors.
  const std::string tn = "tensor 'rope_freqs.weight'";
  if (freqs->type != GgmlType::kF32 || freqs->dims.size() != 1 || freqs->dims[0] != spec.head_dim / 2) {
    return bad(f, tn + " must be f32 of " + std::to_string(spec.head_dim / 2) + " elements");
  }
  std::vector<float> ff(static_cast<size_t>(freqs->dims[0]));
  std::memcpy(ff.data(), f.tensor_data(*freqs).data(), ff.size() * 4);
  float max_ff = 0.0f;
  for (float x : ff) {
    if (!std::isfinite(x) || x <= 0.0f) return bad(f, tn + " holds a non-positive or non-finite value");
    max_ff = std::max(max_ff, x);
  }
  if (spec.rope.scaling == RopeScalingType::kNone) {
    spec.rope.scaling = RopeScalingType::kLlama3;
    spec.rope.factor = max_ff;
    if (orig) spec.rope.original_max_position = static_cast<int>(*orig);
  } else if (spec.rope.scaling != RopeScalingType::kLlama3) {
    return Status(ErrorKind::kUnsupported, f.name() + ": " + tn + " together with non-llama3 rope scaling");
  }
  for (size_t i = 0; i < ff.size(); ++i) {
    const double freq = std::pow(static_cast<double>(spec.rope.theta), -2.0 * static_cast<double>(i) / spec.head_dim);
    const float want = llama3_factor(freq, spec.rope);
    if (std::fabs(want - ff[i]) > 1e-3f * want) {
      return Status(ErrorKind::kUnsupported, f.name() + ": " + tn + " does not match llama3 rope scaling (factor " +
                                                 std::to_string(spec.rope.factor) + ", low_freq_factor " +
                                                 std::to_string(spec.rope.low_freq_factor) + ", high_freq_factor " +
                                                 std::to_string(spec.rope.high_freq_factor) + ", original context " +
                                                 std::to_string(spec.rope.original_max_position) + ") at index " +
                                                 std::to_string(i));
    }
  }
  return Status::ok_status();
}

Result<ModelSpec> read_spec(const GgufFile& f, std::string& arch_out) {
  auto arch = f.require_string("general.architecture");
  if (!arch.ok()) return arch.status();
  const std::string& a = arch.value();
  arch_out = a;
  ModelSpec s;
  if (a == "llama") {
    s.arch = Architecture::kLlama;
  } else if (a == "mistral") {
    s.arch = Architecture::kMistral;
  } else if (a == "qwen2") {
    s.arch = Architecture::kQwen2;
    s.qkv_bias = true;
  } else if (a == "qwen3") {
    s.arch = Architecture::kQwen3;
    s.qk_norm = true;
  } else {
    return Status(ErrorKind::kUnsupported,
                  f.name() + ": architecture '" + a + "' is not supported (llama, mistral, qwen2, qwen3 are)");
  }
  struct IntField {
    const char* key;
    int* dst;
  } fields[] = {{"block_count", &s.n_layers},
                {"embedding_length", &s.hidden},
                {"feed_forward_length", &s.intermediate},
                {"attention.head_count", &s.n_heads},
                {"context_length", &s.max_position}};
  for (const auto& fd : fields) {
    auto v = arch_int(f, a, fd.key);
    if (!v.ok()) return v.status();
    *fd.dst = v.value();
  }
  s.n_kv_heads = s.n_heads;
  if (f.has(a + ".attention.head_count_kv")) {
    auto v = arch_int(f, a, "attention.head_count_kv");
    if (!v.ok()) return v.status();
    s.n_kv_heads = v.value();
  }
  if (s.n_heads <= 0) return bad(f, "metadata key '" + a + ".attention.head_count' must be positive");
  s.head_dim = s.hidden / s.n_heads;
  if (f.has(a + ".attention.key_length")) {
    auto v = arch_int(f, a, "attention.key_length");
    if (!v.ok()) return v.status();
    s.head_dim = v.value();
  }
  if (auto vl = f.get_u32(a + ".attention.value_length"); vl && static_cast<int>(*vl) != s.head_dim) {
    return Status(ErrorKind::kUnsupported, f.name() + ": value_length differs from key_length");
  }
  if (auto rd = f.get_u32(a + ".rope.dimension_count"); rd && static_cast<int>(*rd) != s.head_dim) {
    return Status(ErrorKind::kUnsupported, f.name() + ": partial rotary embedding (rope.dimension_count " +
                                               std::to_string(*rd) + " of head_dim " + std::to_string(s.head_dim) +
                                               ")");
  }
  auto eps = f.require_f32(a + ".attention.layer_norm_rms_epsilon");
  if (!eps.ok()) return eps.status();
  s.rms_eps = eps.value();
  s.rope.theta = f.get_f32(a + ".rope.freq_base").value_or(10000.0f);

  const GgufTensorInfo* embd = f.find_tensor("token_embd.weight");
  if (embd == nullptr) return bad(f, "tensor 'token_embd.weight' is missing");
  if (embd->dims.size() != 2) return bad(f, "tensor 'token_embd.weight' is not 2-D");
  if (embd->dims[1] > (1 << 22)) return bad(f, "tensor 'token_embd.weight' has too many rows");
  s.vocab = static_cast<int>(embd->dims[1]);
  if (auto vs = f.get_u32(a + ".vocab_size"); vs && static_cast<int64_t>(*vs) != s.vocab) {
    return bad(f, "metadata key '" + a + ".vocab_size' = " + std::to_string(*vs) +
                      " does not match token_embd.weight's " + std::to_string(s.vocab) + " rows");
  }
  s.tied_embeddings = f.find_tensor("output.weight") == nullptr;
  Status st = check_spec(s, f.name());
  if (!st.ok()) return st;
  st = read_rope_scaling(f, a, s);
  if (!st.ok()) return st;
  st = check_spec(s, f.name());
  if (!st.ok()) return st;
  return s;
}

GenerationDefaults read_defaults(const GgufFile& f) {
  GenerationDefaults d;
  if (auto bos = f.get_i32("tokenizer.ggml.bos_token_id")) d.bos_token_id = *bos;
  for (const char* key :
       {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"}) {
    if (auto id = f.get_i32(key)) {
      if (std::find(d.eos_token_ids.begin(), d.eos_token_ids.end(), *id) == d.eos_token_ids.end()) {
        d.eos_token_ids.push_back(*id);
      }
    }
  }
  // Sampling defaults some converters record (llama.cpp's general.sampling.*).
  if (auto v = f.get_f32("general.sampling.temp")) d.temperature = *v;
  if (auto v = f.get_f32("general.sampling.top_p")) d.top_p = *v;
  if (auto v = f.get_i32("general.sampling.top_k")) d.top_k = *v;
  if (auto v = f.get_f32("general.sampling.min_p")) d.min_p = *v;
  if (auto v = f.get_f32("general.sampling.penalty_repeat")) d.repetition_penalty = *v;
  return d;
}

}  // namespace

Result<LoadedModel> read_gguf_model(const GgufFile& file, std::optional<DType> dtype,
                                    const std::function<void(float)>& progress) {
  LoadedModel m;
  m.format = "gguf";
  m.path = file.name();
  std::string arch;
  auto spec = read_spec(file, arch);
  if (!spec.ok()) return spec.status();
  m.spec = spec.value();
  m.defaults = read_defaults(file);
  if (auto t = file.get_string("tokenizer.chat_template")) m.chat_template = *t;
  if (!dtype) return m;

  TensorSource source = [&file](const std::string& hf) -> Result<std::optional<SourceTensor>> {
    const std::string name = gguf_tensor_name(hf);
    const GgufTensorInfo* info = name.empty() ? nullptr : file.find_tensor(name);
    if (info == nullptr) {
      return std::optional<SourceTensor>(std::nullopt);
    }
    SourceTensor t;
    t.file = file.name();
    t.name = info->name;
    t.type = info->type;
    t.shape = row_major(info->dims);
    t.data = file.tensor_data(*info);
    return std::optional<SourceTensor>(std::move(t));
  };
  WeightLoadOptions opts;
  opts.dtype = *dtype;
  opts.unpermute_qk = arch == "llama" || arch == "mistral";
  opts.progress = progress;
  opts.model_name = file.name();
  opts.file_tensor_name = gguf_tensor_name;
  auto weights = load_weights(m.spec, source, opts);
  if (!weights.ok()) return weights.status();
  m.weights = std::move(weights.value());
  return m;
}

}  // namespace tandem::engine

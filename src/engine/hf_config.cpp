#include "engine/hf_config.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <limits>

namespace tandem::engine {

namespace json = boost::json;

namespace {

Status malformed(const std::string& file, const std::string& what) {
  return Status(ErrorKind::kMalformedFile, file + ": " + what);
}

Result<json::object> parse_object(std::string_view text, const std::string& file) {
  json::error_code ec;
  json::parse_options opts;
  opts.max_depth = 64;
  json::value v = json::parse(text, ec, {}, opts);
  if (ec) return malformed(file, "not valid JSON: " + ec.message());
  if (!v.is_object()) return malformed(file, "not a JSON object");
  return std::move(v.as_object());
}

// A value that is present and not null.
const json::value* present(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return (v == nullptr || v->is_null()) ? nullptr : v;
}

std::optional<double> number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double()) return v.get_double();
  return std::nullopt;
}

std::optional<int64_t> integer(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(v.get_uint64());
  }
  if (v.is_double() && std::floor(v.get_double()) == v.get_double() && std::fabs(v.get_double()) < 9e15) {
    return static_cast<int64_t>(v.get_double());
  }
  return std::nullopt;
}

// Reads an int key into `out` (must fit int32); absent/null leaves `out`.
Status read_int(const json::object& o, const char* key, const std::string& file, int& out, bool required) {
  const json::value* v = present(o, key);
  if (v == nullptr) {
    return required ? malformed(file, "key '" + std::string(key) + "' is missing") : Status::ok_status();
  }
  auto x = integer(*v);
  if (!x || *x < std::numeric_limits<int32_t>::min() || *x > std::numeric_limits<int32_t>::max()) {
    return malformed(file, "key '" + std::string(key) + "' is not a 32-bit integer");
  }
  out = static_cast<int>(*x);
  return Status::ok_status();
}

Status read_float(const json::object& o, const char* key, const std::string& file, float& out) {
  const json::value* v = present(o, key);
  if (v == nullptr) return Status::ok_status();
  auto x = number(*v);
  if (!x) return malformed(file, "key '" + std::string(key) + "' is not a number");
  out = static_cast<float>(*x);
  return Status::ok_status();
}

// Token id(s): an int or a list of ints.
Status read_ids(const json::object& o, const char* key, const std::string& file, std::vector<int32_t>& out) {
  const json::value* v = present(o, key);
  if (v == nullptr) return Status::ok_status();
  std::vector<int32_t> ids;
  auto push = [&](const json::value& x) {
    auto i = integer(x);
    if (!i || *i < 0 || *i > std::numeric_limits<int32_t>::max()) return false;
    if (std::find(ids.begin(), ids.end(), static_cast<int32_t>(*i)) == ids.end())
      ids.push_back(static_cast<int32_t>(*i));
    return true;
  };
  if (v->is_array()) {
    for (const auto& x : v->as_array()) {
      if (!push(x)) return malformed(file, "key '" + std::string(key) + "' holds a non-integer or negative id");
    }
  } else if (!push(*v)) {
    return malformed(file, "key '" + std::string(key) + "' is not a token id or a list of ids");
  }
  out = std::move(ids);
  return Status::ok_status();
}

// rope_scaling (transformers 4.x) or rope_parameters (transformers 5: also
// holds rope_theta); both use rope_type (or the older "type") and the same keys.
Status read_rope_scaling(const json::object& o, const std::string& file, ModelSpec& s) {
  std::string section = "rope_scaling";
  const json::value* v = present(o, "rope_scaling");
  if (v == nullptr) {
    section = "rope_parameters";
    v = present(o, "rope_parameters");
  }
  if (v == nullptr) return Status::ok_status();
  if (!v->is_object()) return malformed(file, "key '" + section + "' is not an object");
  const json::object& rs = v->as_object();
  if (section == "rope_parameters") {
    if (Status st = read_float(rs, "rope_theta", file, s.rope.theta); !st.ok()) return st;
  }
  const json::value* type = present(rs, "rope_type");
  if (type == nullptr) type = present(rs, "type");
  if (type == nullptr || !type->is_string()) return malformed(file, "key '" + section + ".rope_type' is missing");
  const std::string t(type->as_string());
  if (t == "default") return Status::ok_status();
  auto need = [&](const char* key, float& out) -> Status {
    const json::value* x = present(rs, key);
    if (x == nullptr || !number(*x)) {
      return malformed(file, "key '" + section + "." + std::string(key) + "' is missing or not a number");
    }
    out = static_cast<float>(*number(*x));
    return Status::ok_status();
  };
  if (t == "linear") {
    s.rope.scaling = RopeScalingType::kLinear;
    return need("factor", s.rope.factor);
  }
  if (t == "llama3") {
    s.rope.scaling = RopeScalingType::kLlama3;
    float orig = 0.0f;
    for (auto [key, dst] : {std::pair<const char*, float*>{"factor", &s.rope.factor},
                            {"low_freq_factor", &s.rope.low_freq_factor},
                            {"high_freq_factor", &s.rope.high_freq_factor},
                            {"original_max_position_embeddings", &orig}}) {
      Status st = need(key, *dst);
      if (!st.ok()) return st;
    }
    if (!(orig >= 1.0f && orig <= 16777216.0f)) {
      return malformed(file, "key '" + section + ".original_max_position_embeddings' is out of range");
    }
    s.rope.original_max_position = static_cast<int>(orig);
    return Status::ok_status();
  }
  return Status(ErrorKind::kUnsupported,
                file + ": " + section + " type '" + t + "' is not supported (linear, llama3 are)");
}

}  // namespace

Result<HfConfig> parse_hf_config(std::string_view text, const std::string& file) {
  auto parsed = parse_object(text, file);
  if (!parsed.ok()) return parsed.status();
  const json::object& o = parsed.value();
  HfConfig cfg;
  ModelSpec& s = cfg.spec;

  std::string arch_name;
  if (const json::value* a = present(o, "architectures")) {
    if (!a->is_array() || a->as_array().empty() || !a->as_array()[0].is_string()) {
      return malformed(file, "key 'architectures' is not a non-empty list of strings");
    }
    arch_name = std::string(a->as_array()[0].as_string());
  } else if (const json::value* mt = present(o, "model_type"); mt != nullptr && mt->is_string()) {
    arch_name = std::string(mt->as_string());
  } else {
    return malformed(file, "neither 'architectures' nor 'model_type' is given");
  }
  int default_max_position = 2048;
  if (arch_name == "LlamaForCausalLM" || arch_name == "llama") {
    s.arch = Architecture::kLlama;
  } else if (arch_name == "MistralForCausalLM" || arch_name == "mistral") {
    s.arch = Architecture::kMistral;
    default_max_position = 4096 * 32;
  } else if (arch_name == "Qwen2ForCausalLM" || arch_name == "qwen2") {
    s.arch = Architecture::kQwen2;
    s.qkv_bias = true;
    default_max_position = 32768;
  } else if (arch_name == "Qwen3ForCausalLM" || arch_name == "qwen3") {
    s.arch = Architecture::kQwen3;
    s.qk_norm = true;
    default_max_position = 32768;
  } else {
    return Status(ErrorKind::kUnsupported,
                  file + ": architecture '" + arch_name + "' is not supported (Llama, Mistral, Qwen2, Qwen3 are)");
  }

  for (auto [key, dst] : {std::pair<const char*, int*>{"hidden_size", &s.hidden},
                          {"num_hidden_layers", &s.n_layers},
                          {"num_attention_heads", &s.n_heads},
                          {"intermediate_size", &s.intermediate},
                          {"vocab_size", &s.vocab}}) {
    Status st = read_int(o, key, file, *dst, true);
    if (!st.ok()) return st;
  }
  s.n_kv_heads = s.n_heads;
  s.max_position = default_max_position;
  if (Status st = read_int(o, "num_key_value_heads", file, s.n_kv_heads, false); !st.ok()) return st;
  if (Status st = read_int(o, "max_position_embeddings", file, s.max_position, false); !st.ok()) return st;
  if (s.n_heads <= 0) return malformed(file, "key 'num_attention_heads' must be positive");
  s.head_dim = s.hidden / s.n_heads;
  if (Status st = read_int(o, "head_dim", file, s.head_dim, false); !st.ok()) return st;
  s.rms_eps = 1e-6f;
  if (Status st = read_float(o, "rms_norm_eps", file, s.rms_eps); !st.ok()) return st;
  if (Status st = read_float(o, "rope_theta", file, s.rope.theta); !st.ok()) return st;
  if (Status st = read_rope_scaling(o, file, s); !st.ok()) return st;

  if (const json::value* act = present(o, "hidden_act")) {
    if (!act->is_string() || act->as_string() != "silu") {
      return Status(ErrorKind::kUnsupported, file + ": hidden_act other than 'silu' is not supported");
    }
  }
  for (const char* key : {"attention_bias", "mlp_bias"}) {
    if (const json::value* b = present(o, key); b != nullptr && b->is_bool() && b->as_bool()) {
      return Status(ErrorKind::kUnsupported, file + ": '" + std::string(key) + "': true is not supported");
    }
  }
  if (const json::value* t = present(o, "tie_word_embeddings")) {
    if (!t->is_bool()) return malformed(file, "key 'tie_word_embeddings' is not a boolean");
    cfg.tie_word_embeddings = t->as_bool();
    s.tied_embeddings = t->as_bool();
  }
  // Sliding-window attention: Mistral applies it whenever set; Qwen only with
  // use_sliding_window. Runners attend to the whole context, which equals the
  // window's result as long as the context does not exceed the window.
  bool sliding = s.arch == Architecture::kMistral;
  if (const json::value* u = present(o, "use_sliding_window"); u != nullptr && u->is_bool()) sliding = u->as_bool();
  if (sliding) {
    int window = 0;
    if (Status st = read_int(o, "sliding_window", file, window, false); !st.ok()) return st;
    if (window > 0 && window < s.max_position) s.max_position = window;
  }

  if (Status st = read_ids(o, "eos_token_id", file, cfg.defaults.eos_token_ids); !st.ok()) return st;
  std::vector<int32_t> bos;
  if (Status st = read_ids(o, "bos_token_id", file, bos); !st.ok()) return st;
  if (!bos.empty()) cfg.defaults.bos_token_id = bos[0];
  return cfg;
}

Status apply_generation_config(std::string_view text, const std::string& file, GenerationDefaults& d) {
  auto parsed = parse_object(text, file);
  if (!parsed.ok()) return parsed.status();
  const json::object& o = parsed.value();
  if (Status st = read_ids(o, "eos_token_id", file, d.eos_token_ids); !st.ok()) return st;
  std::vector<int32_t> bos;
  if (Status st = read_ids(o, "bos_token_id", file, bos); !st.ok()) return st;
  if (!bos.empty()) d.bos_token_id = bos[0];
  for (auto [key, dst] : {std::pair<const char*, float*>{"temperature", &d.temperature},
                          {"top_p", &d.top_p},
                          {"min_p", &d.min_p},
                          {"repetition_penalty", &d.repetition_penalty}}) {
    float v = *dst;
    if (Status st = read_float(o, key, file, v); !st.ok()) return st;
    if (!std::isfinite(v) || (v < 0.0f && v != *dst)) {
      return malformed(file, "key '" + std::string(key) + "' must be a non-negative number");
    }
    *dst = v;
  }
  int top_k = d.top_k;
  if (Status st = read_int(o, "top_k", file, top_k, false); !st.ok()) return st;
  if (top_k < 0 && top_k != d.top_k) return malformed(file, "key 'top_k' must be non-negative");
  d.top_k = top_k;
  return Status::ok_status();
}

Result<std::optional<std::string>> parse_chat_template(std::string_view text, const std::string& file) {
  auto parsed = parse_object(text, file);
  if (!parsed.ok()) return parsed.status();
  const json::value* t = present(parsed.value(), "chat_template");
  if (t == nullptr) return std::optional<std::string>();
  if (t->is_string()) return std::optional<std::string>(std::string(t->as_string()));
  if (!t->is_array()) return malformed(file, "key 'chat_template' is neither a string nor a list");
  std::optional<std::string> first;
  for (const auto& item : t->as_array()) {
    const json::object* obj = item.if_object();
    const json::value* name = obj ? present(*obj, "name") : nullptr;
    const json::value* tmpl = obj ? present(*obj, "template") : nullptr;
    if (name == nullptr || tmpl == nullptr || !name->is_string() || !tmpl->is_string()) {
      return malformed(file, "key 'chat_template' list entries must be {name, template} strings");
    }
    if (name->as_string() == "default") return std::optional<std::string>(std::string(tmpl->as_string()));
    if (!first) first = std::string(tmpl->as_string());
  }
  return first;
}

}  // namespace tandem::engine

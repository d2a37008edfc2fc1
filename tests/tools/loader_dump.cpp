// Driver for tests/reference/loaders (pytest): exposes the GGUF reader and
// the model loader so Python can compare them with gguf-py, numpy and
// safetensors.
//
//   loader_dump meta FILE.gguf                 metadata + tensor infos as JSON on stdout
//   loader_dump tensor FILE.gguf NAME OUT f32|bf16
//                                              one tensor converted, raw little-endian, to OUT
//   loader_dump load PATH OUT_DIR f32|bf16     load_model: OUT_DIR/model.json (spec, defaults,
//                                              template, tensor shapes) and OUT_DIR/<hf name>.bin
//   loader_dump inspect PATH                   inspect_model: model.json content on stdout
//   loader_dump bench PATH f32|bf16 RUNS       times inspect_model and load_model (for
//                                              bench/loaders): one JSON line of seconds per run
// Errors: exit status 2 and "error: <kind>: <message>" on stderr.
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <chrono>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "engine/dequant.h"
#include "engine/model_loader.h"
#include "model_files/gguf_file.h"

namespace json = boost::json;
using namespace tandem;
using namespace tandem::engine;
using namespace tandem::model_files;

namespace {

int fail(const Status& s) {
  std::cerr << "error: " << error_kind_name(s.kind()) << ": " << s.message() << "\n";
  return 2;
}

json::value to_json(const GgufValue& v) {
  switch (v.type) {
    case GgufValueType::kU8:
    case GgufValueType::kU16:
    case GgufValueType::kU32:
    case GgufValueType::kU64: return v.u;
    case GgufValueType::kI8:
    case GgufValueType::kI16:
    case GgufValueType::kI32:
    case GgufValueType::kI64: return v.i;
    case GgufValueType::kF32:
    case GgufValueType::kF64: return v.f;
    case GgufValueType::kBool: return v.u != 0;
    case GgufValueType::kString: return json::string(v.str);
    case GgufValueType::kArray: {
      json::array a;
      a.reserve(v.items.size());
      for (const GgufValue& item : v.items) a.push_back(to_json(item));
      return a;
    }
  }
  return nullptr;
}

Result<DType> parse_dtype(const std::string& s) {
  if (s == "f32") return DType::kF32;
  if (s == "bf16") return DType::kBF16;
  if (s == "f16") return DType::kF16;
  return Status(ErrorKind::kInvalidRequest, "dtype must be f32, bf16 or f16");
}

json::object describe(const LoadedModel& m) {
  const ModelSpec& s = m.spec;
  json::object spec{{"arch", architecture_name(s.arch)},
                    {"n_layers", s.n_layers},
                    {"hidden", s.hidden},
                    {"n_heads", s.n_heads},
                    {"n_kv_heads", s.n_kv_heads},
                    {"head_dim", s.head_dim},
                    {"intermediate", s.intermediate},
                    {"vocab", s.vocab},
                    {"max_position", s.max_position},
                    {"rms_eps", s.rms_eps},
                    {"rope_theta", s.rope.theta},
                    {"rope_scaling", s.rope.scaling == RopeScalingType::kNone     ? "none"
                                     : s.rope.scaling == RopeScalingType::kLinear ? "linear"
                                                                                  : "llama3"},
                    {"rope_factor", s.rope.factor},
                    {"rope_low_freq_factor", s.rope.low_freq_factor},
                    {"rope_high_freq_factor", s.rope.high_freq_factor},
                    {"rope_original_max_position", s.rope.original_max_position},
                    {"qkv_bias", s.qkv_bias},
                    {"qk_norm", s.qk_norm},
                    {"tied_embeddings", s.tied_embeddings}};
  const GenerationDefaults& d = m.defaults;
  json::array eos;
  for (int32_t id : d.eos_token_ids) eos.push_back(id);
  json::object defaults{{"temperature", d.temperature},
                        {"top_p", d.top_p},
                        {"top_k", d.top_k},
                        {"min_p", d.min_p},
                        {"repetition_penalty", d.repetition_penalty},
                        {"eos_token_ids", eos},
                        {"bos_token_id", d.bos_token_id}};
  return json::object{{"spec", spec},
                      {"defaults", defaults},
                      {"chat_template", m.chat_template},
                      {"format", m.format},
                      {"path", m.path}};
}

bool write_file(const std::string& path, const void* data, size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
  return static_cast<bool>(out);
}

int cmd_meta(const std::string& path) {
  auto f = GgufFile::open(path);
  if (!f.ok()) return fail(f.status());
  json::object kv;
  for (const auto& [key, value] : f->metadata()) kv[key] = to_json(value);
  json::array tensors;
  for (const GgufTensorInfo& t : f->tensors()) {
    json::array dims;
    for (int64_t d : t.dims) dims.push_back(d);
    tensors.push_back(json::object{{"name", t.name},
                                   {"type", static_cast<uint32_t>(t.type)},
                                   {"type_name", ggml_type_traits(t.type).name},
                                   {"dims", dims},
                                   {"offset", t.offset},
                                   {"n_bytes", t.n_bytes}});
  }
  json::object root{{"version", f->version()},
                    {"alignment", f->alignment()},
                    {"data_offset", f->data_offset()},
                    {"metadata", kv},
                    {"tensors", tensors}};
  std::cout << json::serialize(root) << "\n";
  return 0;
}

int cmd_tensor(const std::string& path, const std::string& name, const std::string& out, const std::string& dt) {
  auto dtype = parse_dtype(dt);
  if (!dtype.ok()) return fail(dtype.status());
  auto f = GgufFile::open(path);
  if (!f.ok()) return fail(f.status());
  const GgufTensorInfo* info = f->find_tensor(name);
  if (info == nullptr) return fail(Status(ErrorKind::kNotFound, "no tensor " + name));
  if (!ggml_type_supported(info->type)) {
    return fail(Status(ErrorKind::kUnsupported, std::string("type ") + ggml_type_traits(info->type).name));
  }
  std::vector<std::byte> buf(static_cast<size_t>(info->numel()) * dtype_size(dtype.value()));
  convert_ggml_data(info->type, f->tensor_data(*info), dtype.value(), buf);
  if (!write_file(out, buf.data(), buf.size())) return fail(Status(ErrorKind::kIo, "cannot write " + out));
  return 0;
}

int cmd_load(const std::string& path, const std::string& out_dir, const std::string& dt) {
  auto dtype = parse_dtype(dt);
  if (!dtype.ok()) return fail(dtype.status());
  float last = -1.0f;
  bool monotonic = true;
  auto m = load_model(path, dtype.value(), [&](float p) {
    if (p < last || p < 0.0f || p > 1.0f) monotonic = false;
    last = p;
  });
  if (!m.ok()) return fail(m.status());
  json::object root = describe(m.value());
  root["progress_last"] = last;
  root["progress_monotonic"] = monotonic;
  json::object shapes;
  auto emit = [&](const std::string& name, const Tensor& t) {
    if (t.empty()) return true;
    json::array shape;
    for (int64_t d : t.shape) shape.push_back(d);
    shapes[name] = json::object{{"shape", shape}, {"dtype", dtype_name(t.dtype)}};
    return write_file(out_dir + "/" + name + ".bin", t.data.data(), t.data.size());
  };
  const ModelWeights& w = m->weights;
  bool ok = emit("model.embed_tokens.weight", w.embed) && emit("model.norm.weight", w.final_norm) &&
            emit("lm_head.weight", w.lm_head);
  for (size_t i = 0; ok && i < w.layers.size(); ++i) {
    const LayerWeights& L = w.layers[i];
    const std::string p = "model.layers." + std::to_string(i) + ".";
    ok = emit(p + "input_layernorm.weight", L.attn_norm) && emit(p + "self_attn.q_proj.weight", L.wq) &&
         emit(p + "self_attn.k_proj.weight", L.wk) && emit(p + "self_attn.v_proj.weight", L.wv) &&
         emit(p + "self_attn.q_proj.bias", L.bq) && emit(p + "self_attn.k_proj.bias", L.bk) &&
         emit(p + "self_attn.v_proj.bias", L.bv) && emit(p + "self_attn.q_norm.weight", L.q_norm) &&
         emit(p + "self_attn.k_norm.weight", L.k_norm) && emit(p + "self_attn.o_proj.weight", L.wo) &&
         emit(p + "post_attention_layernorm.weight", L.ffn_norm) && emit(p + "mlp.gate_proj.weight", L.w_gate) &&
         emit(p + "mlp.up_proj.weight", L.w_up) && emit(p + "mlp.down_proj.weight", L.w_down);
  }
  if (!ok) return fail(Status(ErrorKind::kIo, "cannot write into " + out_dir));
  root["tensors"] = shapes;
  std::ofstream out(out_dir + "/model.json");
  out << json::serialize(root) << "\n";
  return out ? 0 : fail(Status(ErrorKind::kIo, "cannot write model.json"));
}

int cmd_inspect(const std::string& path) {
  auto m = inspect_model(path);
  if (!m.ok()) return fail(m.status());
  json::object root = describe(m.value());
  root["has_weights"] = !m->weights.layers.empty();
  std::cout << json::serialize(root) << "\n";
  return 0;
}

int cmd_bench(const std::string& path, const std::string& dt, int runs) {
  auto dtype = parse_dtype(dt);
  if (!dtype.ok()) return fail(dtype.status());
  using Clock = std::chrono::steady_clock;
  json::array inspect_s, load_s;
  for (int i = 0; i < runs; ++i) {
    auto t0 = Clock::now();
    auto info = inspect_model(path);
    auto t1 = Clock::now();
    if (!info.ok()) return fail(info.status());
    auto m = load_model(path, dtype.value());
    auto t2 = Clock::now();
    if (!m.ok()) return fail(m.status());
    inspect_s.push_back(std::chrono::duration<double>(t1 - t0).count());
    load_s.push_back(std::chrono::duration<double>(t2 - t1).count());
  }
  std::cout << json::serialize(json::object{{"inspect_s", inspect_s}, {"load_s", load_s}}) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string cmd = argc > 1 ? argv[1] : "";
  if (cmd == "meta" && argc == 3) return cmd_meta(argv[2]);
  if (cmd == "tensor" && argc == 6) return cmd_tensor(argv[2], argv[3], argv[4], argv[5]);
  if (cmd == "load" && argc == 5) return cmd_load(argv[2], argv[3], argv[4]);
  if (cmd == "inspect" && argc == 3) return cmd_inspect(argv[2]);
  if (cmd == "bench" && argc == 5) return cmd_bench(argv[2], argv[3], std::atoi(argv[4]));
  std::cerr << "usage: loader_dump meta FILE | tensor FILE NAME OUT f32|bf16 | load PATH OUT_DIR f32|bf16 | "
               "inspect PATH | bench PATH f32|bf16 RUNS\n";
  return 1;
}

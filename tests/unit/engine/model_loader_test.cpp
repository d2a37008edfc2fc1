#include "engine/model_loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/dequant.h"
#include "engine/gguf_model_reader.h"
#include "engine/hf_config.h"
#include "engine/loader_checks.h"
#include "engine/weight_loader.h"
#include "unit/model_files/gguf_test_builder.h"

namespace tandem::engine {
namespace {

namespace fs = std::filesystem;
using model_files::GgmlType;
using model_files::GgufFile;
using model_files::testing::GgufBuilder;

void expect_status(const Status& s, ErrorKind kind, std::initializer_list<const char*> needles) {
  EXPECT_EQ(s.kind(), kind) << s.message();
  for (const char* n : needles) EXPECT_NE(s.message().find(n), std::string::npos) << s.message();
}

// --- config.json / generation_config.json / tokenizer_config.json -----------

const char* kLlama31 = R"({
  "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32,
  "num_attention_heads": 32, "num_key_value_heads": 8, "intermediate_size": 14336,
  "vocab_size": 128256, "max_position_embeddings": 131072, "rms_norm_eps": 1e-05,
  "rope_theta": 500000.0, "hidden_act": "silu", "tie_word_embeddings": false,
  "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                   "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "bos_token_id": 128000, "eos_token_id": [128001, 128008, 128009]})";

TEST(HfConfigLoaderTest, Llama31) {
  auto r = parse_hf_config(kLlama31, "config.json");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const ModelSpec& s = r->spec;
  EXPECT_EQ(s.arch, Architecture::kLlama);
  EXPECT_EQ(s.n_layers, 32);
  EXPECT_EQ(s.n_kv_heads, 8);
  EXPECT_EQ(s.head_dim, 128);
  EXPECT_EQ(s.max_position, 131072);
  EXPECT_EQ(s.rope.scaling, RopeScalingType::kLlama3);
  EXPECT_EQ(s.rope.factor, 8.0f);
  EXPECT_EQ(s.rope.original_max_position, 8192);
  EXPECT_EQ(s.rope.theta, 500000.0f);
  EXPECT_FALSE(s.tied_embeddings);
  EXPECT_EQ(r->tie_word_embeddings, false);
  EXPECT_EQ(r->defaults.eos_token_ids, (std::vector<int32_t>{128001, 128008, 128009}));
  EXPECT_EQ(r->defaults.bos_token_id, 128000);
  EXPECT_TRUE(check_spec(s, "config.json").ok());
}

TEST(HfConfigLoaderTest, Qwen3AndQwen2Flags) {
  auto q3 = parse_hf_config(R"({"architectures":["Qwen3ForCausalLM"],"hidden_size":1024,"num_hidden_layers":28,
    "num_attention_heads":16,"num_key_value_heads":8,"head_dim":128,"intermediate_size":3072,"vocab_size":151936,
    "max_position_embeddings":40960,"rms_norm_eps":1e-6,"rope_theta":1000000,"tie_word_embeddings":true,
    "attention_bias":false,"rope_scaling":null,"sliding_window":null,"use_sliding_window":false})",
                            "config.json");
  ASSERT_TRUE(q3.ok()) << q3.status().message();
  EXPECT_EQ(q3->spec.arch, Architecture::kQwen3);
  EXPECT_TRUE(q3->spec.qk_norm);
  EXPECT_FALSE(q3->spec.qkv_bias);
  EXPECT_EQ(q3->spec.head_dim, 128);  // explicit, != 1024 / 16
  EXPECT_TRUE(q3->spec.tied_embeddings);
  EXPECT_EQ(q3->spec.rope.theta, 1e6f);
  EXPECT_EQ(q3->spec.max_position, 40960);

  auto q2 = parse_hf_config(R"({"model_type":"qwen2","hidden_size":896,"num_hidden_layers":24,
    "num_attention_heads":14,"num_key_value_heads":2,"intermediate_size":4864,"vocab_size":151936,
    "sliding_window":32768,"use_sliding_window":false,"max_position_embeddings":32768})",
                            "config.json");
  ASSERT_TRUE(q2.ok()) << q2.status().message();
  EXPECT_EQ(q2->spec.arch, Architecture::kQwen2);
  EXPECT_TRUE(q2->spec.qkv_bias);
  EXPECT_EQ(q2->spec.head_dim, 64);
  EXPECT_FALSE(q2->tie_word_embeddings.has_value());
}

TEST(HfConfigLoaderTest, ErrorsNameTheKey) {
  expect_status(parse_hf_config("{", "config.json").status(), ErrorKind::kMalformedFile, {"config.json", "JSON"});
  expect_status(parse_hf_config("[]", "config.json").status(), ErrorKind::kMalformedFile, {"not a JSON object"});
  expect_status(parse_hf_config(R"({"architectures":["GemmaForCausalLM"]})", "c.json").status(),
                ErrorKind::kUnsupported, {"GemmaForCausalLM"});
  expect_status(parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"hidden_size":8})", "c.json").status(),
                ErrorKind::kMalformedFile, {"num_hidden_layers", "missing"});
  expect_status(parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"hidden_size":"big"})", "c.json").status(),
                ErrorKind::kMalformedFile, {"hidden_size"});
  const std::string base = R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":2,
    "num_attention_heads":4,"intermediate_size":96,"vocab_size":80)";
  expect_status(parse_hf_config(base + R"(,"hidden_act":"gelu"})", "c.json").status(), ErrorKind::kUnsupported,
                {"hidden_act"});
  expect_status(parse_hf_config(base + R"(,"attention_bias":true})", "c.json").status(), ErrorKind::kUnsupported,
                {"attention_bias"});
  expect_status(parse_hf_config(base + R"(,"rope_scaling":{"rope_type":"llama3","factor":8}})", "c.json").status(),
                ErrorKind::kMalformedFile, {"rope_scaling.low_freq_factor"});
  expect_status(parse_hf_config(base + R"(,"rope_scaling":{"rope_type":"dynamic","factor":2}})", "c.json").status(),
                ErrorKind::kUnsupported, {"dynamic"});
  expect_status(parse_hf_config(base + R"(,"eos_token_id":"x"})", "c.json").status(), ErrorKind::kMalformedFile,
                {"eos_token_id"});
  auto linear = parse_hf_config(base + R"(,"rope_scaling":{"type":"linear","factor":4}})", "c.json");
  ASSERT_TRUE(linear.ok()) << linear.status().message();
  EXPECT_EQ(linear->spec.rope.scaling, RopeScalingType::kLinear);
  EXPECT_EQ(linear->spec.rope.factor, 4.0f);
}

TEST(HfConfigLoaderTest, Transformers5RopeParameters) {
  auto r = parse_hf_config(R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,"num_hidden_layers":2,
    "num_attention_heads":4,"intermediate_size":96,"vocab_size":80,"rope_parameters":{"rope_type":"llama3",
    "rope_theta":500000.0,"factor":32.0,"low_freq_factor":1.0,"high_freq_factor":4.0,
    "original_max_position_embeddings":8192}})",
                           "config.json");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->spec.rope.theta, 500000.0f);
  EXPECT_EQ(r->spec.rope.scaling, RopeScalingType::kLlama3);
  EXPECT_EQ(r->spec.rope.factor, 32.0f);
  auto d = parse_hf_config(R"({"architectures":["Qwen3ForCausalLM"],"hidden_size":64,"num_hidden_layers":2,
    "num_attention_heads":4,"intermediate_size":96,"vocab_size":80,
    "rope_parameters":{"rope_type":"default","rope_theta":1000000.0}})",
                           "config.json");
  ASSERT_TRUE(d.ok()) << d.status().message();
  EXPECT_EQ(d->spec.rope.theta, 1e6f);
  EXPECT_EQ(d->spec.rope.scaling, RopeScalingType::kNone);
  expect_status(parse_hf_config(R"({"architectures":["Qwen3ForCausalLM"],"hidden_size":64,"num_hidden_layers":2,
    "num_attention_heads":4,"intermediate_size":96,"vocab_size":80,"rope_parameters":{"rope_type":"yarn"}})",
                                "config.json")
                    .status(),
                ErrorKind::kUnsupported, {"rope_parameters", "yarn"});
}

TEST(HfConfigLoaderTest, GenerationConfig) {
  GenerationDefaults d;
  ASSERT_TRUE(apply_generation_config(R"({"eos_token_id": 7, "temperature": 0.6, "top_p": 0.9, "top_k": 20,
      "min_p": 0.05, "repetition_penalty": 1.1, "bos_token_id": 1, "do_sample": true})",
                                      "g.json", d)
                  .ok());
  EXPECT_EQ(d.eos_token_ids, (std::vector<int32_t>{7}));
  EXPECT_EQ(d.temperature, 0.6f);
  EXPECT_EQ(d.top_p, 0.9f);
  EXPECT_EQ(d.top_k, 20);
  EXPECT_EQ(d.min_p, 0.05f);
  EXPECT_EQ(d.repetition_penalty, 1.1f);
  EXPECT_EQ(d.bos_token_id, 1);
  GenerationDefaults e;
  ASSERT_TRUE(apply_generation_config(R"({"eos_token_id": [2, 3, 2], "temperature": null})", "g.json", e).ok());
  EXPECT_EQ(e.eos_token_ids, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(e.temperature, -1.0f);
  expect_status(apply_generation_config(R"({"top_k": -3})", "g.json", e), ErrorKind::kMalformedFile, {"top_k"});
  expect_status(apply_generation_config(R"({"temperature": "hot"})", "g.json", e), ErrorKind::kMalformedFile,
                {"temperature"});
  expect_status(apply_generation_config("nope", "g.json", e), ErrorKind::kMalformedFile, {"g.json"});
}

TEST(HfConfigLoaderTest, ChatTemplate) {
  auto s = parse_chat_template(R"({"chat_template": "T"})", "t.json");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value(), "T");
  auto list = parse_chat_template(
      R"({"chat_template": [{"name":"rag","template":"R"},{"name":"default","template":"D"}]})", "t.json");
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list.value(), "D");
  auto first =
      parse_chat_template(R"({"chat_template": [{"name":"a","template":"A"},{"name":"b","template":"B"}]})", "t.json");
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first.value(), "A");
  auto none = parse_chat_template(R"({"model_max_length": 10})", "t.json");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.value().has_value());
  expect_status(parse_chat_template(R"({"chat_template": 3})", "t.json").status(), ErrorKind::kMalformedFile,
                {"chat_template"});
  expect_status(parse_chat_template(R"({"chat_template": [{"name":"a"}]})", "t.json").status(),
                ErrorKind::kMalformedFile, {"chat_template"});
}

TEST(HfConfigLoaderTest, SpecLimits) {
  ModelSpec s;
  s.n_layers = 2;
  s.hidden = 64;
  s.n_heads = 4;
  s.n_kv_heads = 3;
  s.head_dim = 16;
  s.intermediate = 96;
  s.vocab = 80;
  s.max_position = 128;
  expect_status(check_spec(s, "f"), ErrorKind::kMalformedFile, {"multiple of n_kv_heads"});
  s.n_kv_heads = 2;
  EXPECT_TRUE(check_spec(s, "f").ok());
  s.vocab = 1 << 30;
  expect_status(check_spec(s, "f"), ErrorKind::kMalformedFile, {"vocab"});
  s.vocab = 80;
  s.n_layers = 0;
  expect_status(check_spec(s, "f"), ErrorKind::kMalformedFile, {"n_layers"});
  s.n_layers = 2;
  s.head_dim = 15;
  expect_status(check_spec(s, "f"), ErrorKind::kMalformedFile, {"head_dim"});
}

// --- GGUF models in memory ---------------------------------------------------

constexpr int kH = 8, kHeads = 2, kKv = 1, kHd = 4, kInter = 16, kVocab = 10, kLayers = 1;

std::vector<float> iota(size_t n, float base) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = base + static_cast<float>(i);
  return v;
}

GgufBuilder tiny_model(const std::string& arch, bool with_output, const std::string& skip = "") {
  GgufBuilder b;
  b.kv_str("general.architecture", arch)
      .kv_u32(arch + ".block_count", kLayers)
      .kv_u32(arch + ".context_length", 256)
      .kv_u32(arch + ".embedding_length", kH)
      .kv_u32(arch + ".feed_forward_length", kInter)
      .kv_u32(arch + ".attention.head_count", kHeads)
      .kv_u32(arch + ".attention.head_count_kv", kKv)
      .kv_f32(arch + ".attention.layer_norm_rms_epsilon", 1e-5f)
      .kv_f32(arch + ".rope.freq_base", 10000.0f)
      .kv_u32("tokenizer.ggml.bos_token_id", 1)
      .kv_u32("tokenizer.ggml.eos_token_id", 2)
      .kv_u32("tokenizer.ggml.eot_token_id", 3)
      .kv_f32("general.sampling.temp", 0.7f)
      .kv_str("tokenizer.chat_template", "{{x}}");
  auto add = [&](const std::string& name, std::vector<uint64_t> dims, float base) {
    if (name == skip) return;
    size_t n = 1;
    for (auto d : dims) n *= d;
    b.tensor_f32(name, dims, iota(n, base));
  };
  add("token_embd.weight", {kH, kVocab}, 0);
  add("output_norm.weight", {kH}, 1000);
  if (with_output) add("output.weight", {kH, kVocab}, 2000);
  add("blk.0.attn_norm.weight", {kH}, 3000);
  add("blk.0.attn_q.weight", {kH, kHeads * kHd}, 4000);
  add("blk.0.attn_k.weight", {kH, kKv * kHd}, 5000);
  add("blk.0.attn_v.weight", {kH, kKv * kHd}, 6000);
  if (arch == "qwen2") {
    add("blk.0.attn_q.bias", {kHeads * kHd}, 4500);
    add("blk.0.attn_k.bias", {kKv * kHd}, 5500);
    add("blk.0.attn_v.bias", {kKv * kHd}, 6500);
  }
  add("blk.0.attn_output.weight", {kHeads * kHd, kH}, 7000);
  add("blk.0.ffn_norm.weight", {kH}, 8000);
  add("blk.0.ffn_gate.weight", {kH, kInter}, 9000);
  add("blk.0.ffn_up.weight", {kH, kInter}, 10000);
  add("blk.0.ffn_down.weight", {kInter, kH}, 11000);
  return b;
}

Result<LoadedModel> load_mem(const GgufBuilder& b, std::optional<DType> dtype = DType::kF32) {
  auto f = GgufFile::parse(b.build(), "tiny.gguf");
  if (!f.ok()) return f.status();
  return read_gguf_model(f.value(), dtype);
}

TEST(GgufModelLoaderTest, LlamaSpecDefaultsAndUnpermutedQ) {
  std::vector<float> progress;
  auto f = GgufFile::parse(tiny_model("llama", false).build(), "tiny.gguf");
  ASSERT_TRUE(f.ok()) << f.status().message();
  auto m = read_gguf_model(f.value(), DType::kF32, [&](float p) { progress.push_back(p); });
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->spec.arch, Architecture::kLlama);
  EXPECT_EQ(m->spec.head_dim, kHd);
  EXPECT_EQ(m->spec.vocab, kVocab);
  EXPECT_EQ(m->spec.max_position, 256);
  EXPECT_TRUE(m->spec.tied_embeddings);
  EXPECT_EQ(m->defaults.eos_token_ids, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(m->defaults.bos_token_id, 1);
  EXPECT_EQ(m->defaults.temperature, 0.7f);
  EXPECT_EQ(m->chat_template, "{{x}}");
  EXPECT_EQ(m->format, "gguf");
  ASSERT_FALSE(progress.empty());
  EXPECT_EQ(progress.back(), 1.0f);
  for (size_t i = 1; i < progress.size(); ++i) EXPECT_GE(progress[i], progress[i - 1]);

  const LayerWeights& L = m->weights.layers[0];
  EXPECT_EQ(L.wq.shape, (std::vector<int64_t>{kHeads * kHd, kH}));
  EXPECT_TRUE(m->weights.lm_head.empty());
  // File row r of head h holds HF row h*4 + [0, 2, 1, 3][r] (pairs (j, j+2) interleaved).
  const int file_row_of_hf_row[4] = {0, 2, 1, 3};
  for (int h = 0; h < kHeads; ++h) {
    for (int r = 0; r < kHd; ++r) {
      const int file_row = h * kHd + file_row_of_hf_row[r];
      EXPECT_EQ(L.wq.f32()[(h * kHd + r) * kH], 4000.0f + file_row * kH) << h << " " << r;
    }
  }
  EXPECT_EQ(L.wk.f32()[1 * kH], 5000.0f + 2 * kH);  // HF row 1 <- file row 2
  EXPECT_EQ(L.wv.f32()[1 * kH], 6000.0f + 1 * kH);  // V is not permuted
  EXPECT_EQ(m->weights.embed.f32()[3 * kH + 5], 3 * kH + 5.0f);
}

TEST(GgufModelLoaderTest, Qwen2BiasUntiedNotPermutedBf16) {
  auto m = load_mem(tiny_model("qwen2", true), DType::kBF16);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_TRUE(m->spec.qkv_bias);
  EXPECT_FALSE(m->spec.tied_embeddings);
  const LayerWeights& L = m->weights.layers[0];
  EXPECT_EQ(L.wq.dtype, DType::kBF16);
  EXPECT_EQ(L.bq.shape, (std::vector<int64_t>{kHeads * kHd}));
  uint16_t h;
  std::memcpy(&h, L.wq.data.data() + 2 * (1 * kH), 2);  // row 1 stays row 1
  EXPECT_EQ(h, f32_to_bf16(4000.0f + kH));
  EXPECT_EQ(m->weights.lm_head.shape, (std::vector<int64_t>{kVocab, kH}));
}

TEST(GgufModelLoaderTest, InspectReadsNoWeights) {
  auto m = load_mem(tiny_model("llama", false), std::nullopt);
  ASSERT_TRUE(m.ok());
  EXPECT_TRUE(m->weights.layers.empty());
  EXPECT_EQ(m->spec.n_layers, kLayers);
}

TEST(GgufModelLoaderTest, ErrorsNameFileAndTensorOrKey) {
  expect_status(load_mem(tiny_model("llama", false, "blk.0.ffn_up.weight")).status(), ErrorKind::kMalformedFile,
                {"tiny.gguf", "blk.0.ffn_up.weight", "missing"});
  expect_status(load_mem(tiny_model("llama", false, "token_embd.weight")).status(), ErrorKind::kMalformedFile,
                {"token_embd.weight"});
  expect_status(load_mem(tiny_model("gpt2", false)).status(), ErrorKind::kUnsupported, {"'gpt2'"});
  GgufBuilder wrong = tiny_model("llama", false, "blk.0.ffn_norm.weight");
  wrong.tensor_f32("blk.0.ffn_norm.weight", {kH + 1}, iota(kH + 1, 0));
  expect_status(load_mem(wrong).status(), ErrorKind::kMalformedFile, {"blk.0.ffn_norm.weight", "[9]", "[8]"});
  GgufBuilder q = tiny_model("llama", false, "blk.0.ffn_norm.weight");
  q.tensor("blk.0.ffn_norm.weight", GgmlType::kI32, {kH}, GgufBuilder::Bytes(4 * kH));
  expect_status(load_mem(q).status(), ErrorKind::kUnsupported, {"blk.0.ffn_norm.weight", "i32"});
  GgufBuilder no_eps;
  no_eps.kv_str("general.architecture", "llama").kv_u32("llama.block_count", 1);
  expect_status(load_mem(no_eps).status(), ErrorKind::kMalformedFile, {"llama.embedding_length", "missing"});
  GgufBuilder many = tiny_model("llama", false);
  many.kv_u32("llama.vocab_size", 11);
  expect_status(load_mem(many).status(), ErrorKind::kMalformedFile, {"llama.vocab_size"});
}

TEST(GgufModelLoaderTest, HugeHyperParametersAreRefusedBeforeAllocating) {
  GgufBuilder b;
  b.kv_str("general.architecture", "llama")
      .kv_u32("llama.block_count", 2000000000)
      .kv_u32("llama.context_length", 256)
      .kv_u32("llama.embedding_length", kH)
      .kv_u32("llama.feed_forward_length", kInter)
      .kv_u32("llama.attention.head_count", kHeads)
      .kv_f32("llama.attention.layer_norm_rms_epsilon", 1e-5f)
      .tensor_f32("token_embd.weight", {kH, kVocab}, iota(kH * kVocab, 0));
  expect_status(load_mem(b).status(), ErrorKind::kMalformedFile, {"n_layers"});
}

TEST(WeightLoaderTest, UnpermuteRowsInvertsLlamaCppPermutation) {
  // llama.cpp: w.reshape(n_head, 2, hd/2, cols).swapaxes(1, 2): file row
  // h*hd + 2j + t holds HF row h*hd + t*hd/2 + j.
  const int heads = 3, hd = 8, cols = 2;
  std::vector<float> hf(heads * hd * cols), file(hf.size());
  for (size_t i = 0; i < hf.size(); ++i) hf[i] = static_cast<float>(i);
  for (int h = 0; h < heads; ++h)
    for (int j = 0; j < hd / 2; ++j)
      for (int t = 0; t < 2; ++t)
        for (int c = 0; c < cols; ++c)
          file[((h * hd) + 2 * j + t) * cols + c] = hf[((h * hd) + t * hd / 2 + j) * cols + c];
  std::span<std::byte> bytes(reinterpret_cast<std::byte*>(file.data()), file.size() * 4);
  unpermute_rows(bytes, heads, hd, cols, 4);
  EXPECT_EQ(file, hf);
}

// --- load_model / inspect_model paths ----------------------------------------

TEST(ModelLoaderTest, PathErrors) {
  expect_status(inspect_model("/nonexistent/model.gguf").status(), ErrorKind::kIo, {"/nonexistent/model.gguf"});
  const fs::path dir = fs::temp_directory_path() / "tandem_loader_test_dir";
  fs::remove_all(dir);
  fs::create_directories(dir);
  expect_status(inspect_model(dir.string()).status(), ErrorKind::kIo, {"config.json"});
  std::ofstream(dir / "w.safetensors") << "x";
  expect_status(inspect_model((dir / "w.safetensors").string()).status(), ErrorKind::kUnsupported, {"model directory"});
  std::ofstream(dir / "junk.gguf") << "this is not gguf at all";
  expect_status(load_model((dir / "junk.gguf").string(), DType::kF32).status(), ErrorKind::kMalformedFile,
                {"junk.gguf", "magic"});
  // An index that names a shard that is not there.
  std::ofstream(dir / "config.json") << R"({"architectures":["LlamaForCausalLM"],"hidden_size":64,
    "num_hidden_layers":2,"num_attention_heads":4,"intermediate_size":96,"vocab_size":80})";
  std::ofstream(dir / "model.safetensors.index.json")
      << R"({"weight_map":{"model.norm.weight":"model-00001-of-00002.safetensors"}})";
  expect_status(inspect_model(dir.string()).status(), ErrorKind::kMalformedFile,
                {"model.safetensors.index.json", "model-00001-of-00002.safetensors"});
  fs::remove_all(dir);
}

TEST(ModelLoaderTest, GgufFileOnDiskLoads) {
  const fs::path path = fs::temp_directory_path() / "tandem_loader_test.gguf";
  auto bytes = tiny_model("qwen2", false).build();
  {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto m = load_model(path.string(), DType::kF32);
  ASSERT_TRUE(m.ok()) << m.status().message();
  EXPECT_EQ(m->path, path.string());
  EXPECT_EQ(m->weights.layers.size(), 1u);
  auto i = inspect_model(path.string());
  ASSERT_TRUE(i.ok());
  EXPECT_EQ(i->spec.arch, Architecture::kQwen2);
  fs::remove(path);
}

}  // namespace
}  // namespace tandem::engine

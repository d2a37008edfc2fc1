#include "gpu/ops/model_shapes.h"

namespace tandem::gpu_ops {
namespace {

engine::ModelSpec make(engine::Architecture arch, int hidden, int heads, int kv_heads, int head_dim, int inter,
                       int vocab, float eps, float theta) {
  engine::ModelSpec s;
  s.arch = arch;
  s.n_layers = 2;
  s.hidden = hidden;
  s.n_heads = heads;
  s.n_kv_heads = kv_heads;
  s.head_dim = head_dim;
  s.intermediate = inter;
  s.vocab = vocab;
  s.rms_eps = eps;
  s.rope.theta = theta;
  return s;
}

}  // namespace

const char* model_name(Model m) {
  switch (m) {
    case Model::kQwen3_0_6B: return "qwen3-0.6b";
    case Model::kLlama31_8B: return "llama3.1-8b";
    case Model::kSmolLM2_135M: return "smollm2-135m";
    case Model::kQwen25_0_5B: return "qwen2.5-0.5b";
  }
  return "?";
}

const engine::ModelSpec& model_spec(Model m) {
  static const engine::ModelSpec qwen3 = [] {
    engine::ModelSpec s = make(engine::Architecture::kQwen3, 1024, 16, 8, 128, 3072, 151936, 1e-6f, 1000000.0f);
    s.qk_norm = true;
    return s;
  }();
  static const engine::ModelSpec llama = [] {
    engine::ModelSpec s = make(engine::Architecture::kLlama, 4096, 32, 8, 128, 14336, 128256, 1e-5f, 500000.0f);
    s.rope.scaling = engine::RopeScalingType::kLlama3;
    s.rope.factor = 8.0f;
    s.rope.low_freq_factor = 1.0f;
    s.rope.high_freq_factor = 4.0f;
    s.rope.original_max_position = 8192;
    return s;
  }();
  static const engine::ModelSpec smollm =
      make(engine::Architecture::kLlama, 576, 9, 3, 64, 1536, 49152, 1e-5f, 100000.0f);
  static const engine::ModelSpec qwen25 = [] {
    engine::ModelSpec s = make(engine::Architecture::kQwen2, 896, 14, 2, 64, 4864, 151936, 1e-6f, 1000000.0f);
    s.qkv_bias = true;
    return s;
  }();
  switch (m) {
    case Model::kQwen3_0_6B: return qwen3;
    case Model::kLlama31_8B: return llama;
    case Model::kSmolLM2_135M: return smollm;
    case Model::kQwen25_0_5B: return qwen25;
  }
  return qwen3;
}

const char* product_name(Product p) {
  switch (p) {
    case Product::kQkv: return "qkv";
    case Product::kO: return "o";
    case Product::kGateUp: return "gate_up";
    case Product::kDown: return "down";
    case Product::kLmHead: return "lm_head";
  }
  return "?";
}

MatrixShape product_shape(Model model, Product p) {
  const engine::ModelSpec& s = model_spec(model);
  const int q_dim = s.n_heads * s.head_dim;
  const int kv_dim = s.n_kv_heads * s.head_dim;
  switch (p) {
    case Product::kQkv: return {q_dim + 2 * kv_dim, s.hidden};
    case Product::kO: return {s.hidden, q_dim};
    case Product::kGateUp: return {2 * s.intermediate, s.hidden};
    case Product::kDown: return {s.hidden, s.intermediate};
    case Product::kLmHead: return {s.vocab, s.hidden};
  }
  return {};
}

}  // namespace tandem::gpu_ops

// The real model shapes the op checks run at (hyper-parameters as in each
// model's config.json; n_layers is 2 here: the checks write layer 1 of a
// two-layer KV pool, so a wrong layer offset shows).
#pragma once

#include <string>

#include "engine/model_spec.h"

namespace tandem::gpu_ops {

enum class Model {
  kQwen3_0_6B,    // hidden 1024, heads 16/8, head_dim 128, MLP 3072, vocab 151936, q/k norm
  kLlama31_8B,    // hidden 4096, heads 32/8, head_dim 128, MLP 14336, vocab 128256, llama3 RoPE scaling
  kSmolLM2_135M,  // hidden 576, heads 9/3, head_dim 64, MLP 1536, vocab 49152
  kQwen25_0_5B,   // hidden 896, heads 14/2, head_dim 64, MLP 4864, vocab 151936, QKV bias
};

inline constexpr Model kModels[] = {Model::kQwen3_0_6B, Model::kLlama31_8B, Model::kSmolLM2_135M, Model::kQwen25_0_5B};

const char* model_name(Model m);  // "qwen3-0.6b", ...
const engine::ModelSpec& model_spec(Model m);

// The matrix products of a layer and the LM head, as the CUDA runner fuses them (device_weights.h):
// W is [m, k] row-major (out_features x in_features).
enum class Product {
  kQkv,     // [(n_heads + 2 n_kv_heads) head_dim, hidden]
  kO,       // [hidden, n_heads head_dim]
  kGateUp,  // [2 intermediate, hidden]
  kDown,    // [hidden, intermediate]
  kLmHead,  // [vocab, hidden]
};

inline constexpr Product kProducts[] = {Product::kQkv, Product::kO, Product::kGateUp, Product::kDown, Product::kLmHead};

struct MatrixShape {
  int m = 0;
  int k = 0;
};

const char* product_name(Product p);  // "qkv", "o", "gate_up", "down", "lm_head"
MatrixShape product_shape(Model model, Product p);

}  // namespace tandem::gpu_ops

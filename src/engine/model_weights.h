// Host-side weights of a Llama-family model, in Hugging Face conventions,
// produced by the loaders and consumed by runners (which may convert them).
//
// Conventions: a linear layer's weight is row-major [out_features, in_features]
// (y = W x). Q/K projections are in HF order (rotate-half RoPE); loaders undo
// GGUF's interleaved permutation for llama-arch files. Quantized file types
// are dequantized to `dtype` at load.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model_spec.h"

namespace tandem::engine {

enum class DType { kF32, kF16, kBF16 };

size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);

struct Tensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;   // row-major; empty shape = absent tensor
  std::vector<std::byte> data;  // shape product * dtype_size bytes

  bool empty() const { return shape.empty(); }
  int64_t numel() const;
  const float* f32() const { return reinterpret_cast<const float*>(data.data()); }
  float* f32() { return reinterpret_cast<float*>(data.data()); }
};

// A shape as messages print it: "[4096, 1024]".
std::string shape_string(const std::vector<int64_t>& shape);

// The checks a runner makes on each tensor it takes, failing with
// kMalformedFile naming `name`: check_tensor_data, that `t` is present and its
// data holds exactly shape x dtype bytes; check_tensor_shape, that and that its
// shape is exactly `want`.
Status check_tensor_data(const Tensor& t, const std::string& name);
Status check_tensor_shape(const Tensor& t, const std::vector<int64_t>& want, const std::string& name);

struct LayerWeights {
  Tensor attn_norm;       // [hidden]
  Tensor wq, wk, wv;      // [n_heads*head_dim, hidden], [n_kv_heads*head_dim, hidden] x2
  Tensor bq, bk, bv;      // biases (qkv_bias only), [out]
  Tensor q_norm, k_norm;  // [head_dim] (qk_norm only)
  Tensor wo;              // [hidden, n_heads*head_dim]
  Tensor ffn_norm;        // [hidden]
  Tensor w_gate, w_up;    // [intermediate, hidden]
  Tensor w_down;          // [hidden, intermediate]
};

struct ModelWeights {
  Tensor embed;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  Tensor final_norm;  // [hidden]
  Tensor lm_head;     // [vocab, hidden]; empty when tied to embed
};

}  // namespace tandem::engine

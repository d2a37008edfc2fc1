// engine::load_weights: fills ModelWeights from any tensor source (GGUF or
// safetensors) by Hugging Face tensor name, checking that every tensor the
// spec requires is present with the exact shape, converting it to the
// requested dtype and, for llama-arch GGUF, undoing the Q/K row permutation.
//
// Tensor names are HF's ("model.embed_tokens.weight",
// "model.layers.3.self_attn.q_proj.weight", "lm_head.weight", ...); the GGUF
// reader translates them. Shapes are row-major.
//
// Failure: kMalformedFile naming the file and tensor (missing, wrong shape),
// kUnsupported (a tensor type that cannot be converted). Threads: blocking;
// converts large tensors on a few helper threads; `progress` is called on the
// calling thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model_spec.h"
#include "engine/model_weights.h"
#include "model_files/gguf_types.h"

namespace tandem::engine {

// A tensor as found in a model file, before conversion.
struct SourceTensor {
  std::string file;  // for messages
  std::string name;  // its name in that file
  // safetensors F32/F16/BF16 map to the same ggml types
  model_files::GgmlType type = model_files::GgmlType::kF32;
  std::vector<int64_t> shape;       // row-major
  std::span<const std::byte> data;  // whole blocks of `type`, already bounds-checked
};

// Looks a tensor up by HF name: nullopt when absent; an error when present but
// unusable (e.g. a dtype the loader cannot convert).
using TensorSource = std::function<Result<std::optional<SourceTensor>>(const std::string& hf_name)>;

struct WeightLoadOptions {
  DType dtype = DType::kF32;
  bool unpermute_qk = false;  // llama.cpp's converter permuted Q/K rows (llama arch)
  std::function<void(float)> progress;
  std::string model_name;  // for messages when a tensor is missing
  // The file's name for an HF tensor name, for messages (identity when unset).
  std::function<std::string(const std::string&)> file_tensor_name;
};

Result<ModelWeights> load_weights(const ModelSpec& spec, const TensorSource& source, const WeightLoadOptions& options);

// Undoes llama.cpp's Q/K permutation in place on a row-major [n_heads*head_dim,
// cols] matrix of `elem_bytes`-sized elements (cols = 1 for a bias): file row
// h*head_dim + 2*j + t becomes HF row h*head_dim + t*head_dim/2 + j.
void unpermute_rows(std::span<std::byte> data, int n_heads, int head_dim, int64_t cols, size_t elem_bytes);

}  // namespace tandem::engine

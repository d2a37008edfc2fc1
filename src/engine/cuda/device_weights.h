// DeviceWeights: a model's weights in one device allocation, bf16, in the
// layout the CUDA runner reads: per layer a fused QKV matrix
// [(n_heads + 2 n_kv_heads) head_dim, hidden] (Q rows, then K, then V), a fused
// gate/up matrix [2 intermediate, hidden] (gate rows, then up), wo, w_down,
// norms, optional QKV bias and q/k norms; the embedding table and the LM head
// (the embedding table itself when tied).
//
// Threads: built and read by the runner's thread. Failure: kMalformedFile
// naming the tensor whose shape does not match the spec; kDevice on OOM or a
// failed copy.
#pragma once

#include <cuda_bf16.h>

#include <cstddef>
#include <vector>

#include "common/status.h"
#include "engine/cuda/device_buffer.h"
#include "engine/model_spec.h"
#include "engine/model_weights.h"

namespace tandem::engine::cuda {

struct DeviceLayer {
  const __nv_bfloat16* attn_norm = nullptr;  // [hidden]
  const __nv_bfloat16* wqkv = nullptr;       // [qkv_dim, hidden]
  const __nv_bfloat16* bqkv = nullptr;       // [qkv_dim] or null
  const __nv_bfloat16* q_norm = nullptr;     // [head_dim] or null
  const __nv_bfloat16* k_norm = nullptr;     // [head_dim] or null
  const __nv_bfloat16* wo = nullptr;         // [hidden, n_heads head_dim]
  const __nv_bfloat16* ffn_norm = nullptr;   // [hidden]
  const __nv_bfloat16* w_gate_up = nullptr;  // [2 intermediate, hidden]
  const __nv_bfloat16* w_down = nullptr;     // [hidden, intermediate]
};

class DeviceWeights {
 public:
  // Uploads `weights` (moved in; host tensors released as they go).
  Status upload(const ModelSpec& spec, ModelWeights weights);

  const std::vector<DeviceLayer>& layers() const { return layers_; }
  const __nv_bfloat16* embed() const { return embed_; }
  const __nv_bfloat16* lm_head() const { return lm_head_; }
  const __nv_bfloat16* final_norm() const { return final_norm_; }
  size_t bytes() const { return buffer_.bytes(); }
  // Bytes of the matrices a decode step reads once (all but the embedding
  // table when the head is untied), for the HBM floor.
  size_t decode_read_bytes() const { return decode_read_bytes_; }

 private:
  DeviceBuffer buffer_;
  std::vector<DeviceLayer> layers_;
  const __nv_bfloat16* embed_ = nullptr;
  const __nv_bfloat16* lm_head_ = nullptr;
  const __nv_bfloat16* final_norm_ = nullptr;
  size_t decode_read_bytes_ = 0;
};

}  // namespace tandem::engine::cuda

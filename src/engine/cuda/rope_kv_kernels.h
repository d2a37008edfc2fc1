// QKV post-processing fused with the KV-cache write: per new token, adds the
// QKV bias (Qwen2), applies the per-head q/k RMSNorm (Qwen3), rotates q and k
// by RoPE (rotate-half convention, HF order; the frequencies already carry the
// linear / llama3 scaling), writes q as bf16 for attention and k, v as bf16
// into the token's slot of the paged KV pool (runner.h layout).
// One family, one .cu (rope_kv_kernels.cu).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "engine/cuda/launch_pdl.h"

namespace tandem::engine::cuda {

struct RopeKvParams {
  // [n_tokens, (n_heads + 2 n_kv_heads) head_dim], q | k | v: exactly one of the two is set (the QKV
  // product writes float32 on the decode GEMV path, bf16 on the cuBLASLt prefill path, as HF's bf16 does).
  const float* qkv = nullptr;
  const __nv_bfloat16* qkv_bf16 = nullptr;
  const __nv_bfloat16* bias = nullptr;    // [(n_heads + 2 n_kv_heads) head_dim] or null
  const __nv_bfloat16* q_norm = nullptr;  // [head_dim] or null (then k_norm is null too)
  const __nv_bfloat16* k_norm = nullptr;  // [head_dim] or null
  const float* inv_freq = nullptr;        // [head_dim / 2], radians per position
  const int32_t* positions = nullptr;     // [n_tokens]
  const int32_t* kv_slots = nullptr;      // [n_tokens], block * block_tokens + slot
  __nv_bfloat16* q_out = nullptr;         // [n_tokens, n_heads, head_dim]
  __nv_bfloat16* kv_pool = nullptr;       // the pool; block b starts at b * block_elems
  int64_t block_elems = 0;                // elements per block (all layers, K and V)
  int layer = 0;
  int n_tokens = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;  // 64, 128 or 256
  int block_tokens = 0;
  float eps = 1e-6f;            // q/k norm epsilon
  PdlMode pdl = PdlMode::kOff;  // launch_pdl.h: metadata, angles, bias, norms before its wait; qkv and the pool after
  Status check() const;
  size_t workspace_bytes() const { return 0; }
};
Status launch(const RopeKvParams& p, cudaStream_t stream);

}  // namespace tandem::engine::cuda

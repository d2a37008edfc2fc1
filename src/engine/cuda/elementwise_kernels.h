// Element-wise and row-wise kernels around the matrix products: embedding
// gather, RMSNorm and SwiGLU. One family, one .cu (elementwise_kernels.cu).
// Each kernel: params struct (shapes in elements, row-major), check(),
// workspace_bytes() (none need any), launch(params, stream) -> Status.
// Residual adds are fused into the cuBLASLt epilogue (beta = 1 on the float32
// residual stream), so RMSNorm reads the already-updated stream once.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "engine/cuda/launch_pdl.h"

namespace tandem::engine::cuda {

// out[t, :] = float(table[ids[t], :]).
struct EmbeddingParams {
  const __nv_bfloat16* table = nullptr;  // [vocab, hidden]
  const int32_t* ids = nullptr;          // [n_tokens], each in [0, vocab) (validated by the runner)
  float* out = nullptr;                  // [n_tokens, hidden]
  int n_tokens = 0;
  int hidden = 0;  // multiple of 8
  Status check() const;
  size_t workspace_bytes() const { return 0; }
};
Status launch(const EmbeddingParams& p, cudaStream_t stream);

// out[r, :] = bf16(x[row(r), :] * rsqrt(mean(x[row(r)]^2) + eps) * weight), row(r) = rows ? rows[r] : r.
struct RmsNormParams {
  const float* x = nullptr;               // [*, hidden] residual stream
  const int32_t* rows = nullptr;          // [n_rows] rows of x to normalize, or null for 0..n_rows-1
  const __nv_bfloat16* weight = nullptr;  // [hidden]
  __nv_bfloat16* out = nullptr;           // [n_rows, hidden]
  int n_rows = 0;
  int hidden = 0;  // multiple of 4
  float eps = 1e-6f;
  PdlMode pdl = PdlMode::kOff;  // launch_pdl.h: rows and weight before its wait, x after
  Status check() const;
  size_t workspace_bytes() const { return 0; }
};
Status launch(const RmsNormParams& p, cudaStream_t stream);

// out[t, i] = bf16(silu(gate_up[t, i]) * gate_up[t, inter + i]).
struct SiluMulParams {
  const __nv_bfloat16* gate_up = nullptr;  // [n_tokens, 2 * inter]: gate columns then up columns
  __nv_bfloat16* out = nullptr;            // [n_tokens, inter]
  int n_tokens = 0;
  int inter = 0;  // multiple of 8
  Status check() const;
  size_t workspace_bytes() const { return 0; }
};
Status launch(const SiluMulParams& p, cudaStream_t stream);

}  // namespace tandem::engine::cuda

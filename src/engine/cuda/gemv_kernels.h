// Small-n matrix products (decode: n <= 8 tokens) as a weight-streaming GEMV:
// y[t, :] = x[t, :] . W^T (+ y when accumulate), W row-major [m, k] bf16,
// x row-major [n, k] bf16, float32 accumulation, y float32 or bf16.
// Each block owns kRows output rows and its threads stride over k in 16-byte
// pieces, so every byte of W is read once with wide, coalesced loads; the x
// rows are re-read from L1/L2. n is rounded up to 1, 2, 4 or 8 inside (the
// extra x rows are read, never written), so x must have room for that many
// rows. One family, one .cu (gemv_kernels.cu).
//
// Decode pipelining (launch_pdl.h): with pdl != kOff the kernel may start
// while the previous kernel runs; before its pdl_wait() it only loads its
// first weight pieces into registers (weights are never written by a step),
// then waits, then reads x and writes y. Blocks of 128 threads (k < 4096, the
// latency-bound small products) also load their first RMSNorm weight piece
// before the wait and, with accumulate, the y they add to right after it.
// Batch 1 with k < 4096 takes a short-row kernel instead: every weight piece
// of the block's rows in registers before the wait, x read once, the RMSNorm
// sum of squares reduced together with the row sums (one barrier), at most 40
// registers for k <= 1024, so both products of a layer run in one wave
// (faster than the general kernel on these latency-bound shapes).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>

#include "common/status.h"
#include "engine/cuda/launch_pdl.h"

namespace tandem::engine::cuda {

// What the GEMV reads as its input row x_t (fused prologues save a kernel per
// use in decode steps):
enum class GemvInput {
  kBf16,     // x: bf16 [round_up(n), k]
  kRmsNorm,  // x_f32: float32 residual stream [round_up(n), k]; x_t = x_f32_t * rsqrt(mean(x_f32_t^2) + eps) *
             // norm_weight
  kSiluMul,  // x: bf16 [round_up(n), 2k] gate | up; x_t = silu(gate_t) * up_t
};

struct GemvParams {
  const __nv_bfloat16* w = nullptr;  // [m, k]
  GemvInput input = GemvInput::kBf16;
  const __nv_bfloat16* x =
      nullptr;                   // kBf16: [round_up(n), k]; kSiluMul: [round_up(n), 2k] (rows past n: read, ignored)
  const float* x_f32 = nullptr;  // kRmsNorm: [round_up(n), k]
  const __nv_bfloat16* norm_weight = nullptr;  // kRmsNorm: [k]
  float eps = 1e-6f;                           // kRmsNorm
  void* y = nullptr;                           // [n, m] float32 (y_f32) or bf16
  bool y_f32 = true;
  bool accumulate = false;  // y += (float32 y only)
  int m = 0;                // multiple of kRows
  int n = 0;                // 1..kMaxN
  int k = 0;                // multiple of 8
  PdlMode pdl = PdlMode::kOff;

  static constexpr int kRows = 4;
  static constexpr int kMaxN = 8;
  Status check() const;
  size_t workspace_bytes() const { return 0; }
};
Status launch(const GemvParams& p, cudaStream_t stream);

}  // namespace tandem::engine::cuda

// GemmLt: matrix products through cuBLASLt, bf16 inputs, fp32 accumulation,
// the algorithm chosen once per shape by cuBLASLt's heuristic and cached, one
// workspace owned by the object.
//
// Shapes are row-major, as the runner stores them: y[n, m] = x[n, k] . W[m, k]^T
// (+ beta * y), with W a linear layer's weight ([out_features, in_features]).
// In cuBLASLt's column-major terms this is D[m, n] = op(A)^T B with A = W
// (transa = T), the layout cuBLASLt serves best. beta = 1 on a float32 y adds
// the residual in the epilogue (residual add fused into the product).
//
// Small n (decode, n <= 8) runs on the own weight-streaming GEMV kernel,
// which cuBLASLt does not match on these shapes (bench: gemm_alone).
//
// Threads: one owner thread (the runner's worker). Graph capture: a shape seen
// once before capture needs no heuristic query, so capture is safe.
#pragma once

#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <map>
#include <tuple>

#include "common/status.h"
#include "engine/cuda/device_buffer.h"

namespace tandem::engine::cuda {

enum class GemmOut { kBF16, kF32 };

struct GemmArgs {
  const __nv_bfloat16* w = nullptr;  // [m, k] row-major
  const __nv_bfloat16* x = nullptr;  // [n, k] row-major
  void* y = nullptr;                 // [n, m] row-major, bf16 or f32 (out)
  GemmOut out = GemmOut::kBF16;
  int m = 0;                         // output features
  int n = 0;                         // tokens
  int k = 0;                         // input features
  float beta = 0.0f;                 // 0 or 1 (1 only with kF32: y += x W^T)
};

class GemmLt {
 public:
  GemmLt() = default;
  GemmLt(const GemmLt&) = delete;
  GemmLt& operator=(const GemmLt&) = delete;
  ~GemmLt();

  Status init(size_t workspace_bytes);
  // n <= 8 goes to the own GEMV kernel (gemv_kernels.h) unless disabled; x
  // then needs room for up to 8 rows.
  Status run(const GemmArgs& a, cudaStream_t stream);
  void set_small_n_gemv(bool on) { gemv_ = on; }
  // Whether run() with this n goes to the GEMV (so callers may fuse its prologue).
  bool uses_gemv(int n) const;

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  using Key = std::tuple<int, int, int, int, int>;  // m, n, k, out, beta != 0
  Status make_plan(const GemmArgs& a, Plan& plan);

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<Key, Plan> plans_;
  bool gemv_ = true;
};

}  // namespace tandem::engine::cuda

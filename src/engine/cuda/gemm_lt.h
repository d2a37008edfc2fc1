// GemmLt: matrix products through cuBLASLt, bf16 inputs, fp32 accumulation,
// the algorithm chosen once per shape and cached, one workspace owned by the
// object.
//
// Algorithm choice: cuBLASLt's heuristic answers up
// to kTuneCandidates algorithms; its first is 4-9% slower than the fastest of
// them on several Llama-3.1-8B prefill products (8K tokens, H200). So for
// n >= kTuneMinN GemmLt times the candidates once per (m, k, output, beta,
// n bucket) with bucket = bit_width(n) (n in [2^(b-1), 2^b)): round-robin,
// kTuneReps timed runs each on the caller's operands with the output written
// to a scratch allocation (y is never touched), and keeps the fastest when it
// beats the first by more than kTuneMargin. Later n in the same bucket reuse
// that algorithm when cublasLtMatmulAlgoCheck accepts it for their shape.
// Tuning never runs while the stream is being captured (the heuristic's first
// is used then, and the bucket stays untuned); its cost (sum in tuning_ms(),
// ~0.1 s per 8K-token 8B product) is paid once per bucket. Off by default:
// end to end on an H100 it did not pay;
// set_tuning(true) ([engine.cuda] gemm_autotune) turns it on. With it
// on, which algorithm wins may differ between processes, so logits may differ
// in the last bf16 bits between runs (as they already do between batch sizes).
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
#include <vector>

#include "common/status.h"
#include "engine/cuda/device_buffer.h"

namespace tandem::engine::cuda {

enum class GemmOut { kBF16, kF32 };

struct GemmArgs {
  const __nv_bfloat16* w = nullptr;  // [m, k] row-major
  const __nv_bfloat16* x = nullptr;  // [n, k] row-major
  void* y = nullptr;                 // [n, m] row-major, bf16 or f32 (out)
  GemmOut out = GemmOut::kBF16;
  int m = 0;          // output features
  int n = 0;          // tokens
  int k = 0;          // input features
  float beta = 0.0f;  // 0 or 1 (1 only with kF32: y += x W^T)
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
  // Algorithm tuning by timing (above); off until set_tuning(true).
  void set_tuning(bool on) { tune_ = on; }
  bool tuning() const { return tune_; }
  // Milliseconds spent timing candidates so far, and how many buckets were tuned.
  double tuning_ms() const { return tune_ms_; }
  int tuned_buckets() const { return static_cast<int>(tuned_.size()); }

  static constexpr int kTuneMinN = 64;
  static constexpr int kTuneCandidates = 8;
  static constexpr int kTuneReps = 5;
  static constexpr float kTuneMargin = 0.02f;

 private:
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
  };
  using Key = std::tuple<int, int, int, int, int>;      // m, n, k, out, beta != 0
  using TuneKey = std::tuple<int, int, int, int, int>;  // m, k, out, beta != 0, bit_width(n)
  // Fills plan (descriptors, heuristic's first algorithm) and the heuristic's candidates.
  Status make_plan(const GemmArgs& a, Plan& plan, std::vector<cublasLtMatmulAlgo_t>& candidates);
  // Picks plan.algo by timing `candidates` on a's operands (output to scratch).
  Status tune(const GemmArgs& a, Plan& plan, const std::vector<cublasLtMatmulAlgo_t>& candidates, cudaStream_t stream);

  cublasLtHandle_t handle_ = nullptr;
  DeviceBuffer workspace_;
  std::map<Key, Plan> plans_;
  std::map<TuneKey, cublasLtMatmulAlgo_t> tuned_;
  cudaEvent_t ev_[2] = {nullptr, nullptr};
  bool gemv_ = true;
  bool tune_ = false;
  double tune_ms_ = 0.0;
};

}  // namespace tandem::engine::cuda

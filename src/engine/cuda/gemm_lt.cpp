#include "engine/cuda/gemm_lt.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <string>

#include "engine/cuda/cublaslt_api.h"
#include "engine/cuda/cuda_check.h"
#include "engine/cuda/gemv_kernels.h"

namespace tandem::engine::cuda {
namespace {

// The GEMV beats cuBLASLt at n = 1 on every decode shape measured (bench
// gemm_alone, H100: 8B qkv 2.59 vs 2.25 TB/s) and loses at n = 8 (1.67 vs
// 2.22 TB/s): it re-reads x per weight piece from L1, which costs more as n grows.
constexpr int kGemvMaxN = 2;

// The loaded cuBLASLt table; valid once init() succeeded (every other method
// runs only after it).
const CublasLtApi& lt() { return *load_cublaslt().value(); }

}  // namespace

GemmLt::~GemmLt() {
  for (auto& [key, plan] : plans_) {
    lt().cublasLtMatrixLayoutDestroy(plan.a);
    lt().cublasLtMatrixLayoutDestroy(plan.b);
    lt().cublasLtMatrixLayoutDestroy(plan.c);
    lt().cublasLtMatmulDescDestroy(plan.desc);
  }
  if (handle_ != nullptr) lt().cublasLtDestroy(handle_);
  for (cudaEvent_t e : ev_) {
    if (e != nullptr) cudaEventDestroy(e);
  }
}

Status GemmLt::init(size_t workspace_bytes) {
  if (auto api = load_cublaslt(); !api.ok()) return api.status();
  TANDEM_CUBLAS_TRY(lt().cublasLtCreate(&handle_));
  for (cudaEvent_t& e : ev_) TANDEM_CUDA_TRY(cudaEventCreate(&e));
  return workspace_.allocate(workspace_bytes, "cuBLASLt workspace");
}

Status GemmLt::make_plan(const GemmArgs& a, Plan& plan, std::vector<cublasLtMatmulAlgo_t>& candidates) {
  const cudaDataType_t out_type = a.out == GemmOut::kF32 ? CUDA_R_32F : CUDA_R_16BF;
  TANDEM_CUBLAS_TRY(lt().cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  TANDEM_CUBLAS_TRY(
      lt().cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
  TANDEM_CUBLAS_TRY(
      lt().cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
  // Column-major: A = W as [k, m] (ld k), B = x as [k, n] (ld k), C = D = y as [m, n] (ld m).
  TANDEM_CUBLAS_TRY(lt().cublasLtMatrixLayoutCreate(&plan.a, CUDA_R_16BF, a.k, a.m, a.k));
  TANDEM_CUBLAS_TRY(lt().cublasLtMatrixLayoutCreate(&plan.b, CUDA_R_16BF, a.k, a.n, a.k));
  TANDEM_CUBLAS_TRY(lt().cublasLtMatrixLayoutCreate(&plan.c, out_type, a.m, a.n, a.m));
  cublasLtMatmulPreference_t pref = nullptr;
  TANDEM_CUBLAS_TRY(lt().cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = workspace_.bytes();
  lt().cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  // Only the first when no tuning can follow (exactly the untuned choice of before).
  const int wanted = tune_ && a.n >= kTuneMinN ? kTuneCandidates : 1;
  cublasLtMatmulHeuristicResult_t results[kTuneCandidates] = {};
  int found = 0;
  const cublasStatus_t s = lt().cublasLtMatmulAlgoGetHeuristic(handle_, plan.desc, plan.a, plan.b, plan.c, plan.c, pref,
                                                               wanted, results, &found);
  lt().cublasLtMatmulPreferenceDestroy(pref);
  candidates.clear();
  for (int i = 0; s == CUBLAS_STATUS_SUCCESS && i < found; ++i) {
    if (results[i].state == CUBLAS_STATUS_SUCCESS) candidates.push_back(results[i].algo);
  }
  if (candidates.empty()) {
    return Status(ErrorKind::kDevice, "cublasLt: no algorithm for m=" + std::to_string(a.m) +
                                          " n=" + std::to_string(a.n) + " k=" + std::to_string(a.k));
  }
  plan.algo = candidates[0];
  return {};
}

Status GemmLt::tune(const GemmArgs& a, Plan& plan, const std::vector<cublasLtMatmulAlgo_t>& candidates,
                    cudaStream_t stream) {
  const auto t_start = std::chrono::steady_clock::now();
  const size_t out_bytes = static_cast<size_t>(a.m) * a.n * (a.out == GemmOut::kF32 ? 4 : 2);
  void* scratch = nullptr;
  if (cudaMalloc(&scratch, out_bytes) != cudaSuccess) {
    cudaGetLastError();  // clear the allocation error; keep the heuristic's first
    spdlog::debug("[engine.cuda] gemm tune m={} n={} k={}: no room for a {} MiB scratch output; heuristic's first", a.m,
                  a.n, a.k, out_bytes >> 20);
    return {};
  }
  const float alpha = 1.0f;
  // C = y (read when beta = 1), D = scratch: the same traffic as the in-place product, y unchanged.
  auto run_one = [&](const cublasLtMatmulAlgo_t& algo) {
    return lt().cublasLtMatmul(handle_, plan.desc, &alpha, a.w, plan.a, a.x, plan.b, &a.beta, a.y, plan.c, scratch,
                               plan.c, &algo, workspace_.get(), workspace_.bytes(), stream);
  };
  const size_t n_cand = candidates.size();
  std::vector<std::vector<float>> ms(n_cand);
  std::vector<bool> ok(n_cand, true);
  Status status;
  auto cuda_ok = [&](cudaError_t e, const char* what) {
    if (e != cudaSuccess && status.ok()) status = cuda_error(e, what);
    return status.ok();
  };
  for (int rep = -1; rep < kTuneReps && status.ok(); ++rep) {  // rep -1: warm-up
    for (size_t c = 0; c < n_cand && status.ok(); ++c) {
      if (!ok[c] || !cuda_ok(cudaEventRecord(ev_[0], stream), "gemm tune: cudaEventRecord")) continue;
      if (run_one(candidates[c]) != CUBLAS_STATUS_SUCCESS) {
        ok[c] = false;  // this candidate cannot run here: skip it
        continue;
      }
      float t = 0.0f;
      if (cuda_ok(cudaEventRecord(ev_[1], stream), "gemm tune: cudaEventRecord") &&
          cuda_ok(cudaEventSynchronize(ev_[1]), "gemm tune: cudaEventSynchronize") &&
          cuda_ok(cudaEventElapsedTime(&t, ev_[0], ev_[1]), "gemm tune: cudaEventElapsedTime") && rep >= 0) {
        ms[c].push_back(t);
      }
    }
  }
  cudaFree(scratch);
  if (!status.ok()) return status;
  auto median = [](std::vector<float> v) {
    std::sort(v.begin(), v.end());
    return v.empty() ? 1e30f : v[v.size() / 2];
  };
  const float first = ok[0] ? median(ms[0]) : 1e30f;
  size_t best = 0;
  float best_ms = first;
  for (size_t c = 1; c < n_cand; ++c) {
    const float m = ok[c] ? median(ms[c]) : 1e30f;
    if (m < best_ms) best = c, best_ms = m;
  }
  // Leave the heuristic's first unless the winner is clearly faster (noise would otherwise flip choices).
  if (best != 0 && ok[0] && best_ms > first * (1.0f - kTuneMargin)) best = 0;
  plan.algo = candidates[best];
  const double cost = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t_start).count();
  tune_ms_ += cost;
  spdlog::debug(
      "[engine.cuda] gemm tune m={} n={} k={} out={} beta={}: heuristic's first {:.4f} ms, chose #{} of {} "
      "{:.4f} ms ({:.1f} ms spent)",
      a.m, a.n, a.k, a.out == GemmOut::kF32 ? "f32" : "bf16", a.beta, first, best, n_cand, best_ms, cost);
  return {};
}

bool GemmLt::uses_gemv(int n) const { return gemv_ && n >= 1 && n <= kGemvMaxN; }

Status GemmLt::run(const GemmArgs& a, cudaStream_t stream) {
  if (a.w == nullptr || a.x == nullptr || a.y == nullptr || a.m < 1 || a.k < 1 || a.n < 0) {
    return Status(ErrorKind::kInternal, "gemm: bad arguments");
  }
  if (a.beta != 0.0f && a.out != GemmOut::kF32) return Status(ErrorKind::kInternal, "gemm: beta needs f32 output");
  if (a.n == 0) return {};
  if (gemv_ && a.n <= kGemvMaxN && a.m % GemvParams::kRows == 0 && a.k % 8 == 0) {
    GemvParams g;
    g.w = a.w;
    g.x = a.x;
    g.y = a.y;
    g.y_f32 = a.out == GemmOut::kF32;
    g.accumulate = a.beta != 0.0f;
    g.m = a.m;
    g.n = a.n;
    g.k = a.k;
    return launch(g, stream);
  }
  const Key key{a.m, a.n, a.k, static_cast<int>(a.out), a.beta != 0.0f ? 1 : 0};
  auto it = plans_.find(key);
  if (it == plans_.end()) {
    Plan plan;
    std::vector<cublasLtMatmulAlgo_t> candidates;
    Status s = make_plan(a, plan, candidates);
    if (s.ok() && tune_ && a.n >= kTuneMinN && candidates.size() > 1) {
      const TuneKey tkey{a.m, a.k, static_cast<int>(a.out), a.beta != 0.0f ? 1 : 0,
                         static_cast<int>(std::bit_width(static_cast<unsigned>(a.n)))};
      if (auto t = tuned_.find(tkey); t != tuned_.end()) {
        // The bucket's winner, where cuBLASLt accepts it for this n (else the heuristic's first).
        cublasLtMatmulHeuristicResult_t check{};
        if (lt().cublasLtMatmulAlgoCheck(handle_, plan.desc, plan.a, plan.b, plan.c, plan.c, &t->second, &check) ==
                CUBLAS_STATUS_SUCCESS &&
            check.workspaceSize <= workspace_.bytes()) {
          plan.algo = t->second;
        }
      } else {
        cudaStreamCaptureStatus capture = cudaStreamCaptureStatusNone;
        if (const cudaError_t e = cudaStreamIsCapturing(stream, &capture); e != cudaSuccess) {
          s = cuda_error(e, "cudaStreamIsCapturing");
        } else if (capture == cudaStreamCaptureStatusNone) {  // never time inside a graph capture
          s = tune(a, plan, candidates, stream);
          if (s.ok()) tuned_.emplace(tkey, plan.algo);
        }
      }
    }
    if (!s.ok()) {
      lt().cublasLtMatrixLayoutDestroy(plan.a);
      lt().cublasLtMatrixLayoutDestroy(plan.b);
      lt().cublasLtMatrixLayoutDestroy(plan.c);
      lt().cublasLtMatmulDescDestroy(plan.desc);
      return s;
    }
    it = plans_.emplace(key, plan).first;
  }
  const Plan& plan = it->second;
  const float alpha = 1.0f;
  TANDEM_CUBLAS_TRY(lt().cublasLtMatmul(handle_, plan.desc, &alpha, a.w, plan.a, a.x, plan.b, &a.beta, a.y, plan.c, a.y,
                                        plan.c, &plan.algo, workspace_.get(), workspace_.bytes(), stream));
  return {};
}

}  // namespace tandem::engine::cuda

#include "engine/cuda/gemm_lt.h"

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
}

Status GemmLt::init(size_t workspace_bytes) {
  if (auto api = load_cublaslt(); !api.ok()) return api.status();
  TANDEM_CUBLAS_TRY(lt().cublasLtCreate(&handle_));
  return workspace_.allocate(workspace_bytes, "cuBLASLt workspace");
}

Status GemmLt::make_plan(const GemmArgs& a, Plan& plan) {
  const cudaDataType_t out_type = a.out == GemmOut::kF32 ? CUDA_R_32F : CUDA_R_16BF;
  TANDEM_CUBLAS_TRY(lt().cublasLtMatmulDescCreate(&plan.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t trans_a = CUBLAS_OP_T, trans_b = CUBLAS_OP_N;
  TANDEM_CUBLAS_TRY(lt().cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSA, &trans_a, sizeof(trans_a)));
  TANDEM_CUBLAS_TRY(lt().cublasLtMatmulDescSetAttribute(plan.desc, CUBLASLT_MATMUL_DESC_TRANSB, &trans_b, sizeof(trans_b)));
  // Column-major: A = W as [k, m] (ld k), B = x as [k, n] (ld k), C = D = y as [m, n] (ld m).
  TANDEM_CUBLAS_TRY(lt().cublasLtMatrixLayoutCreate(&plan.a, CUDA_R_16BF, a.k, a.m, a.k));
  TANDEM_CUBLAS_TRY(lt().cublasLtMatrixLayoutCreate(&plan.b, CUDA_R_16BF, a.k, a.n, a.k));
  TANDEM_CUBLAS_TRY(lt().cublasLtMatrixLayoutCreate(&plan.c, out_type, a.m, a.n, a.m));
  cublasLtMatmulPreference_t pref = nullptr;
  TANDEM_CUBLAS_TRY(lt().cublasLtMatmulPreferenceCreate(&pref));
  const uint64_t ws = workspace_.bytes();
  lt().cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
  cublasLtMatmulHeuristicResult_t result{};
  int found = 0;
  const cublasStatus_t s =
      lt().cublasLtMatmulAlgoGetHeuristic(handle_, plan.desc, plan.a, plan.b, plan.c, plan.c, pref, 1, &result, &found);
  lt().cublasLtMatmulPreferenceDestroy(pref);
  if (s != CUBLAS_STATUS_SUCCESS || found == 0) {
    return Status(ErrorKind::kDevice, "cublasLt: no algorithm for m=" + std::to_string(a.m) +
                                          " n=" + std::to_string(a.n) + " k=" + std::to_string(a.k));
  }
  plan.algo = result.algo;
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
    Status s = make_plan(a, plan);
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

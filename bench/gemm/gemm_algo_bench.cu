// bench/gemm/gemm_algo_bench: for the Llama-3.1-8B products, times the top
// cuBLASLt heuristic candidates against the first (the one GemmLt takes
// without tuning) and f32 against bf16 outputs. Layouts are gemm_lt.cpp's:
// column-major D[m, n] = W^T x with A = W [k, m] (transa = T), B = x [k, n],
// C = D [m, n]; f32 compute, f32 scale. Inputs rotate over copies that
// together exceed L2, so every timed product reads its operands from HBM.
//
//   gemm_algo_bench [--algos 16] [--reps 30] [--ns 512,2048,8192] [--decode-ns 8,16,...] [--explore 1]
//
// Candidates: the heuristic's answers, and with --explore 1 each of them
// again with every cluster shape in {auto, 1x1, 2x1, 1x2, 2x2, 4x1, 1x4} and
// CTA swizzling 0/1 that cublasLtMatmulAlgoCheck accepts. Every candidate is
// screened (5 runs); the best 6 and the heuristic's first are then timed
// round-robin (one run of each in turn, so clock and power drift hit all
// alike), `reps` runs each. Prints per finalist the medians of the first and
// second half of its runs (their difference is the run-to-run spread),
// TFLOP/s, the ratio to the heuristic's first, and the config (algo id, tile,
// stages, split-k, swizzle, cluster).
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void die(const char* what, int code) {
  std::fprintf(stderr, "error: %s (%d)\n", what, code);
  std::exit(1);
}
#define CK(x)                                             \
  do {                                                    \
    cudaError_t e_ = (x);                                 \
    if (e_ != cudaSuccess) die(#x, static_cast<int>(e_)); \
  } while (0)
#define LK(x)                                                       \
  do {                                                              \
    cublasStatus_t s_ = (x);                                        \
    if (s_ != CUBLAS_STATUS_SUCCESS) die(#x, static_cast<int>(s_)); \
  } while (0)

struct Shape {
  const char* name;
  int m, k;
  bool f32_out;
  float beta;
};

std::vector<int> parse_list(const char* s) {
  std::vector<int> out;
  std::string str(s);
  size_t pos = 0;
  while (pos < str.size()) {
    size_t c = str.find(',', pos);
    if (c == std::string::npos) c = str.size();
    out.push_back(std::atoi(str.substr(pos, c - pos).c_str()));
    pos = c + 1;
  }
  return out;
}

__global__ void fill_kernel(__nv_bfloat16* p, size_t n, unsigned seed) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    unsigned h = static_cast<unsigned>(i) * 2654435761u ^ seed;
    h ^= h >> 13;
    h *= 0x5bd1e995u;
    h ^= h >> 15;
    p[i] = __float2bfloat16((static_cast<float>(h & 0xffff) / 65536.0f - 0.5f) * 0.1f);
  }
}

int cfg(const cublasLtMatmulAlgo_t& a, cublasLtMatmulAlgoConfigAttributes_t attr) {
  uint32_t v = 0;
  size_t written = 0;
  if (cublasLtMatmulAlgoConfigGetAttribute(&a, attr, &v, sizeof(v), &written) != CUBLAS_STATUS_SUCCESS) return -1;
  return static_cast<int>(v);
}

int cfg16(const cublasLtMatmulAlgo_t& a, cublasLtMatmulAlgoConfigAttributes_t attr) {
  uint16_t v = 0;
  size_t written = 0;
  if (cublasLtMatmulAlgoConfigGetAttribute(&a, attr, &v, sizeof(v), &written) != CUBLAS_STATUS_SUCCESS) return -1;
  return static_cast<int>(v);
}

double median(std::vector<float> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

}  // namespace

int main(int argc, char** argv) {
  int max_algos = 16, reps = 30, explore = 1;
  std::vector<int> ns = {512, 2048, 8192}, decode_ns;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--algos"))
      max_algos = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps"))
      reps = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--ns"))
      ns = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--decode-ns"))
      decode_ns = parse_list(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--explore"))
      explore = std::atoi(argv[i + 1]);
    else
      die("unknown flag", i);
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("device %s, %d SMs, L2 %d MiB, cuBLASLt %zu\n", prop.name, prop.multiProcessorCount,
              prop.l2CacheSize >> 20, cublasLtGetVersion());
  // 8B: QKV 4096 -> 6144 f32; o 4096 -> 4096 f32 beta 1; gate_up 4096 -> 28672 bf16; down 14336 -> 4096 f32 beta 1;
  // then the same products with bf16 outputs (beta 0), to price the f32 residual stream.
  const std::vector<Shape> shapes = {
      {"qkv_f32", 6144, 4096, true, 0.0f},        {"o_f32_b1", 4096, 4096, true, 1.0f},
      {"gate_up_bf16", 28672, 4096, false, 0.0f}, {"down_f32_b1", 4096, 14336, true, 1.0f},
      {"qkv_bf16", 6144, 4096, false, 0.0f},
  };
  cublasLtHandle_t h;
  LK(cublasLtCreate(&h));
  const size_t ws_bytes = size_t{32} << 20;  // GemmLt's kGemmWorkspace in the runner
  void* ws;
  CK(cudaMalloc(&ws, ws_bytes));
  cudaStream_t stream;
  CK(cudaStreamCreate(&stream));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));

  struct Case {
    Shape s;
    int n;
  };
  std::vector<Case> cases;
  for (const Shape& s : shapes) {
    for (int n : ns) cases.push_back({s, n});
    if (std::strstr(s.name, "bf16") == nullptr || !std::strcmp(s.name, "gate_up_bf16")) {
      for (int n : decode_ns) cases.push_back({s, n});
    }
  }
  std::printf("%-13s %6s %3s %9s %9s %8s %6s  %s\n", "shape", "n", "cnd", "ms_1sthalf", "ms_2ndhalf", "TFLOPs", "vs_0",
              "algo/tile/stages/splitk/swizzle/cluster");
  for (const Case& c : cases) {
    const int m = c.s.m, k = c.s.k, n = c.n;
    const size_t w_bytes = size_t(m) * k * 2, x_bytes = size_t(n) * k * 2,
                 y_bytes = size_t(m) * n * (c.s.f32_out ? 4 : 2);
    const size_t per = w_bytes + x_bytes + y_bytes;
    const int copies = static_cast<int>(std::min<size_t>(8, std::max<size_t>(2, (size_t{256} << 20) / per + 1)));
    std::vector<void*> W(copies), X(copies), Y(copies);
    for (int i = 0; i < copies; ++i) {
      CK(cudaMalloc(&W[i], w_bytes));
      CK(cudaMalloc(&X[i], x_bytes));
      CK(cudaMalloc(&Y[i], y_bytes));
      fill_kernel<<<1024, 256, 0, stream>>>(static_cast<__nv_bfloat16*>(W[i]), size_t(m) * k, 17u + i);
      fill_kernel<<<1024, 256, 0, stream>>>(static_cast<__nv_bfloat16*>(X[i]), size_t(n) * k, 91u + i);
      CK(cudaMemsetAsync(Y[i], 0, y_bytes, stream));
    }
    cublasLtMatmulDesc_t desc;
    LK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    LK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    LK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    cublasLtMatrixLayout_t la, lb, lc;
    LK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, k, m, k));
    LK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, k, n, k));
    LK(cublasLtMatrixLayoutCreate(&lc, c.s.f32_out ? CUDA_R_32F : CUDA_R_16BF, m, n, m));
    cublasLtMatmulPreference_t pref;
    LK(cublasLtMatmulPreferenceCreate(&pref));
    const uint64_t wsb = ws_bytes;
    LK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsb, sizeof(wsb)));
    std::vector<cublasLtMatmulHeuristicResult_t> res(max_algos);
    int found = 0;
    LK(cublasLtMatmulAlgoGetHeuristic(h, desc, la, lb, lc, lc, pref, max_algos, res.data(), &found));
    const float alpha = 1.0f;
    // Candidates: the heuristic's answers, then (explore) their cluster/swizzle variants.
    std::vector<cublasLtMatmulAlgo_t> cand;
    std::vector<int> origin;  // heuristic index each candidate came from
    auto same = [](const cublasLtMatmulAlgo_t& x, const cublasLtMatmulAlgo_t& y) {
      return std::memcmp(&x, &y, sizeof(x)) == 0;
    };
    for (int a = 0; a < found; ++a) {
      if (res[a].state != CUBLAS_STATUS_SUCCESS) continue;
      cand.push_back(res[a].algo);
      origin.push_back(a);
    }
    const size_t n_heur = cand.size();
    if (explore) {
      const uint16_t clusters[] = {CUBLASLT_CLUSTER_SHAPE_AUTO,  CUBLASLT_CLUSTER_SHAPE_1x1x1,
                                   CUBLASLT_CLUSTER_SHAPE_2x1x1, CUBLASLT_CLUSTER_SHAPE_1x2x1,
                                   CUBLASLT_CLUSTER_SHAPE_2x2x1, CUBLASLT_CLUSTER_SHAPE_4x1x1,
                                   CUBLASLT_CLUSTER_SHAPE_1x4x1};
      for (size_t i = 0; i < n_heur; ++i) {
        for (uint16_t cl : clusters) {
          for (uint32_t sw = 0; sw < 2; ++sw) {
            cublasLtMatmulAlgo_t v = cand[i];
            if (cublasLtMatmulAlgoConfigSetAttribute(&v, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID, &cl, sizeof(cl)) !=
                    CUBLAS_STATUS_SUCCESS ||
                cublasLtMatmulAlgoConfigSetAttribute(&v, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING, &sw, sizeof(sw)) !=
                    CUBLAS_STATUS_SUCCESS) {
              continue;
            }
            cublasLtMatmulHeuristicResult_t chk{};
            if (cublasLtMatmulAlgoCheck(h, desc, la, lb, lc, lc, &v, &chk) != CUBLAS_STATUS_SUCCESS ||
                chk.workspaceSize > ws_bytes) {
              continue;
            }
            bool dup = false;
            for (const auto& c2 : cand) dup = dup || same(c2, v);
            if (dup) continue;
            cand.push_back(v);
            origin.push_back(origin[i]);
          }
        }
      }
    }
    auto run = [&](size_t a, int it) {
      const int r = it % copies;
      return cublasLtMatmul(h, desc, &alpha, W[r], la, X[r], lb, &c.s.beta, Y[r], lc, Y[r], lc, &cand[a], ws, ws_bytes,
                            stream);
    };
    auto time_one = [&](size_t a, int it) -> float {
      CK(cudaEventRecord(e0, stream));
      if (run(a, it) != CUBLAS_STATUS_SUCCESS) return -1.0f;
      CK(cudaEventRecord(e1, stream));
      CK(cudaEventSynchronize(e1));
      float t = 0;
      CK(cudaEventElapsedTime(&t, e0, e1));
      return t;
    };
    const double flop = 2.0 * m * double(n) * k;
    // Screening: 2 warm-up + 5 timed runs per candidate.
    std::vector<std::pair<double, size_t>> screen;
    for (size_t a = 0; a < cand.size(); ++a) {
      bool ok = true;
      std::vector<float> t;
      for (int it = 0; it < 7 && ok; ++it) {
        const float v = time_one(a, it);
        ok = v >= 0.0f;
        if (it >= 2) t.push_back(v);
      }
      if (ok) screen.push_back({median(t), a});
    }
    std::sort(screen.begin(), screen.end());
    std::vector<size_t> fin = {0};
    for (const auto& [ms_, a] : screen) {
      if (fin.size() >= 7) break;
      if (a != 0) fin.push_back(a);
    }
    // Finals: round-robin.
    std::vector<std::vector<float>> t(fin.size());
    for (int it = 0; it < reps; ++it) {
      for (size_t f = 0; f < fin.size(); ++f) t[f].push_back(time_one(fin[f], it));
    }
    CK(cudaStreamSynchronize(stream));
    auto half = [&](const std::vector<float>& v, int which) {
      std::vector<float> o;
      for (size_t i = 0; i < v.size(); ++i) {
        if (static_cast<int>(i < v.size() / 2) == 1 - which) o.push_back(v[i]);
      }
      return median(o);
    };
    const double base = median(t[0]);
    double spread0 = std::abs(half(t[0], 0) - half(t[0], 1)) / base;
    size_t best = 0;
    for (size_t f = 0; f < fin.size(); ++f) {
      const double mm = median(t[f]);
      if (mm < median(t[best])) best = f;
      const cublasLtMatmulAlgo_t& al = cand[fin[f]];
      std::printf("%-13s %6d %3zu %9.4f %9.4f %8.1f %6.3f  %d/%d/%d/%d/%d/%d  (heuristic #%d)\n", c.s.name, n, fin[f],
                  half(t[f], 0), half(t[f], 1), flop / (mm * 1e-3) / 1e12, base / mm, cfg(al, CUBLASLT_ALGO_CONFIG_ID),
                  cfg(al, CUBLASLT_ALGO_CONFIG_TILE_ID), cfg(al, CUBLASLT_ALGO_CONFIG_STAGES_ID),
                  cfg(al, CUBLASLT_ALGO_CONFIG_SPLITK_NUM), cfg(al, CUBLASLT_ALGO_CONFIG_CTA_SWIZZLING),
                  cfg16(al, CUBLASLT_ALGO_CONFIG_CLUSTER_SHAPE_ID), origin[fin[f]]);
    }
    const double best_ms = median(t[best]);
    std::printf(
        "SUMMARY %-13s n=%-5d candidates %3zu (heuristic %zu) first %.4f ms (%.1f TFLOP/s, half-spread %.3f) "
        "best #%zu %.4f ms (%.1f TFLOP/s) gain %.3f\n",
        c.s.name, n, cand.size(), n_heur, base, flop / (base * 1e-3) / 1e12, spread0, fin[best], best_ms,
        flop / (best_ms * 1e-3) / 1e12, base / best_ms);
    std::fflush(stdout);
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(desc);
    for (int i = 0; i < copies; ++i) {
      cudaFree(W[i]);
      cudaFree(X[i]);
      cudaFree(Y[i]);
    }
  }
  return 0;
}

// GEMV correctness check and microbench (bench/NOTES.md v10-gemv), built by bench/gemv/build.sh.
//
//   gemv_check check   every GemvInput x n in {1,2,3,4,5,8} x the SmolLM2-135M / Qwen3-0.6B / Llama-3.1-8B
//                      layer shapes x (f32 y, f32 y accumulate, bf16 y), PDL off/on alternating, against a
//                      float64 host reference on random data. Rows t >= n of y must stay untouched. Exit code 1
//                      on any mismatch.
//   gemv_check bench   Qwen3-0.6B products: (a) each product alone (n = 1, 2; weights rotated so L2 cannot
//                      hold them), (b) 28 layers x (qkv, o, gate_up, down) chained in one CUDA graph (the decode
//                      step without attention, rope and LM head), PDL off vs on (as the runner launches them),
//                      alternating (ABAB), medians. One JSON line per figure.
// bench/gemv/one_wave.patch holds the one-wave schedule this harness compared against (NOTES v10-gemv).
//
// Tolerance per output: 2e-5 * sum_j |w_j x_j| (float32 accumulation, __expf in SiluMul) + 1e-6, plus half
// a bf16 ulp of |ref| (2^-8 relative) when y is bf16.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/cuda/gemv_kernels.h"

using tandem::engine::cuda::GemvInput;
using tandem::engine::cuda::GemvParams;
using tandem::engine::cuda::PdlMode;

namespace {

void die_if(cudaError_t e, const char* what) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "cuda error %s: %s\n", what, cudaGetErrorString(e));
    std::exit(2);
  }
}

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  float uniform() {  // [-1, 1)
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<float>((s >> 40) & 0xFFFFFF) / 8388608.0f - 1.0f;
  }
};

uint16_t to_bf16(float f) {  // round to nearest even
  uint32_t u;
  std::memcpy(&u, &f, 4);
  u += 0x7FFF + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}
float from_bf16(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

template <class F>
void parallel_for(int n, F f) {
  const int threads = std::max(1u, std::min(16u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (int i = 0; i < threads; ++i) {
    pool.emplace_back([&, i] {
      for (int r = i; r < n; r += threads) f(r);
    });
  }
  for (auto& t : pool) t.join();
}

struct Shape {
  const char* name;
  int m, k;
};

const char* input_name(GemvInput in) {
  switch (in) {
    case GemvInput::kBf16: return "bf16";
    case GemvInput::kRmsNorm: return "rmsnorm";
    case GemvInput::kSiluMul: return "silu_mul";
  }
  return "?";
}

constexpr int kT = 8;  // token rows allocated and referenced (GemvParams::kMaxN)

int run_check() {
  const std::vector<Shape> shapes = {
      {"smollm2.qkv", 960, 576},   {"smollm2.o", 576, 576},     {"smollm2.gate_up", 3072, 576},
      {"smollm2.down", 576, 1536}, {"qwen3.qkv", 4096, 1024},   {"qwen3.o", 1024, 2048},
      {"qwen3.gate_up", 6144, 1024}, {"qwen3.down", 1024, 3072}, {"llama8b.qkv", 6144, 4096},
      {"llama8b.o", 4096, 4096},   {"llama8b.gate_up", 28672, 4096}, {"llama8b.down", 4096, 14336}};
  const int ns[] = {1, 2, 3, 4, 5, 8};
  long cases = 0, failures = 0;
  for (const Shape& sh : shapes) {
    const int m = sh.m, k = sh.k;
    Rng rng(static_cast<uint64_t>(m) * 131 + k);
    std::vector<uint16_t> w(static_cast<size_t>(m) * k);
    std::vector<float> wf(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      w[i] = to_bf16(rng.uniform() * 0.05f);
      wf[i] = from_bf16(w[i]);
    }
    void* d_w = nullptr;
    die_if(cudaMalloc(&d_w, w.size() * 2), "malloc w");
    die_if(cudaMemcpy(d_w, w.data(), w.size() * 2, cudaMemcpyHostToDevice), "copy w");
    for (GemvInput in : {GemvInput::kBf16, GemvInput::kRmsNorm, GemvInput::kSiluMul}) {
      // Inputs for kT token rows and the effective x_t (double) the reference multiplies with.
      std::vector<uint16_t> xb;      // kBf16: [kT, k]; kSiluMul: [kT, 2k]
      std::vector<float> xf32;       // kRmsNorm: [kT, k]
      std::vector<uint16_t> normw;   // kRmsNorm: [k]
      std::vector<double> xe(static_cast<size_t>(kT) * k);
      const float eps = 1e-6f;
      if (in == GemvInput::kBf16) {
        xb.resize(static_cast<size_t>(kT) * k);
        for (size_t i = 0; i < xb.size(); ++i) {
          xb[i] = to_bf16(rng.uniform() * 2.0f);
          xe[i] = from_bf16(xb[i]);
        }
      } else if (in == GemvInput::kSiluMul) {
        xb.resize(static_cast<size_t>(kT) * 2 * k);
        for (size_t i = 0; i < xb.size(); ++i) xb[i] = to_bf16(rng.uniform() * 4.0f);
        for (int t = 0; t < kT; ++t) {
          for (int j = 0; j < k; ++j) {
            const double g = from_bf16(xb[static_cast<size_t>(t) * 2 * k + j]);
            const double u = from_bf16(xb[static_cast<size_t>(t) * 2 * k + k + j]);
            xe[static_cast<size_t>(t) * k + j] = g / (1.0 + std::exp(-g)) * u;
          }
        }
      } else {
        xf32.resize(static_cast<size_t>(kT) * k);
        normw.resize(k);
        for (int j = 0; j < k; ++j) normw[j] = to_bf16(1.0f + 0.5f * rng.uniform());
        for (int t = 0; t < kT; ++t) {
          const float amp = 0.5f + 4.0f * t;  // rows of different scale: the per-row norm matters
          double ss = 0;
          for (int j = 0; j < k; ++j) {
            const float v = rng.uniform() * amp;
            xf32[static_cast<size_t>(t) * k + j] = v;
            ss += static_cast<double>(v) * v;
          }
          const double inv = 1.0 / std::sqrt(ss / k + eps);
          for (int j = 0; j < k; ++j) {
            xe[static_cast<size_t>(t) * k + j] = xf32[static_cast<size_t>(t) * k + j] * inv * from_bf16(normw[j]);
          }
        }
      }
      // Reference [kT, m] and the magnitude sum for the tolerance.
      std::vector<double> ref(static_cast<size_t>(kT) * m), mag(static_cast<size_t>(kT) * m);
      parallel_for(m, [&](int r) {
        const float* wr = wf.data() + static_cast<size_t>(r) * k;
        for (int t = 0; t < kT; ++t) {
          const double* xr = xe.data() + static_cast<size_t>(t) * k;
          double s = 0, a = 0;
          for (int j = 0; j < k; ++j) {
            const double p = wr[j] * xr[j];
            s += p;
            a += std::fabs(p);
          }
          ref[static_cast<size_t>(t) * m + r] = s;
          mag[static_cast<size_t>(t) * m + r] = a;
        }
      });
      void *d_x = nullptr, *d_nw = nullptr, *d_y = nullptr;
      const size_t xbytes = in == GemvInput::kRmsNorm ? xf32.size() * 4 : xb.size() * 2;
      die_if(cudaMalloc(&d_x, xbytes), "malloc x");
      die_if(cudaMemcpy(d_x, in == GemvInput::kRmsNorm ? static_cast<const void*>(xf32.data()) : xb.data(), xbytes,
                        cudaMemcpyHostToDevice),
             "copy x");
      if (in == GemvInput::kRmsNorm) {
        die_if(cudaMalloc(&d_nw, k * 2), "malloc nw");
        die_if(cudaMemcpy(d_nw, normw.data(), k * 2, cudaMemcpyHostToDevice), "copy nw");
      }
      die_if(cudaMalloc(&d_y, static_cast<size_t>(kT) * m * 4), "malloc y");
      std::vector<float> y0(static_cast<size_t>(kT) * m);
      for (auto& v : y0) v = rng.uniform();
      std::vector<uint8_t> host_y(static_cast<size_t>(kT) * m * 4), init_y(host_y.size());
      double worst = 0;  // largest err / tol over the passing outputs of this (shape, input)
      for (int n : ns) {
        for (int mode = 0; mode < 3; ++mode) {  // 0: f32, 1: f32 accumulate, 2: bf16
          {
            GemvParams p;
            p.w = static_cast<const __nv_bfloat16*>(d_w);
            p.input = in;
            p.x = static_cast<const __nv_bfloat16*>(d_x);
            p.x_f32 = static_cast<const float*>(d_x);
            p.norm_weight = static_cast<const __nv_bfloat16*>(d_nw);
            p.eps = eps;
            p.y = d_y;
            p.y_f32 = mode != 2;
            p.accumulate = mode == 1;
            p.m = m;
            p.n = n;
            p.k = k;
            p.pdl = (cases % 2) ? PdlMode::kTriggerAfterWait : PdlMode::kOff;
            // y: random floats where accumulating, else a NaN byte pattern.
            if (mode == 1) {
              std::memcpy(init_y.data(), y0.data(), init_y.size());
            } else {
              std::memset(init_y.data(), 0xFF, init_y.size());
            }
            die_if(cudaMemcpy(d_y, init_y.data(), init_y.size(), cudaMemcpyHostToDevice), "copy y");
            const tandem::Status st = tandem::engine::cuda::launch(p, nullptr);
            die_if(cudaDeviceSynchronize(), "sync");
            ++cases;
            if (!st.ok()) {
              std::printf("FAIL %s %s n=%d mode=%d: launch: %s\n", sh.name, input_name(in), n, mode,
                          st.message().c_str());
              ++failures;
              continue;
            }
            die_if(cudaMemcpy(host_y.data(), d_y, host_y.size(), cudaMemcpyDeviceToHost), "copy y back");
            long bad = 0, untouched_bad = 0;
            double first_got = 0, first_want = 0;
            int first_t = -1, first_r = -1;
            const size_t esize = mode == 2 ? 2 : 4;
            for (int t = 0; t < kT; ++t) {
              for (int r = 0; r < m; ++r) {
                const size_t i = static_cast<size_t>(t) * m + r;
                if (t >= n) {  // rows past n: untouched
                  if (std::memcmp(host_y.data() + i * esize, init_y.data() + i * esize, esize) != 0) ++untouched_bad;
                  continue;
                }
                double got;
                if (mode == 2) {
                  uint16_t h;
                  std::memcpy(&h, host_y.data() + i * 2, 2);
                  got = from_bf16(h);
                } else {
                  float f;
                  std::memcpy(&f, host_y.data() + i * 4, 4);
                  got = f;
                }
                const double want = ref[i] + (mode == 1 ? y0[i] : 0.0);
                double tol = 2e-5 * mag[i] + 1e-6 + (mode == 1 ? 1e-7 * std::fabs(y0[i]) : 0.0);
                if (mode == 2) tol += std::ldexp(std::fabs(want), -8);
                const double err = std::fabs(got - want);
                if (!(err <= tol)) {
                  if (bad++ == 0) {
                    first_got = got;
                    first_want = want;
                    first_t = t;
                    first_r = r;
                  }
                } else {
                  worst = std::max(worst, err / tol);
                }
              }
            }
            if (bad || untouched_bad) {
              ++failures;
              std::printf("FAIL %s %s n=%d mode=%d: %ld outputs off (first t=%d row=%d got %.6g want %.6g), %ld "
                          "rows-past-n outputs written\n",
                          sh.name, input_name(in), n, mode, bad, first_t, first_r, first_got, first_want,
                          untouched_bad);
            }
          }
        }
      }
      std::printf("ok-so-far %s m=%d k=%d input=%s worst err/tol %.3f\n", sh.name, m, k, input_name(in), worst);
      cudaFree(d_x);
      cudaFree(d_nw);
      cudaFree(d_y);
    }
    cudaFree(d_w);
  }
  std::printf("gemv_check: %ld cases, %ld failures\n", cases, failures);
  return failures == 0 ? 0 : 1;
}

// ---- bench ----

struct Product {
  const char* name;
  int m, k;
  GemvInput in;
  bool y_f32, accumulate;
};

const std::vector<Product> kQwen3 = {{"qkv", 4096, 1024, GemvInput::kRmsNorm, true, false},
                                     {"o", 1024, 2048, GemvInput::kBf16, true, true},
                                     {"gate_up", 6144, 1024, GemvInput::kRmsNorm, false, false},
                                     {"down", 1024, 3072, GemvInput::kSiluMul, true, true}};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int run_bench() {
  constexpr int kLayers = 28;
  // Buffers shared by all products: residual x [8, 1024] f32, qkv out [8, 4096] f32, attention out
  // [8, 2048] bf16, gate_up [8, 6144] bf16, norm weight.
  float *resid = nullptr, *qkv = nullptr;
  __nv_bfloat16 *attn = nullptr, *gu = nullptr, *nw = nullptr;
  die_if(cudaMalloc(&resid, 8 * 1024 * 4), "m");
  die_if(cudaMalloc(&qkv, 8 * 4096 * 4), "m");
  die_if(cudaMalloc(&attn, 8 * 2048 * 2), "m");
  die_if(cudaMalloc(&gu, 8 * 6144 * 2), "m");
  die_if(cudaMalloc(&nw, 4096 * 2), "m");
  cudaMemset(resid, 0, 8 * 1024 * 4);
  cudaMemset(attn, 0x3c, 8 * 2048 * 2);
  cudaMemset(gu, 0x3c, 8 * 6144 * 2);
  cudaMemset(nw, 0x3c, 4096 * 2);
  {
    std::vector<float> r(8 * 1024);
    Rng rng(3);
    for (auto& v : r) v = rng.uniform();
    cudaMemcpy(resid, r.data(), r.size() * 4, cudaMemcpyHostToDevice);
  }
  // kLayers distinct weight sets per product (rotated for the alone figures too).
  std::vector<std::vector<__nv_bfloat16*>> weights(kQwen3.size());
  {
    std::vector<uint16_t> host;
    Rng rng(11);
    for (size_t i = 0; i < kQwen3.size(); ++i) {
      const size_t elems = static_cast<size_t>(kQwen3[i].m) * kQwen3[i].k;
      host.resize(elems);
      for (auto& v : host) v = to_bf16(rng.uniform() * 0.01f);
      for (int l = 0; l < kLayers; ++l) {
        __nv_bfloat16* d = nullptr;
        die_if(cudaMalloc(&d, elems * 2), "malloc weights");
        cudaMemcpy(d, host.data(), elems * 2, cudaMemcpyHostToDevice);
        weights[i].push_back(d);
      }
    }
  }
  auto params = [&](size_t i, int l, int n, PdlMode pdl) {
    const Product& pr = kQwen3[i];
    GemvParams p;
    p.w = weights[i][l];
    p.input = pr.in;
    p.x = pr.in == GemvInput::kSiluMul ? gu : attn;
    p.x_f32 = resid;
    p.norm_weight = nw;
    p.y = pr.name[0] == 'q' ? static_cast<void*>(qkv) : pr.name[0] == 'g' ? static_cast<void*>(gu) : resid;
    p.y_f32 = pr.y_f32;
    p.accumulate = pr.accumulate;
    p.m = pr.m;
    p.n = n;
    p.k = pr.k;
    p.pdl = pdl;
    return p;
  };
  auto ok_or_die = [](const tandem::Status& s) {
    if (!s.ok()) {
      std::fprintf(stderr, "launch failed: %s\n", s.message().c_str());
      std::exit(2);
    }
  };
  cudaStream_t stream;
  cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking);
  cudaEvent_t e0, e1;
  cudaEventCreate(&e0);
  cudaEventCreate(&e1);
  constexpr int kRounds = 5;
  // (a) Each product alone, no PDL.
  for (size_t i = 0; i < kQwen3.size(); ++i) {
    for (int n : {1, 2}) {
      std::vector<double> us;
      for (int round = 0; round < kRounds; ++round) {
        for (int l = 0; l < 4; ++l) ok_or_die(launch(params(i, l, n, PdlMode::kOff), stream));
        const int reps = 4 * kLayers;
        cudaEventRecord(e0, stream);
        for (int r = 0; r < reps; ++r) ok_or_die(launch(params(i, r % kLayers, n, PdlMode::kOff), stream));
        cudaEventRecord(e1, stream);
        die_if(cudaEventSynchronize(e1), "sync");
        float ms = 0;
        cudaEventElapsedTime(&ms, e0, e1);
        us.push_back(ms * 1e3 / reps);
      }
      const double bytes = 2.0 * kQwen3[i].m * kQwen3[i].k;
      const double t = median(us);
      std::printf("{\"bench\":\"gemv_alone\",\"matrix\":\"%s\",\"m\":%d,\"k\":%d,\"n\":%d,\"us\":%.2f,\"TBps\":%.2f}\n",
                  kQwen3[i].name, kQwen3[i].m, kQwen3[i].k, n, t, bytes / (t * 1e-6) / 1e12);
    }
  }
  // (b) 28 layers of the four products in one graph, PDL off vs on (trigger after wait, as the runner).
  const PdlMode modes[] = {PdlMode::kOff, PdlMode::kTriggerAfterWait};
  for (int n : {1, 2}) {
    cudaGraphExec_t exec[2] = {};
    for (int mi = 0; mi < 2; ++mi) {
      cudaGraph_t g;
      die_if(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal), "capture");
      for (int l = 0; l < kLayers; ++l) {
        for (size_t i = 0; i < kQwen3.size(); ++i) ok_or_die(launch(params(i, l, n, modes[mi]), stream));
      }
      die_if(cudaStreamEndCapture(stream, &g), "end capture");
      die_if(cudaGraphInstantiate(&exec[mi], g, 0), "instantiate");
      cudaGraphDestroy(g);
    }
    std::vector<double> us[2];
    for (int round = 0; round < kRounds; ++round) {
      for (int mi = 0; mi < 2; ++mi) {
        for (int r = 0; r < 3; ++r) cudaGraphLaunch(exec[mi], stream);
        const int reps = 20;
        cudaEventRecord(e0, stream);
        for (int r = 0; r < reps; ++r) cudaGraphLaunch(exec[mi], stream);
        cudaEventRecord(e1, stream);
        die_if(cudaEventSynchronize(e1), "sync");
        float ms = 0;
        cudaEventElapsedTime(&ms, e0, e1);
        us[mi].push_back(ms * 1e3 / reps);
      }
    }
    double bytes = 0;
    for (const Product& pr : kQwen3) bytes += 2.0 * pr.m * pr.k * kLayers;
    const double a = median(us[0]), b = median(us[1]);
    std::printf("{\"bench\":\"gemv_chain_28_layers\",\"n\":%d,\"pdl_off_us\":%.1f,\"pdl_on_us\":%.1f,"
                "\"pdl_off_TBps\":%.2f,\"pdl_on_TBps\":%.2f,\"floor_us_at_3TBps\":%.1f}\n",
                n, a, b, bytes / (a * 1e-6) / 1e12, bytes / (b * 1e-6) / 1e12, bytes / 3.0e12 * 1e6);
    cudaGraphExecDestroy(exec[0]);
    cudaGraphExecDestroy(exec[1]);
  }
  die_if(cudaGetLastError(), "bench");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "check";
  if (mode == "check") return run_check();
  if (mode == "bench") return run_bench();
  std::fprintf(stderr, "usage: gemv_check check|bench\n");
  return 2;
}

// GEMV microbench (bench/NOTES.md v10-gemv): Qwen3-0.6B products through engine/cuda/gemv_kernels.h,
// (a) each product alone (n = 1, 2; weights rotated so L2 cannot hold them), (b) 28 layers x (qkv, o,
// gate_up, down) chained in one CUDA graph (the decode step without attention, rope and LM head), PDL off vs
// on (as the runner launches them), alternating (ABAB), medians. One JSON line per figure.
// Built by CMake with the CUDA backend (target gemv_bench); the GEMV's correctness check is
// tests/gpu/ops/gemv_check.cpp (cuda_op_checks). The one-wave schedule this bench once compared against is a dead
// end (bench/NOTES.md "Dead ends", v10-gemv).
//
//   gemv_bench
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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
    std::printf(
        "{\"bench\":\"gemv_chain_28_layers\",\"n\":%d,\"pdl_off_us\":%.1f,\"pdl_on_us\":%.1f,"
        "\"pdl_off_TBps\":%.2f,\"pdl_on_TBps\":%.2f,\"floor_us_at_3TBps\":%.1f}\n",
        n, a, b, bytes / (a * 1e-6) / 1e12, bytes / (b * 1e-6) / 1e12, bytes / 3.0e12 * 1e6);
    cudaGraphExecDestroy(exec[0]);
    cudaGraphExecDestroy(exec[1]);
  }
  die_if(cudaGetLastError(), "bench");
  return 0;
}

}  // namespace

int main() { return run_bench(); }

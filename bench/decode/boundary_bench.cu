// Kernel-boundary microbenchmark (bench/NOTES.md v13): how long the batch-1 decode chain's kernel-to-kernel
// hand-off costs under each way of ordering dependent kernels, on synthetic kernels of the Qwen3-0.6B layer's
// shapes (no model; of the engine only launch_pdl.h).
//
// One layer is six kernels, as the runner launches them: qkv GEMV (4096 x 1024, with an RMSNorm-like
// reduction of its input), rope (8 blocks), attention (24 blocks, each with a 32 KiB chunk loaded before its
// wait), o GEMV (1024 x 2048, added into x), gate_up GEMV (6144 x 1024, RMSNorm-like), down GEMV (1024 x 3072,
// added into x). GEMVs are 4 rows per 128-thread block, every layer has its own weights (1.2 GB for 28
// layers, so HBM streams as in the real step). A CUDA graph of L layers is replayed; the figure is us per
// replay and per kernel.
//
// Hand-off modes (argv[1]):
//   plain  - ordinary launches (each kernel starts when the previous completed)
//   pdl    - PDL; weights before griddepcontrol.wait, dependents triggered after it (the runner's default)
//   early  - PDL; dependents triggered at the kernel's start, then griddepcontrol.wait
//   flag   - PDL; triggered at start; instead of griddepcontrol.wait each block waits (acquire) for the
//            previous kernel's completion counter to reach its block count, and every block bumps its own
//            kernel's counter (release) after its stores. Counters are zeroed by a memset node per replay.
// Usage: boundary_bench MODE [LAYERS=28] [REPLAYS=50]. Build: see bench/decode/README.md (needs -I src).
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "engine/cuda/launch_pdl.h"

using tandem::engine::cuda::launch_kernel;
using tandem::engine::cuda::pdl_launch_dependents;
using tandem::engine::cuda::pdl_wait;
using tandem::engine::cuda::PdlMode;

#define CK(x)                                                                                 \
  do {                                                                                        \
    cudaError_t e_ = (x);                                                                     \
    if (e_ != cudaSuccess) {                                                                  \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, cudaGetErrorString(e_)); \
      std::exit(1);                                                                           \
    }                                                                                         \
  } while (0)

enum Mode { kPlain, kPdl, kEarly, kFlag };

struct Sync {
  int mode;
  const unsigned* wait_on;  // flag: the previous kernel's counter (null: griddepcontrol.wait)
  unsigned wait_for;        // its block count
  unsigned* done;           // flag: this kernel's counter
};

__device__ __forceinline__ void enter(const Sync& s) {
  if (s.mode == kEarly || s.mode == kFlag) pdl_launch_dependents();
  if (s.mode == kFlag && s.wait_on != nullptr) {
    if (threadIdx.x == 0) {
      unsigned v;
      do {
        asm volatile("ld.acquire.gpu.global.u32 %0, [%1];" : "=r"(v) : "l"(s.wait_on) : "memory");
      } while (v < s.wait_for);
    }
    __syncthreads();
  } else if (s.mode != kPlain) {
    pdl_wait();
  }
  if (s.mode == kPdl) pdl_launch_dependents();
}

__device__ __forceinline__ void leave(const Sync& s) {
  if (s.mode != kFlag) return;
  __syncthreads();
  if (threadIdx.x == 0) asm volatile("red.release.gpu.global.add.u32 [%0], 1;" ::"l"(s.done) : "memory");
}

__device__ __forceinline__ float dot8(const uint4& w, const float* x) {
  const uint32_t u[4] = {w.x, w.y, w.z, w.w};
  float a = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    a = fmaf(__uint_as_float(u[i] << 16), x[2 * i], a);
    a = fmaf(__uint_as_float(u[i] & 0xffff0000u), x[2 * i + 1], a);
  }
  return a;
}

__device__ __forceinline__ float block_sum(float v, float* sh) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if (threadIdx.x % 32 == 0) sh[threadIdx.x / 32] = v;
  __syncthreads();
  return sh[0] + sh[1] + sh[2] + sh[3];
}

// 4 rows per block, 128 threads, K/1024 pieces of 8 per thread and row.
template <int K, bool NORM, bool ACC>
__global__ void __launch_bounds__(128) gemv(const uint4* w, const float* x, float* y, Sync s) {
  constexpr int P = K / 8 / 128;
  const uint4* wb = w + static_cast<int64_t>(blockIdx.x) * 4 * (K / 8);
  uint4 wv[4][P];
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int p = 0; p < P; ++p) wv[r][p] = __ldcs(wb + r * (K / 8) + p * 128 + threadIdx.x);
  enter(s);
  __shared__ float sh[2][4];
  float y_old = 0.0f;
  if (ACC && threadIdx.x < 4) y_old = __ldcg(y + blockIdx.x * 4 + threadIdx.x);
  float xv[P][8];
  float ss = 0.0f;
#pragma unroll
  for (int p = 0; p < P; ++p) {
    const float4* xr = reinterpret_cast<const float4*>(x) + 2 * (p * 128 + threadIdx.x);
    const float4 a = __ldcg(xr), b = __ldcg(xr + 1);
    const float t[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int j = 0; j < 8; ++j) {
      xv[p][j] = t[j];
      ss += t[j] * t[j];
    }
  }
  float inv = 1.0f;
  if (NORM) inv = rsqrtf(block_sum(ss, sh[0]) / K + 1e-6f);
  float acc[4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    acc[r] = 0.0f;
#pragma unroll
    for (int p = 0; p < P; ++p) acc[r] += dot8(wv[r][p], xv[p]);
  }
  __shared__ float red[4][4];
#pragma unroll
  for (int r = 0; r < 4; ++r) {
    float v = acc[r];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    if (threadIdx.x % 32 == 0) red[threadIdx.x / 32][r] = v;
  }
  __syncthreads();
  if (threadIdx.x < 4) {
    const float v = red[0][threadIdx.x] + red[1][threadIdx.x] + red[2][threadIdx.x] + red[3][threadIdx.x];
    y[blockIdx.x * 4 + threadIdx.x] = y_old + inv * v * 1e-3f;
  }
  leave(s);
}

// rope-like: 8 blocks of 128 threads; block b normalises and rotates 512 of the 4096 qkv values.
__global__ void __launch_bounds__(128) rope(const float* qkv, float* q, Sync s) {
  enter(s);
  __shared__ float sh[4];
  const float4 v = __ldcg(reinterpret_cast<const float4*>(qkv) + blockIdx.x * 128 + threadIdx.x);
  const float inv = rsqrtf(block_sum(v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w, sh) / 512 + 1e-6f);
  const float c = 0.8f, sn = 0.6f;
  reinterpret_cast<float4*>(q)[blockIdx.x * 128 + threadIdx.x] = make_float4(
      (v.x * c - v.y * sn) * inv, (v.x * sn + v.y * c) * inv, (v.z * c - v.w * sn) * inv, (v.z * sn + v.w * c) * inv);
  leave(s);
}

// attention-like: 24 blocks of 128 threads; each holds a 64-position K/V chunk (32 KiB, loaded before the
// wait), reads its head's 256 q values, does a score pass and a weighted sum, writes 128 outputs.
__global__ void __launch_bounds__(128) attn(const uint4* kv, const float* q, float* out, Sync s) {
  const uint4* kb = kv + static_cast<int64_t>(blockIdx.x) * 2048;
  uint4 kr[16];
#pragma unroll
  for (int j = 0; j < 16; ++j) kr[j] = __ldcs(kb + j * 128 + threadIdx.x);
  enter(s);
  __shared__ float sh[4];
  const int head = blockIdx.x % 8;
  float qv[8];
  {
    const float4* qr = reinterpret_cast<const float4*>(q) + head * 64 + 2 * (threadIdx.x % 32);
    const float4 a = __ldcg(qr), b = __ldcg(qr + 1);
    const float t[8] = {a.x, a.y, a.z, a.w, b.x, b.y, b.z, b.w};
#pragma unroll
    for (int j = 0; j < 8; ++j) qv[j] = t[j];
  }
  float sc = 0.0f;
#pragma unroll
  for (int j = 0; j < 8; ++j) sc += dot8(kr[j], qv);
  const float m = block_sum(sc, sh);
  float o = 0.0f;
#pragma unroll
  for (int j = 8; j < 16; ++j) o += __expf(sc - m) * dot8(kr[j], qv);
  __syncthreads();
  const float l = block_sum(o, sh);
  out[blockIdx.x % 16 * 128 + threadIdx.x] = o / (l + 1.0f);
  leave(s);
}

template <class... P, class... A>
void launch(void (*k)(P...), int blocks, cudaStream_t st, int mode, A... a) {
  CK(launch_kernel(k, dim3(blocks), dim3(128), 0, st, mode == kPlain ? PdlMode::kOff : PdlMode::kTriggerAfterWait,
                   a...));
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: boundary_bench plain|pdl|early|flag [layers] [replays]\n");
    return 2;
  }
  const char* names[] = {"plain", "pdl", "early", "flag"};
  int mode = -1;
  for (int i = 0; i < 4; ++i)
    if (std::strcmp(argv[1], names[i]) == 0) mode = i;
  if (mode < 0) {
    std::fprintf(stderr, "unknown mode %s\n", argv[1]);
    return 2;
  }
  const int layers = argc > 2 ? std::atoi(argv[2]) : 28;
  const int replays = argc > 3 ? std::atoi(argv[3]) : 50;
  // Per layer: qkv 4096x1024, o 1024x2048, gate_up 6144x1024, down 1024x3072 bf16 (15 M values), KV 24 x 32 KiB.
  const size_t wl = (4096ull * 1024 + 1024ull * 2048 + 6144ull * 1024 + 1024ull * 3072) * 2;
  const size_t kvl = 24ull * 32768;
  char* wts;
  CK(cudaMalloc(&wts, (wl + kvl) * layers));
  CK(cudaMemset(wts, 0x3c, (wl + kvl) * layers));
  float *x, *qkv, *q, *att, *gu;
  CK(cudaMalloc(&x, 1024 * 4));
  CK(cudaMalloc(&qkv, 4096 * 4));
  CK(cudaMalloc(&q, 4096 * 4));
  CK(cudaMalloc(&att, 2048 * 4));
  CK(cudaMalloc(&gu, 6144 * 4));
  CK(cudaMemset(x, 0, 1024 * 4));
  CK(cudaMemset(qkv, 0, 4096 * 4));
  CK(cudaMemset(q, 0, 4096 * 4));
  CK(cudaMemset(att, 0, 2048 * 4));
  CK(cudaMemset(gu, 0, 6144 * 4));
  const int kernels = 6 * layers;
  unsigned* counters;
  CK(cudaMalloc(&counters, kernels * sizeof(unsigned)));
  CK(cudaMemset(counters, 0, kernels * sizeof(unsigned)));

  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  cudaGraph_t g;
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  if (mode == kFlag) CK(cudaMemsetAsync(counters, 0, kernels * sizeof(unsigned), st));
  int idx = 0;
  unsigned prev_blocks = 0;
  auto sync = [&](int blocks) {
    Sync s{mode, idx == 0 ? nullptr : counters + idx - 1, prev_blocks, counters + idx};
    prev_blocks = static_cast<unsigned>(blocks);
    ++idx;
    return s;
  };
  for (int l = 0; l < layers; ++l) {
    const uint4* w = reinterpret_cast<const uint4*>(wts + (wl + kvl) * l);
    const uint4* wqkv = w;
    const uint4* wo = wqkv + 4096 * 1024 / 8;
    const uint4* wgu = wo + 1024 * 2048 / 8;
    const uint4* wd = wgu + 6144 * 1024 / 8;
    const uint4* kv = wd + 1024 * 3072 / 8;
    launch(gemv<1024, true, false>, 1024, st, mode, wqkv, static_cast<const float*>(x), qkv, sync(1024));
    launch(rope, 8, st, mode, static_cast<const float*>(qkv), q, sync(8));
    launch(attn, 24, st, mode, kv, static_cast<const float*>(q), att, sync(24));
    launch(gemv<2048, false, true>, 256, st, mode, wo, static_cast<const float*>(att), x, sync(256));
    launch(gemv<1024, true, false>, 1536, st, mode, wgu, static_cast<const float*>(x), gu, sync(1536));
    launch(gemv<3072, false, true>, 256, st, mode, wd, static_cast<const float*>(gu), x, sync(256));
  }
  CK(cudaStreamEndCapture(st, &g));
  cudaGraphExec_t ge;
  CK(cudaGraphInstantiate(&ge, g, 0));
  for (int i = 0; i < 5; ++i) CK(cudaGraphLaunch(ge, st));
  CK(cudaStreamSynchronize(st));
  cudaEvent_t a, b;
  CK(cudaEventCreate(&a));
  CK(cudaEventCreate(&b));
  std::vector<float> per;
  for (int rep = 0; rep < 5; ++rep) {
    CK(cudaEventRecord(a, st));
    for (int i = 0; i < replays; ++i) CK(cudaGraphLaunch(ge, st));
    CK(cudaEventRecord(b, st));
    CK(cudaEventSynchronize(b));
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, a, b));
    per.push_back(ms * 1000.0f / replays);
  }
  std::vector<float> sorted = per;
  std::sort(sorted.begin(), sorted.end());
  const float med = sorted[sorted.size() / 2];
  std::printf("{\"mode\":\"%s\",\"layers\":%d,\"us_per_replay\":%.1f,\"us_per_kernel\":%.3f,\"us_per_layer\":%.2f}\n",
              names[mode], layers, med, med / kernels, med / layers);
  return 0;
}

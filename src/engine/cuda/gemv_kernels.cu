#include "engine/cuda/gemv_kernels.h"

#include <string>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

constexpr int kRows = GemvParams::kRows;

__device__ __forceinline__ void unpack8(const uint4& v, float f[8]) {
  const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __uint_as_float(u[i] << 16);
    f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
  }
}

// SwiGLU input of one piece: out = silu(gate) * up, 8 values from 16-byte gate and up pieces.
__device__ __forceinline__ void silu_mul8(const uint4& gate, const uint4& up, float out[8]) {
  float g[8], u[8];
  unpack8(gate, g);
  unpack8(up, u);
#pragma unroll
  for (int j = 0; j < 8; ++j) out[j] = g[j] / (1.0f + __expf(-g[j])) * u[j];
}

template <GemvInput IN, int N, int THREADS>
__global__ void __launch_bounds__(THREADS) gemv_kernel(GemvParams p) {
  const int row0 = blockIdx.x * kRows;
  const int pieces = p.k / 8;
  const uint4* w = reinterpret_cast<const uint4*>(p.w) + static_cast<int64_t>(row0) * pieces;
  const uint4* x = reinterpret_cast<const uint4*>(p.x);
  // Before the wait: weights only (first pieces to registers).
  int i = threadIdx.x;
  uint4 wv[kRows];
  // Short rows (128-thread blocks, k < 4096) are latency-bound: they also take
  // the first norm weight piece before the wait and the y they add to right
  // after it, so neither round trip follows the reduction. Long rows (256
  // threads) stream at bandwidth, where the registers held across the wait
  // cost occupancy (measured 0.6-0.8% slower on the 8B), so they load both
  // where they are used.
  constexpr bool kEarlyLoads = THREADS < 256;
  uint4 nwv = make_uint4(0, 0, 0, 0);  // kRmsNorm: the norm weight piece of the first iteration
  if (i < pieces) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) wv[r] = __ldcs(w + static_cast<int64_t>(r) * pieces + i);
    if constexpr (kEarlyLoads && IN == GemvInput::kRmsNorm) {
      nwv = __ldg(reinterpret_cast<const uint4*>(p.norm_weight) + i);
    }
  }
  pdl_enter(p.pdl);
  const int out_r = threadIdx.x / N, out_t = threadIdx.x % N;
  const bool writes = threadIdx.x < kRows * N && out_t < p.n;
  const int64_t out_at = static_cast<int64_t>(out_t) * p.m + row0 + out_r;
  float y_old = 0.0f;  // accumulate: the output this thread adds to
  if constexpr (kEarlyLoads) {
    if (writes && p.accumulate) y_old = static_cast<const float*>(p.y)[out_at];
  }
  __shared__ float inv_rms[N];
  if constexpr (IN == GemvInput::kRmsNorm) {
    __shared__ float part[THREADS / 32][N];
    float ss[N];
#pragma unroll
    for (int t = 0; t < N; ++t) ss[t] = 0.0f;
    const float4* xf = reinterpret_cast<const float4*>(p.x_f32);
    for (int i = threadIdx.x; i < p.k / 4; i += THREADS) {
#pragma unroll
      for (int t = 0; t < N; ++t) {
        const float4 v = xf[static_cast<int64_t>(t) * (p.k / 4) + i];
        ss[t] += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
      }
    }
#pragma unroll
    for (int t = 0; t < N; ++t) {
      float v = ss[t];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (threadIdx.x % 32 == 0) part[threadIdx.x / 32][t] = v;
    }
    __syncthreads();
    if (threadIdx.x < N) {
      float v = 0.0f;
#pragma unroll
      for (int w2 = 0; w2 < THREADS / 32; ++w2) v += part[w2][threadIdx.x];
      inv_rms[threadIdx.x] = rsqrtf(v / static_cast<float>(p.k) + p.eps);
    }
    __syncthreads();
  }
  float acc[kRows][N];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int t = 0; t < N; ++t) acc[r][t] = 0.0f;
  }
  for (; i < pieces; i += THREADS) {
    // Two pieces in flight per row: the next one loads while this one is used.
    uint4 cur[kRows];
#pragma unroll
    for (int r = 0; r < kRows; ++r) cur[r] = wv[r];
    if (i + THREADS < pieces) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) wv[r] = __ldcs(w + static_cast<int64_t>(r) * pieces + i + THREADS);
    }
    float nw[8];
    if constexpr (IN == GemvInput::kRmsNorm) {
      const bool first = kEarlyLoads && i == static_cast<int>(threadIdx.x);
      unpack8(first ? nwv : __ldg(reinterpret_cast<const uint4*>(p.norm_weight) + i), nw);
    }
#pragma unroll
    for (int t = 0; t < N; ++t) {
      float xf[8];
      if constexpr (IN == GemvInput::kBf16) {
        unpack8(__ldg(x + static_cast<int64_t>(t) * pieces + i), xf);
      } else if constexpr (IN == GemvInput::kSiluMul) {
        silu_mul8(__ldg(x + static_cast<int64_t>(t) * 2 * pieces + i),
                  __ldg(x + static_cast<int64_t>(t) * 2 * pieces + pieces + i), xf);
      } else {
        const float4* xr = reinterpret_cast<const float4*>(p.x_f32) + static_cast<int64_t>(t) * (p.k / 4) + 2 * i;
        const float4 a = __ldg(xr), b = __ldg(xr + 1);
        const float inv = inv_rms[t];
        xf[0] = a.x * inv * nw[0];
        xf[1] = a.y * inv * nw[1];
        xf[2] = a.z * inv * nw[2];
        xf[3] = a.w * inv * nw[3];
        xf[4] = b.x * inv * nw[4];
        xf[5] = b.y * inv * nw[5];
        xf[6] = b.z * inv * nw[6];
        xf[7] = b.w * inv * nw[7];
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        float wf[8];
        unpack8(cur[r], wf);
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[r][t] = fmaf(wf[j], xf[j], acc[r][t]);
      }
    }
  }
  __shared__ float red[THREADS / 32][kRows * N];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
#pragma unroll
    for (int t = 0; t < N; ++t) {
      float v = acc[r][t];
#pragma unroll
      for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
      if (lane == 0) red[warp][r * N + t] = v;
    }
  }
  __syncthreads();
  if (writes) {
    float v = 0.0f;
#pragma unroll
    for (int w2 = 0; w2 < THREADS / 32; ++w2) v += red[w2][threadIdx.x];
    if (p.y_f32) {
      if constexpr (!kEarlyLoads) {
        if (p.accumulate) y_old = static_cast<const float*>(p.y)[out_at];
      }
      static_cast<float*>(p.y)[out_at] = y_old + v;
    } else {
      static_cast<__nv_bfloat16*>(p.y)[out_at] = __float2bfloat16_rn(v);
    }
  }
}

// Batch-1 products with short rows (pieces <= P x 128, k < 4096: every
// product of Qwen3-0.6B and SmolLM2, LM heads included, and all of
// Qwen2.5-0.5B's but its down projection, k = 4864): a block of 128 threads
// holds all P pieces of its 4 rows in registers, loaded before the wait, so
// no weight byte is fetched after it. Post-wait work is one L2 round
// trip for x and one block reduction: the dot products use x * norm_weight,
// and the RMSNorm's sum of squares travels through the same shuffles and the
// same barrier as the 4 row sums, so 1/rms scales the sums at the end (the
// general kernel reduces the norm first, then re-reads x). __launch_bounds__
// (128, 12) keeps P = 1 at <= 40 registers (no spills; SwiGLU would spill and
// is left unbounded), 12 blocks per SM: QKV (1024 blocks) and gate_up (1536)
// of Qwen3-0.6B fit in one wave of 132 SMs (the general kernel's 72 registers
// allow 7 blocks per SM, 924 in a wave).
template <GemvInput IN, int P>
__global__ void __launch_bounds__(128, (P == 1 && IN != GemvInput::kSiluMul) ? 12 : 1) gemv_short_kernel(GemvParams p) {
  constexpr int kThreads = 128;
  const int row0 = blockIdx.x * kRows;
  const int pieces = p.k / 8;
  const uint4* w = reinterpret_cast<const uint4*>(p.w) + static_cast<int64_t>(row0) * pieces;
  const int tid = threadIdx.x;
  uint4 wv[P][kRows];
  uint4 nwv[P];
#pragma unroll
  for (int j = 0; j < P; ++j) {
    const int ii = tid + j * kThreads;
    if (ii < pieces) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) wv[j][r] = __ldcs(w + static_cast<int64_t>(r) * pieces + ii);
      if constexpr (IN == GemvInput::kRmsNorm) nwv[j] = __ldg(reinterpret_cast<const uint4*>(p.norm_weight) + ii);
    }
  }
  pdl_enter(p.pdl);
  const bool writes = tid < kRows;
  float y_old = 0.0f;
  if (writes && p.accumulate) y_old = static_cast<const float*>(p.y)[row0 + tid];
  // Inputs: all loads issued before any is used.
  uint4 xa[P], xb[P];
#pragma unroll
  for (int j = 0; j < P; ++j) {
    const int ii = tid + j * kThreads;
    if (ii < pieces) {
      if constexpr (IN == GemvInput::kRmsNorm) {
        const uint4* xr = reinterpret_cast<const uint4*>(p.x_f32) + 2 * ii;
        xa[j] = __ldg(xr);
        xb[j] = __ldg(xr + 1);
      } else if constexpr (IN == GemvInput::kSiluMul) {
        const uint4* x = reinterpret_cast<const uint4*>(p.x);
        xa[j] = __ldg(x + ii);
        xb[j] = __ldg(x + pieces + ii);
      } else {
        xa[j] = __ldg(reinterpret_cast<const uint4*>(p.x) + ii);
      }
    }
  }
  float acc[kRows + 1] = {};  // the 4 row sums, then (kRmsNorm) the sum of squares
#pragma unroll
  for (int j = 0; j < P; ++j) {
    if (tid + j * kThreads < pieces) {
      float xf[8];
      if constexpr (IN == GemvInput::kRmsNorm) {
        float nw[8];
        unpack8(nwv[j], nw);
        const float v[8] = {__uint_as_float(xa[j].x), __uint_as_float(xa[j].y), __uint_as_float(xa[j].z),
                            __uint_as_float(xa[j].w), __uint_as_float(xb[j].x), __uint_as_float(xb[j].y),
                            __uint_as_float(xb[j].z), __uint_as_float(xb[j].w)};
#pragma unroll
        for (int e = 0; e < 8; ++e) {
          acc[kRows] = fmaf(v[e], v[e], acc[kRows]);
          xf[e] = v[e] * nw[e];
        }
      } else if constexpr (IN == GemvInput::kSiluMul) {
        silu_mul8(xa[j], xb[j], xf);
      } else {
        unpack8(xa[j], xf);
      }
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        float wf[8];
        unpack8(wv[j][r], wf);
#pragma unroll
        for (int e = 0; e < 8; ++e) acc[r] = fmaf(wf[e], xf[e], acc[r]);
      }
    }
  }
  constexpr int kSums = IN == GemvInput::kRmsNorm ? kRows + 1 : kRows;
  __shared__ float red[kThreads / 32][kSums];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
#pragma unroll
    for (int s = 0; s < kSums; ++s) acc[s] += __shfl_xor_sync(0xffffffffu, acc[s], o);
  }
  if (tid % 32 == 0) {
#pragma unroll
    for (int s = 0; s < kSums; ++s) red[tid / 32][s] = acc[s];
  }
  __syncthreads();
  if (writes) {
    float v = 0.0f;
#pragma unroll
    for (int w2 = 0; w2 < kThreads / 32; ++w2) v += red[w2][tid];
    if constexpr (IN == GemvInput::kRmsNorm) {
      float ss = 0.0f;
#pragma unroll
      for (int w2 = 0; w2 < kThreads / 32; ++w2) ss += red[w2][kRows];
      v *= rsqrtf(ss / static_cast<float>(p.k) + p.eps);
    }
    if (p.y_f32) {
      static_cast<float*>(p.y)[row0 + tid] = y_old + v;
    } else {
      static_cast<__nv_bfloat16*>(p.y)[row0 + tid] = __float2bfloat16_rn(v);
    }
  }
}

template <GemvInput IN, int N>
cudaError_t launch_n(const GemvParams& p, cudaStream_t stream) {
  const int blocks = p.m / kRows;
  const int pieces = p.k / 8;
  if constexpr (N == 1) {
    if (pieces < 4 * 128) {
      const int per_thread = (pieces + 127) / 128;
      if (per_thread == 1) return launch_kernel(gemv_short_kernel<IN, 1>, blocks, 128, 0, stream, p.pdl, p);
      if (per_thread == 2) return launch_kernel(gemv_short_kernel<IN, 2>, blocks, 128, 0, stream, p.pdl, p);
      if (per_thread == 3) return launch_kernel(gemv_short_kernel<IN, 3>, blocks, 128, 0, stream, p.pdl, p);
      return launch_kernel(gemv_short_kernel<IN, 4>, blocks, 128, 0, stream, p.pdl, p);
    }
  }
  return pieces >= 512 ? launch_kernel(gemv_kernel<IN, N, 256>, blocks, 256, 0, stream, p.pdl, p)
                       : launch_kernel(gemv_kernel<IN, N, 128>, blocks, 128, 0, stream, p.pdl, p);
}

template <GemvInput IN>
cudaError_t launch_in(const GemvParams& p, cudaStream_t stream) {
  if (p.n == 1) return launch_n<IN, 1>(p, stream);
  if (p.n == 2) return launch_n<IN, 2>(p, stream);
  if (p.n <= 4) return launch_n<IN, 4>(p, stream);
  return launch_n<IN, 8>(p, stream);
}

}  // namespace

Status GemvParams::check() const {
  auto bad = [](const std::string& what) { return Status(ErrorKind::kInternal, "gemv: " + what); };
  if (w == nullptr || y == nullptr) return bad("null pointer");
  if (input == GemvInput::kRmsNorm ? (x_f32 == nullptr || norm_weight == nullptr) : x == nullptr) {
    return bad("null input pointer");
  }
  if (m < kRows || m % kRows != 0) return bad("m must be a positive multiple of " + std::to_string(kRows));
  if (k < 8 || k % 8 != 0) return bad("k must be a positive multiple of 8");
  if (n < 1 || n > kMaxN) return bad("n must be in [1, 8]");
  if (accumulate && !y_f32) return bad("accumulate needs a float32 y");
  return {};
}

Status launch(const GemvParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  cudaError_t e = cudaSuccess;
  switch (p.input) {
    case GemvInput::kBf16: e = launch_in<GemvInput::kBf16>(p, stream); break;
    case GemvInput::kRmsNorm: e = launch_in<GemvInput::kRmsNorm>(p, stream); break;
    case GemvInput::kSiluMul: e = launch_in<GemvInput::kSiluMul>(p, stream); break;
  }
  if (e != cudaSuccess) return cuda_error(e, "gemv_kernel launch");
  return last_launch_status("gemv_kernel");
}

}  // namespace tandem::engine::cuda

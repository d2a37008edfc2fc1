#include "engine/cuda/elementwise_kernels.h"

#include <string>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

Status bad(const char* kernel, const std::string& what) {
  return Status(ErrorKind::kInternal, std::string(kernel) + ": " + what);
}

__global__ void embedding_kernel(EmbeddingParams p) {
  const int t = blockIdx.x;
  const int32_t id = p.ids[t];
  const uint4* src = reinterpret_cast<const uint4*>(p.table + static_cast<int64_t>(id) * p.hidden);
  float* dst = p.out + static_cast<int64_t>(t) * p.hidden;
  for (int i = threadIdx.x; i < p.hidden / 8; i += blockDim.x) {
    const uint4 v = src[i];
    const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
    float4 a, b;
    float2 f0 = __bfloat1622float2(h[0]), f1 = __bfloat1622float2(h[1]);
    float2 f2 = __bfloat1622float2(h[2]), f3 = __bfloat1622float2(h[3]);
    a = make_float4(f0.x, f0.y, f1.x, f1.y);
    b = make_float4(f2.x, f2.y, f3.x, f3.y);
    reinterpret_cast<float4*>(dst)[2 * i] = a;
    reinterpret_cast<float4*>(dst)[2 * i + 1] = b;
  }
}

__device__ float block_sum(float v, float* shared) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int n_warps = blockDim.x / 32;
  float s = lane < n_warps ? shared[lane] : 0.0f;
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  return s;
}

// Each thread keeps its (up to kRmsRegs) float4 pieces of the row in registers
// between the sum of squares and the scaling, so the row is read from memory
// once; pieces beyond kRmsRegs * blockDim (hidden > 8192 at 512 threads) are
// read again. Output: 4 bf16 (8 bytes) per store.
constexpr int kRmsRegs = 4;

__global__ void rms_norm_kernel(RmsNormParams p) {
  __shared__ float shared[32];
  // Before the PDL wait: the row index (step metadata) and the first weights.
  const int r = blockIdx.x;
  const int row = p.rows != nullptr ? p.rows[r] : r;
  const int n4 = p.hidden / 4;
  const uint2* w = reinterpret_cast<const uint2*>(p.weight);
  uint2 wpre[kRmsRegs];
#pragma unroll
  for (int j = 0; j < kRmsRegs; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    wpre[j] = i < n4 ? w[i] : make_uint2(0, 0);
  }
  pdl_enter(p.pdl);
  const float4* x = reinterpret_cast<const float4*>(p.x + static_cast<int64_t>(row) * p.hidden);
  float4 v[kRmsRegs];
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kRmsRegs; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    v[j] = i < n4 ? x[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    ss += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
  }
  for (int i = threadIdx.x + kRmsRegs * blockDim.x; i < n4; i += blockDim.x) {
    const float4 u = x[i];
    ss += u.x * u.x + u.y * u.y + u.z * u.z + u.w * u.w;
  }
  ss = block_sum(ss, shared);
  const float inv = rsqrtf(ss / static_cast<float>(p.hidden) + p.eps);
  uint2* out = reinterpret_cast<uint2*>(p.out + static_cast<int64_t>(r) * p.hidden);
  auto emit = [&](int i, const float4& u, const uint2& wv) {
    const float2 w0 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&wv.x));
    const float2 w1 = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&wv.y));
    const __nv_bfloat162 o0 = __floats2bfloat162_rn(u.x * inv * w0.x, u.y * inv * w0.y);
    const __nv_bfloat162 o1 = __floats2bfloat162_rn(u.z * inv * w1.x, u.w * inv * w1.y);
    uint2 o;
    o.x = *reinterpret_cast<const uint32_t*>(&o0);
    o.y = *reinterpret_cast<const uint32_t*>(&o1);
    out[i] = o;
  };
#pragma unroll
  for (int j = 0; j < kRmsRegs; ++j) {
    const int i = threadIdx.x + j * blockDim.x;
    if (i < n4) emit(i, v[j], wpre[j]);
  }
  for (int i = threadIdx.x + kRmsRegs * blockDim.x; i < n4; i += blockDim.x) emit(i, x[i], w[i]);
}

__device__ __forceinline__ uint4 silu_mul8(const uint4& g, const uint4& u) {
  const __nv_bfloat162* g2 = reinterpret_cast<const __nv_bfloat162*>(&g);
  const __nv_bfloat162* u2 = reinterpret_cast<const __nv_bfloat162*>(&u);
  uint4 o;
  __nv_bfloat162* o2 = reinterpret_cast<__nv_bfloat162*>(&o);
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    const float2 gf = __bfloat1622float2(g2[j]);
    const float2 uf = __bfloat1622float2(u2[j]);
    const float a = gf.x / (1.0f + __expf(-gf.x)) * uf.x;
    const float b = gf.y / (1.0f + __expf(-gf.y)) * uf.y;
    o2[j] = __floats2bfloat162_rn(a, b);
  }
  return o;
}

// Thread (t, i) handles column groups i and i + kSiluThreads of 8 columns
// (two 16-byte gate and up loads in flight each).
constexpr int kSiluThreads = 256;

__global__ void __launch_bounds__(kSiluThreads) silu_mul_kernel(SiluMulParams p) {
  const int t = blockIdx.y;
  const int groups = p.inter / 8;
  const int i0 = blockIdx.x * 2 * kSiluThreads + threadIdx.x;
  const int i1 = i0 + kSiluThreads;
  const uint4* g = reinterpret_cast<const uint4*>(p.gate_up + static_cast<int64_t>(t) * 2 * p.inter);
  const uint4* u = g + groups;
  uint4* out = reinterpret_cast<uint4*>(p.out + static_cast<int64_t>(t) * p.inter);
  if (i1 < groups) {
    const uint4 g0 = g[i0], g1 = g[i1], u0 = u[i0], u1 = u[i1];
    out[i0] = silu_mul8(g0, u0);
    out[i1] = silu_mul8(g1, u1);
  } else if (i0 < groups) {
    out[i0] = silu_mul8(g[i0], u[i0]);
  }
}

}  // namespace

Status EmbeddingParams::check() const {
  if (table == nullptr || ids == nullptr || out == nullptr) return bad("embedding", "null pointer");
  if (n_tokens < 0 || hidden <= 0 || hidden % 8 != 0)
    return bad("embedding", "hidden must be a positive multiple of 8");
  return {};
}

Status launch(const EmbeddingParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  if (p.n_tokens == 0) return {};
  embedding_kernel<<<p.n_tokens, 128, 0, stream>>>(p);
  return last_launch_status("embedding_kernel");
}

Status RmsNormParams::check() const {
  if (x == nullptr || weight == nullptr || out == nullptr) return bad("rms_norm", "null pointer");
  if (n_rows < 0 || hidden <= 0 || hidden % 4 != 0) return bad("rms_norm", "hidden must be a positive multiple of 4");
  return {};
}

Status launch(const RmsNormParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  if (p.n_rows == 0) return {};
  const int threads = p.hidden >= 4096 ? 512 : p.hidden >= 1024 ? 256 : 128;
  const cudaError_t e = launch_kernel(rms_norm_kernel, p.n_rows, threads, 0, stream, p.pdl, p);
  if (e != cudaSuccess) return cuda_error(e, "rms_norm_kernel launch");
  return last_launch_status("rms_norm_kernel");
}

Status SiluMulParams::check() const {
  if (gate_up == nullptr || out == nullptr) return bad("silu_mul", "null pointer");
  if (n_tokens < 0 || inter <= 0 || inter % 8 != 0) return bad("silu_mul", "inter must be a positive multiple of 8");
  if (n_tokens > 65535) return bad("silu_mul", "more than 65535 tokens");
  return {};
}

Status launch(const SiluMulParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  if (p.n_tokens == 0) return {};
  const int groups = p.inter / 8;
  const dim3 grid((groups + 2 * kSiluThreads - 1) / (2 * kSiluThreads), p.n_tokens);
  silu_mul_kernel<<<grid, kSiluThreads, 0, stream>>>(p);
  return last_launch_status("silu_mul_kernel");
}

}  // namespace tandem::engine::cuda

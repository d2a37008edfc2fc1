#include "engine/cuda/rope_kv_kernels.h"

#include <string>
#include <type_traits>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

constexpr int kWarps = 4;  // warps per block

// Heads per warp: 1 on the float32 (decode GEMV) path, so one decode token
// spreads over (heads / kWarps) blocks; kPrefillHeads on the bf16 (cuBLASLt)
// path, where one warp loads several heads' values before using any (more
// bytes in flight per warp: with one head per warp the kernel was bound by
// load latency, ~2 TB/s of bf16 on an H200, bench/gemm elementwise_bench) and
// computes the token's sin/cos once for all of them.
constexpr int kPrefillHeads = 4;

__device__ __forceinline__ float load_qkv(const float* row, int col) { return row[col]; }
__device__ __forceinline__ float load_qkv(const __nv_bfloat16* row, int col) { return __bfloat162float(row[col]); }

// Block (t, g) handles token t, heads (g * kWarps + warp) * HPW + j, j < HPW.
// Lane holds elements lane + 32 c, c < HD / 32. Rotation pairs are
// (c, c + HD / 64): element j pairs with j + HD / 2.
// In: float (qkv) or __nv_bfloat16 (qkv_bf16), the product's output type.
template <int HD, class In, int HPW>
__global__ void __launch_bounds__(kWarps * 32) rope_kv_kernel(RopeKvParams p) {
  constexpr int kPer = HD / 32;
  constexpr int kHalfC = kPer / 2;
  const int t = blockIdx.x;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int total_heads = p.n_heads + 2 * p.n_kv_heads;
  const int h0 = (blockIdx.y * kWarps + warp) * HPW;
  if (h0 >= total_heads) return;

  // Before the PDL wait (launch_pdl.h): the step metadata (position, KV slot),
  // the RoPE angles and the layer's bias and q/k norm weights, none of which a
  // kernel of the step writes. Only the product's output is read after it.
  const float pos = static_cast<float>(p.positions[t]);
  const int32_t slot_index = p.kv_slots[t];
  float sn[kHalfC], cs[kHalfC];
  if (h0 < p.n_heads + p.n_kv_heads) {
#pragma unroll
    for (int c = 0; c < kHalfC; ++c) sincosf(pos * p.inv_freq[lane + 32 * c], &sn[c], &cs[c]);
  }
  float bias[HPW][kPer], norm[HPW][kPer];
#pragma unroll
  for (int j = 0; j < HPW; ++j) {
    const int h = h0 + j;
    const __nv_bfloat16* nw = h < p.n_heads ? p.q_norm : h < p.n_heads + p.n_kv_heads ? p.k_norm : nullptr;
#pragma unroll
    for (int c = 0; c < kPer; ++c) {
      const int e = lane + 32 * c;
      bias[j][c] = p.bias != nullptr && h < total_heads ? __bfloat162float(p.bias[h * HD + e]) : 0.0f;
      norm[j][c] = nw != nullptr && h < total_heads ? __bfloat162float(nw[e]) : 1.0f;
    }
  }
  pdl_enter(p.pdl);

  const int qkv_dim = total_heads * HD;
  const In* src = nullptr;
  if constexpr (std::is_same_v<In, float>) {
    src = p.qkv;
  } else {
    src = p.qkv_bf16;
  }
  const In* src_row = src + static_cast<int64_t>(t) * qkv_dim;

  // Every load of the warp's heads first.
  float x[HPW][kPer];
#pragma unroll
  for (int j = 0; j < HPW; ++j) {
#pragma unroll
    for (int c = 0; c < kPer; ++c) {
      const int col = (h0 + j) * HD + lane + 32 * c;
      x[j][c] = h0 + j < total_heads ? load_qkv(src_row, col) : 0.0f;
    }
  }
  const int64_t block = slot_index / p.block_tokens;
  const int slot = slot_index % p.block_tokens;
  const int64_t kv_row = static_cast<int64_t>(p.n_kv_heads) * HD;
  __nv_bfloat16* k_base =
      p.kv_pool + block * p.block_elems + (static_cast<int64_t>(p.layer) * 2 * p.block_tokens + slot) * kv_row;
  __nv_bfloat16* v_base = k_base + static_cast<int64_t>(p.block_tokens) * kv_row;

#pragma unroll
  for (int j = 0; j < HPW; ++j) {
    const int h = h0 + j;
    if (h >= total_heads) break;
    const bool is_q = h < p.n_heads;
    const bool is_v = h >= p.n_heads + p.n_kv_heads;
    float* xh = x[j];
#pragma unroll
    for (int c = 0; c < kPer; ++c) xh[c] += bias[j][c];
    if (!is_v) {
      if (p.q_norm != nullptr) {
        float ss = 0.0f;
#pragma unroll
        for (int c = 0; c < kPer; ++c) ss += xh[c] * xh[c];
        for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        const float inv = rsqrtf(ss / HD + p.eps);
#pragma unroll
        for (int c = 0; c < kPer; ++c) xh[c] = xh[c] * inv * norm[j][c];
      }
#pragma unroll
      for (int c = 0; c < kHalfC; ++c) {
        const float a = xh[c], b = xh[c + kHalfC];
        xh[c] = a * cs[c] - b * sn[c];
        xh[c + kHalfC] = b * cs[c] + a * sn[c];
      }
    }
    __nv_bfloat16* dst;
    if (is_q) {
      dst = p.q_out + (static_cast<int64_t>(t) * p.n_heads + h) * HD;
    } else if (!is_v) {
      dst = k_base + static_cast<int64_t>(h - p.n_heads) * HD;
    } else {
      dst = v_base + static_cast<int64_t>(h - p.n_heads - p.n_kv_heads) * HD;
    }
#pragma unroll
    for (int c = 0; c < kPer; ++c) dst[lane + 32 * c] = __float2bfloat16_rn(xh[c]);
  }
}

}  // namespace

Status RopeKvParams::check() const {
  auto bad = [](const std::string& what) { return Status(ErrorKind::kInternal, "rope_kv: " + what); };
  if ((qkv == nullptr) == (qkv_bf16 == nullptr)) return bad("exactly one of qkv and qkv_bf16 must be set");
  if (inv_freq == nullptr || positions == nullptr || kv_slots == nullptr || q_out == nullptr || kv_pool == nullptr) {
    return bad("null pointer");
  }
  if ((q_norm == nullptr) != (k_norm == nullptr)) return bad("q_norm and k_norm must both be set or both null");
  if (head_dim != 64 && head_dim != 128 && head_dim != 256) return bad("head_dim must be 64, 128 or 256");
  if (n_tokens < 0 || n_heads < 1 || n_kv_heads < 1 || block_tokens < 1 || block_elems < 1 || layer < 0) {
    return bad("bad shape");
  }
  if (n_tokens > (1 << 30) || n_heads + 2 * n_kv_heads > 65535 * 4) return bad("too many tokens or heads for the grid");
  return {};
}

Status launch(const RopeKvParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  if (p.n_tokens == 0) return {};
  const int total_heads = p.n_heads + 2 * p.n_kv_heads;
  const bool f32 = p.qkv != nullptr;
  const int per_block = kWarps * (f32 ? 1 : kPrefillHeads);
  const dim3 grid(p.n_tokens, (total_heads + per_block - 1) / per_block);
  cudaError_t e = cudaSuccess;
  switch (p.head_dim) {
    case 64:
      e = f32 ? launch_kernel(rope_kv_kernel<64, float, 1>, grid, kWarps * 32, 0, stream, p.pdl, p)
              : launch_kernel(rope_kv_kernel<64, __nv_bfloat16, kPrefillHeads>, grid, kWarps * 32, 0, stream, p.pdl, p);
      break;
    case 128:
      e = f32 ? launch_kernel(rope_kv_kernel<128, float, 1>, grid, kWarps * 32, 0, stream, p.pdl, p)
              : launch_kernel(rope_kv_kernel<128, __nv_bfloat16, kPrefillHeads>, grid, kWarps * 32, 0, stream, p.pdl,
                              p);
      break;
    case 256:
      e = f32 ? launch_kernel(rope_kv_kernel<256, float, 1>, grid, kWarps * 32, 0, stream, p.pdl, p)
              : launch_kernel(rope_kv_kernel<256, __nv_bfloat16, kPrefillHeads>, grid, kWarps * 32, 0, stream, p.pdl,
                              p);
      break;
  }
  if (e != cudaSuccess) return cuda_error(e, "rope_kv_kernel launch");
  return last_launch_status("rope_kv_kernel");
}

}  // namespace tandem::engine::cuda

#include "engine/cuda/rope_kv_kernels.h"

#include <string>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

constexpr int kWarps = 4;  // heads per block (one warp each)

// Block (t, g) handles token t, heads g * kWarps .. + kWarps - 1: one warp per
// head, so a single decode token spreads over (heads / kWarps) blocks. Lane
// holds elements lane + 32 c, c < HD / 32. Rotation pairs are
// (c, c + HD / 64): element j pairs with j + HD / 2.
template <int HD>
__global__ void __launch_bounds__(kWarps * 32) rope_kv_kernel(RopeKvParams p) {
  constexpr int kPer = HD / 32;
  constexpr int kHalfC = kPer / 2;
  pdl_enter(p.pdl);
  const int t = blockIdx.x;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int total_heads = p.n_heads + 2 * p.n_kv_heads;
  const int h = blockIdx.y * kWarps + warp;
  if (h >= total_heads) return;
  const int qkv_dim = total_heads * HD;
  const float pos = static_cast<float>(p.positions[t]);
  const int32_t slot_index = p.kv_slots[t];
  const int64_t block = slot_index / p.block_tokens;
  const int slot = slot_index % p.block_tokens;
  const int64_t kv_row = static_cast<int64_t>(p.n_kv_heads) * HD;
  __nv_bfloat16* k_base = p.kv_pool + block * p.block_elems +
                          (static_cast<int64_t>(p.layer) * 2 * p.block_tokens + slot) * kv_row;
  __nv_bfloat16* v_base = k_base + static_cast<int64_t>(p.block_tokens) * kv_row;
  const float* src_row = p.qkv + static_cast<int64_t>(t) * qkv_dim;

  {
    const bool is_q = h < p.n_heads;
    const bool is_v = h >= p.n_heads + p.n_kv_heads;
    float x[kPer];
#pragma unroll
    for (int c = 0; c < kPer; ++c) {
      const int col = h * HD + lane + 32 * c;
      x[c] = src_row[col];
      if (p.bias != nullptr) x[c] += __bfloat162float(p.bias[col]);
    }
    if (!is_v) {
      const __nv_bfloat16* norm = is_q ? p.q_norm : p.k_norm;
      if (norm != nullptr) {
        float ss = 0.0f;
#pragma unroll
        for (int c = 0; c < kPer; ++c) ss += x[c] * x[c];
        for (int o = 16; o > 0; o >>= 1) ss += __shfl_xor_sync(0xffffffffu, ss, o);
        const float inv = rsqrtf(ss / HD + p.eps);
#pragma unroll
        for (int c = 0; c < kPer; ++c) x[c] = x[c] * inv * __bfloat162float(norm[lane + 32 * c]);
      }
#pragma unroll
      for (int c = 0; c < kHalfC; ++c) {
        const int i = lane + 32 * c;  // frequency index in [0, HD / 2)
        float s, co;
        sincosf(pos * p.inv_freq[i], &s, &co);
        const float a = x[c], b = x[c + kHalfC];
        x[c] = a * co - b * s;
        x[c + kHalfC] = b * co + a * s;
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
    for (int c = 0; c < kPer; ++c) dst[lane + 32 * c] = __float2bfloat16_rn(x[c]);
  }
}

}  // namespace

Status RopeKvParams::check() const {
  auto bad = [](const std::string& what) { return Status(ErrorKind::kInternal, "rope_kv: " + what); };
  if (qkv == nullptr || inv_freq == nullptr || positions == nullptr || kv_slots == nullptr || q_out == nullptr ||
      kv_pool == nullptr) {
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
  TANDEM_STATUS_TRY(p.check());
  if (p.n_tokens == 0) return {};
  const int total_heads = p.n_heads + 2 * p.n_kv_heads;
  const dim3 grid(p.n_tokens, (total_heads + kWarps - 1) / kWarps);
  cudaError_t e = cudaSuccess;
  switch (p.head_dim) {
    case 64:
      e = launch_kernel(rope_kv_kernel<64>, grid, kWarps * 32, 0, stream, p.pdl, p);
      break;
    case 128:
      e = launch_kernel(rope_kv_kernel<128>, grid, kWarps * 32, 0, stream, p.pdl, p);
      break;
    case 256:
      e = launch_kernel(rope_kv_kernel<256>, grid, kWarps * 32, 0, stream, p.pdl, p);
      break;
  }
  if (e != cudaSuccess) return cuda_error(e, "rope_kv_kernel launch");
  return last_launch_status("rope_kv_kernel");
}

}  // namespace tandem::engine::cuda

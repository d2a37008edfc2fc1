#include "engine/cuda/decode_step_kernel.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

using P = DecodeStepParams;
constexpr int kThreads = P::kThreads;
constexpr int kWarps = kThreads / 32;
constexpr int kCopyChunk = 32 << 10;  // bytes per cp.async.bulk
constexpr int kAttnUnroll = 4;        // key positions in flight per warp
constexpr int kBarrierOffset = 128;   // mbarriers at the start of shared memory
constexpr int kMaxNormPer = 8;        // hidden <= kMaxNormPer * kThreads
constexpr int kTableSmem = 1024;      // block-table entries kept in shared memory (longer: read from L2)

// ---- small device helpers ----

__device__ __forceinline__ void unpack8(const uint4& v, float f[8]) {
  const uint32_t u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    f[2 * i] = __uint_as_float(u[i] << 16);
    f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void mbar_init(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}

__device__ __forceinline__ void mbar_wait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(smem_addr(bar)), "r"(parity)
        : "memory");
  } while (done == 0);
}

// One thread: expects `bytes` on `bar` and starts the bulk copies of
// src[0, bytes) into dst. The caller made every earlier shared read of dst
// happen before this (__syncthreads).
__device__ void bulk_load(void* dst, const void* src, uint32_t bytes, uint64_t* bar) {
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_addr(bar)), "r"(bytes)
               : "memory");
  for (uint32_t off = 0; off < bytes; off += kCopyChunk) {
    const uint32_t n = min(bytes - off, static_cast<uint32_t>(kCopyChunk));
    asm volatile(
        "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
            smem_addr(static_cast<char*>(dst) + off)),
        "l"(static_cast<const char*>(src) + off), "r"(n), "r"(smem_addr(bar))
        : "memory");
  }
}

// Grid-wide barrier over a monotonic 64-bit arrival counter: barrier k of a
// launch completes when the counter reaches base + (k + 1) * grid, where base
// (a multiple of the grid) is the counter rounded down at launch (no barrier
// of this launch can complete before every CTA read it). Arrive: after
// __syncthreads, thread 0 adds 1 with release semantics at gpu scope (the
// CTA's earlier writes, ordered before it by the bar.sync, become visible
// first); leave: it spins with ld.acquire.gpu until the target, then
// __syncthreads releases the CTA.
struct GridBarrier {
  unsigned long long* counter;
  unsigned long long next;  // target of the next barrier (thread 0)
  unsigned nblocks;
  __device__ void init(unsigned long long* c, unsigned nb) {
    counter = c;
    nblocks = nb;
    if (threadIdx.x == 0) {
      unsigned long long v;
      asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(v) : "l"(c) : "memory");
      next = v / nb * nb + nb;
    }
  }
  __device__ void sync() {
    __syncthreads();
    if (threadIdx.x == 0) {
#ifdef TANDEM_DECODE_BARRIER_FENCED
      __threadfence();
      atomicAdd(counter, 1ull);
#else
      asm volatile("red.release.gpu.global.add.u64 [%0], 1;" ::"l"(counter) : "memory");
#endif
      unsigned long long cur = 0;
      do {
        asm volatile("ld.acquire.gpu.global.u64 %0, [%1];" : "=l"(cur) : "l"(counter) : "memory");
      } while (cur < next);
#ifdef TANDEM_DECODE_BARRIER_FENCED
      __threadfence();
#endif
      next += nblocks;
    }
    __syncthreads();
  }
};

// Phase timestamps for bench/decode/decode_step_bench.cu only (compiled in
// under TANDEM_DECODE_STEP_PROFILE): thread 0 of each CTA writes %globaltimer
// at slot (layer * 5 + phase) * 4 + {0 start, 1 before mbarrier wait, 2 after
// it, 3 before the grid barrier}.
#ifdef TANDEM_DECODE_STEP_PROFILE
#define DECODE_STAMP(layer, phase, which)                                                                   \
  do {                                                                                                     \
    if (threadIdx.x == 0 && p.profile != nullptr) {                                                        \
      unsigned long long t_;                                                                               \
      asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t_));                                               \
      p.profile[static_cast<int64_t>(blockIdx.x) * p.n_layers * 20 + ((layer) * 5 + (phase)) * 4 + (which)] = t_; \
    }                                                                                                      \
  } while (0)
#else
#define DECODE_STAMP(layer, phase, which) \
  do {                                    \
  } while (0)
#endif

__device__ __forceinline__ int64_t slice_begin(int m, int cta, int nb) {
  return static_cast<int64_t>(m) * cta / nb;
}

// The activation vector in shared memory, as two float4 arrays (elements
// 0-3 and 4-7 of each 8-element piece) so a warp reading consecutive pieces
// hits consecutive banks.
struct Act {
  float* base;
  int pieces;  // capacity
  __device__ __forceinline__ void set(int i, float v) const {
    const int piece = i >> 3, j = i & 7;
    base[(j < 4 ? 0 : pieces * 4) + piece * 4 + (j & 3)] = v;
  }
  __device__ __forceinline__ void get8(int piece, float f[8]) const {
    const float4 a = reinterpret_cast<const float4*>(base)[piece];
    const float4 b = reinterpret_cast<const float4*>(base)[pieces + piece];
    f[0] = a.x, f[1] = a.y, f[2] = a.z, f[3] = a.w, f[4] = b.x, f[5] = b.y, f[6] = b.z, f[7] = b.w;
  }
};

// act = RMSNorm(src) * weight, src = x (float32, L2) or the embedding row.
__device__ void load_normed(const Act& act, const float* x, const __nv_bfloat16* emb_row, const __nv_bfloat16* w,
                            int k, float eps, float* red) {
  // One pass: x and the norm weight in registers (k <= kMaxNormPer * kThreads).
  float v[kMaxNormPer], wv[kMaxNormPer];
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxNormPer; ++j) {
    const int i = threadIdx.x + j * kThreads;
    v[j] = i < k ? (emb_row != nullptr ? __bfloat162float(emb_row[i]) : __ldcg(x + i)) : 0.0f;
    wv[j] = i < k ? __bfloat162float(w[i]) : 0.0f;
    ss += v[j] * v[j];
  }
  ss = warp_sum(ss);
  if (threadIdx.x % 32 == 0) red[threadIdx.x / 32] = ss;
  __syncthreads();
  float total = 0.0f;
#pragma unroll
  for (int i = 0; i < kWarps; ++i) total += red[i];
  const float inv = rsqrtf(total / static_cast<float>(k) + eps);
#pragma unroll
  for (int j = 0; j < kMaxNormPer; ++j) {
    const int i = threadIdx.x + j * kThreads;
    if (i < k) act.set(i, v[j] * inv * wv[j]);
  }
  __syncthreads();
}

// This CTA's rows [r0, r0 + n) of W (in shared memory, row-major [n, k])
// times act; out(row, value) for each row. Each warp takes (row, k-segment)
// tasks; segment sums are added in a fixed order (deterministic).
template <class Out>
__device__ void gemv_rows(const unsigned char* wbuf, const Act& act, int n, int k, float* red, Out out) {
  const int pieces = k / 8;
  const int segs = n >= kWarps ? 1 : kWarps / max(n, 1);
  const int tasks = n * segs;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const uint4* w = reinterpret_cast<const uint4*>(wbuf);
  for (int task = warp; task < tasks; task += kWarps) {
    const int row = task / segs, seg = task % segs;
    const int begin = pieces * seg / segs, end = pieces * (seg + 1) / segs;
    float acc = 0.0f;
    for (int pc = begin + lane; pc < end; pc += 32) {
      float wf[8], xf[8];
      unpack8(w[static_cast<int64_t>(row) * pieces + pc], wf);
      act.get8(pc, xf);
#pragma unroll
      for (int j = 0; j < 8; ++j) acc = fmaf(wf[j], xf[j], acc);
    }
    acc = warp_sum(acc);
    if (lane == 0) red[task] = acc;
  }
  __syncthreads();
  for (int row = threadIdx.x; row < n; row += kThreads) {
    float v = 0.0f;
    for (int s = 0; s < segs; ++s) v += red[row * segs + s];
    out(row, v);
  }
}

__device__ __forceinline__ int attn_splits(int ctx, int n_kv, int nb) {
  const int by_len = (ctx + P::kSplitChunk - 1) / P::kSplitChunk;
  return max(1, min(min(by_len, max(1, nb / n_kv)), P::kMaxSplits));
}

// Phase 2 for one (kv head, split) item. Shared scratch `s` holds q [G][HD]
// then the per-warp partials [kWarps][G][HD + 2].
template <int HD, int G>
__device__ void attention_item(const P& p, const DeviceLayer& L, int layer, int h, int split, int splits, int ctx,
                               const int32_t* table, float* s, float* part_o, float* part_ml) {
  constexpr int kPer = HD / 32;      // elements per lane in the rope (lane + 32 c)
  constexpr int kHalfC = kPer / 2;
  constexpr int E = HD / 32;         // elements per lane in the attention (lane * E ..)
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int p0 = static_cast<int>(static_cast<int64_t>(ctx) * split / splits);
  const int p1 = static_cast<int>(static_cast<int64_t>(ctx) * (split + 1) / splits);
  const bool writer = p1 == ctx;  // holds the new token's position (ctx - 1)
  const int64_t kv_row = static_cast<int64_t>(p.n_kv_heads) * HD;
  const int bt = p.block_tokens;
  float* q_s = s;
  // Rope: warps 0..G-1 the query heads, warp G the key, warp G+1 the value.
  if (warp < G + 2 && (warp < G || writer)) {
    const bool is_v = warp == G + 1;
    const int head = warp < G ? h * G + warp : p.n_heads + (is_v ? p.n_kv_heads : 0) + h;
    const float pos = static_cast<float>(p.positions[0]);
    float x[kPer];
#pragma unroll
    for (int c = 0; c < kPer; ++c) {
      const int col = head * HD + lane + 32 * c;
      x[c] = __ldcg(p.qkv + col);
      if (L.bqkv != nullptr) x[c] += __bfloat162float(L.bqkv[col]);
    }
    if (!is_v) {
      const __nv_bfloat16* norm = warp < G ? L.q_norm : L.k_norm;
      if (norm != nullptr) {
        float ss = 0.0f;
#pragma unroll
        for (int c = 0; c < kPer; ++c) ss += x[c] * x[c];
        ss = warp_sum(ss);
        const float inv = rsqrtf(ss / HD + p.eps);
#pragma unroll
        for (int c = 0; c < kPer; ++c) x[c] = x[c] * inv * __bfloat162float(norm[lane + 32 * c]);
      }
#pragma unroll
      for (int c = 0; c < kHalfC; ++c) {
        const int i = lane + 32 * c;
        float sn, co;
        sincosf(pos * p.inv_freq[i], &sn, &co);
        const float a = x[c], b = x[c + kHalfC];
        x[c] = a * co - b * sn;
        x[c + kHalfC] = b * co + a * sn;
      }
    }
    if (warp < G) {
#pragma unroll
      for (int c = 0; c < kPer; ++c) q_s[warp * HD + lane + 32 * c] = __bfloat162float(__float2bfloat16_rn(x[c]));
    } else {
      const int32_t slot_index = p.kv_slots[0];
      const int64_t block = slot_index / bt;
      const int slot = slot_index % bt;
      __nv_bfloat16* dst = p.kv_pool + block * p.block_elems +
                           (static_cast<int64_t>(layer) * 2 * bt + slot + (is_v ? bt : 0)) * kv_row +
                           static_cast<int64_t>(h) * HD;
#pragma unroll
      for (int c = 0; c < kPer; ++c) dst[lane + 32 * c] = __float2bfloat16_rn(x[c]);
    }
  }
  __syncthreads();  // q in shared memory; this CTA's K/V write visible to its own reads below

  // Each warp: positions p0 + kAttnUnroll * (warp + kWarps i) + u, online softmax per query head.
  constexpr float kLog2e = 1.4426950408889634f;
  const float sc = p.scale * kLog2e;
  // q stays in shared memory (read per key, conflict-free): registers go to
  // the accumulators and the keys in flight.
  constexpr int kUnroll = G <= 2 ? kAttnUnroll : G <= 4 ? kAttnUnroll / 2 : 1;
  float acc[G][E], m[G], l[G];
#pragma unroll
  for (int g = 0; g < G; ++g) {
    m[g] = -INFINITY;
    l[g] = 0.0f;
#pragma unroll
    for (int e = 0; e < E; ++e) acc[g][e] = 0.0f;
  }
  const __nv_bfloat16* layer_base = p.kv_pool + static_cast<int64_t>(layer) * 2 * bt * kv_row + h * HD + lane * E;
  for (int base = p0 + kUnroll * warp; base < p1; base += kUnroll * kWarps) {
    float kf[kUnroll][E], vf[kUnroll][E];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int pp = base + u;
      if (pp < p1) {
        const int64_t blk = table[pp / bt];
        const __nv_bfloat16* kp = layer_base + blk * p.block_elems + static_cast<int64_t>(pp % bt) * kv_row;
        const __nv_bfloat16* vp = kp + static_cast<int64_t>(bt) * kv_row;
        if constexpr (E == 4) {
          const uint2 kr = __ldcg(reinterpret_cast<const uint2*>(kp));
          const uint2 vr = __ldcg(reinterpret_cast<const uint2*>(vp));
          kf[u][0] = __uint_as_float(kr.x << 16), kf[u][1] = __uint_as_float(kr.x & 0xffff0000u);
          kf[u][2] = __uint_as_float(kr.y << 16), kf[u][3] = __uint_as_float(kr.y & 0xffff0000u);
          vf[u][0] = __uint_as_float(vr.x << 16), vf[u][1] = __uint_as_float(vr.x & 0xffff0000u);
          vf[u][2] = __uint_as_float(vr.y << 16), vf[u][3] = __uint_as_float(vr.y & 0xffff0000u);
        } else {
          const uint32_t kr = __ldcg(reinterpret_cast<const unsigned int*>(kp));
          const uint32_t vr = __ldcg(reinterpret_cast<const unsigned int*>(vp));
          kf[u][0] = __uint_as_float(kr << 16), kf[u][1] = __uint_as_float(kr & 0xffff0000u);
          vf[u][0] = __uint_as_float(vr << 16), vf[u][1] = __uint_as_float(vr & 0xffff0000u);
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      if (base + u >= p1) break;
#pragma unroll
      for (int g = 0; g < G; ++g) {
        float qv[E];
        if constexpr (E == 4) {
          const float4 q4 = reinterpret_cast<const float4*>(q_s + g * HD)[lane];
          qv[0] = q4.x, qv[1] = q4.y, qv[2] = q4.z, qv[3] = q4.w;
        } else {
          const float2 q2 = reinterpret_cast<const float2*>(q_s + g * HD)[lane];
          qv[0] = q2.x, qv[1] = q2.y;
        }
        float d = 0.0f;
#pragma unroll
        for (int e = 0; e < E; ++e) d = fmaf(qv[e], kf[u][e], d);
        const float sv = warp_sum(d) * sc;
        const float m_new = fmaxf(m[g], sv);
        const float corr = exp2f(m[g] - m_new);
        const float pr = exp2f(sv - m_new);
        l[g] = l[g] * corr + pr;
#pragma unroll
        for (int e = 0; e < E; ++e) acc[g][e] = fmaf(pr, vf[u][e], acc[g][e] * corr);
        m[g] = m_new;
      }
    }
  }
  // Merge the warps: scratch [kWarps][G][HD + 2] after q.
  float* wp = s + P::kMaxGroup * HD;
#pragma unroll
  for (int g = 0; g < G; ++g) {
    float* row = wp + (warp * G + g) * (HD + 2);
#pragma unroll
    for (int e = 0; e < E; ++e) row[lane * E + e] = acc[g][e];
    if (lane == 0) row[HD] = m[g], row[HD + 1] = l[g];
  }
  __syncthreads();
  for (int i = threadIdx.x; i < G * HD; i += kThreads) {
    const int g = i / HD, d = i % HD;
    float mx = -INFINITY;
    for (int w = 0; w < kWarps; ++w) mx = fmaxf(mx, wp[(w * G + g) * (HD + 2) + HD]);
    float o = 0.0f, sum = 0.0f;
    for (int w = 0; w < kWarps; ++w) {
      const float* row = wp + (w * G + g) * (HD + 2);
      if (row[HD + 1] == 0.0f) continue;  // a warp without positions
      const float f = exp2f(row[HD] - mx);
      o = fmaf(row[d], f, o);
      sum = fmaf(row[HD + 1], f, sum);
    }
    const int qh = h * G + g;
    part_o[(static_cast<int64_t>(qh) * P::kMaxSplits + split) * HD + d] = o;
    if (d == 0) {
      part_ml[(qh * P::kMaxSplits + split) * 2] = mx;
      part_ml[(qh * P::kMaxSplits + split) * 2 + 1] = sum;
    }
  }
}

template <int HD>
__global__ void __launch_bounds__(kThreads, 1) decode_step_kernel(P p) {
  extern __shared__ __align__(128) unsigned char smem[];
  uint64_t* bars = reinterpret_cast<uint64_t*>(smem);
  unsigned char* buf0 = smem + kBarrierOffset;
  unsigned char* buf1 = buf0 + p.buf0_bytes;
  float* act_base = reinterpret_cast<float*>(buf1 + p.buf1_bytes);
  float* red = act_base + p.act_bytes / 4;
  int32_t* table_s = reinterpret_cast<int32_t*>(red + p.red_floats);
  const Act act{act_base, p.act_pieces};
  const int nb = gridDim.x, cta = blockIdx.x;
  const int hd = HD;
  const int q_dim = p.n_heads * hd, qkv_dim = (p.n_heads + 2 * p.n_kv_heads) * hd;
  const int inter = p.intermediate, hidden = p.hidden;
  float* part_o = static_cast<float*>(p.workspace);
  float* part_ml = part_o + static_cast<int64_t>(p.n_heads) * P::kMaxSplits * hd;
  auto* counter = reinterpret_cast<unsigned long long*>(part_ml + p.n_heads * P::kMaxSplits * 2);

  GridBarrier barrier;
  barrier.init(counter, nb);
  if (threadIdx.x == 0) {
    mbar_init(&bars[0], 1);
    mbar_init(&bars[1], 1);
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");
  }
  __syncthreads();
  uint32_t phase0 = 0, phase1 = 0;
  auto issue = [&](int b, const __nv_bfloat16* w, int m, int k) {
    if (threadIdx.x != 0) return;
    const int64_t r0 = slice_begin(m, cta, nb), r1 = slice_begin(m, cta + 1, nb);
    bulk_load(b == 0 ? buf0 : buf1, w + r0 * k, static_cast<uint32_t>((r1 - r0) * k * 2), &bars[b]);
  };
  // The next weight slices start loading before this CTA arrives at the grid
  // barrier (default) or right after it leaves (TANDEM_DECODE_PREFETCH_AFTER,
  // bench A/B: the burst then does not queue ahead of the barrier's atomics).
  auto prefetch_and_sync = [&](auto&& prefetch) {
#ifdef TANDEM_DECODE_PREFETCH_AFTER
    barrier.sync();
    prefetch();
#else
    prefetch();
    barrier.sync();
#endif
  };
  const DeviceLayer first = p.layers[0];
  issue(0, first.wqkv, qkv_dim, hidden);
  issue(1, first.wo, hidden, q_dim);

  const __nv_bfloat16* emb_row = p.embed + static_cast<int64_t>(p.ids[0]) * hidden;
  const int h0 = static_cast<int>(slice_begin(hidden, cta, nb)), h1 = static_cast<int>(slice_begin(hidden, cta + 1, nb));
  // x rows of this CTA (the o-proj / down rows it adds to) start as the embedding.
  for (int r = h0 + threadIdx.x; r < h1; r += kThreads) p.x[r] = __bfloat162float(emb_row[r]);
  const int ctx = p.seq->start_pos + p.seq->n_q;
  const int splits = attn_splits(ctx, p.n_kv_heads, nb);
  // The sequence's block table, read once (every layer's attention uses it).
  const int n_table = (ctx + p.block_tokens - 1) / p.block_tokens;
  const int32_t* table = p.block_tables + p.seq->table_offset;
  if (n_table <= kTableSmem) {
    for (int i = threadIdx.x; i < n_table; i += kThreads) table_s[i] = table[i];
    table = table_s;
  }

  for (int layer = 0; layer < p.n_layers; ++layer) {
    const DeviceLayer L = p.layers[layer];
    // 1. RMSNorm + QKV rows.
    {
      DECODE_STAMP(layer, 0, 0);
      load_normed(act, p.x, layer == 0 ? emb_row : nullptr, L.attn_norm, hidden, p.eps, red);
      const int r0 = static_cast<int>(slice_begin(qkv_dim, cta, nb));
      const int n = static_cast<int>(slice_begin(qkv_dim, cta + 1, nb)) - r0;
      DECODE_STAMP(layer, 0, 1);
      mbar_wait(&bars[0], phase0);
      phase0 ^= 1;
      DECODE_STAMP(layer, 0, 2);
      gemv_rows(buf0, act, n, hidden, red, [&](int row, float v) { p.qkv[r0 + row] = v; });
      __syncthreads();
      DECODE_STAMP(layer, 0, 3);
      prefetch_and_sync([&] { issue(0, L.w_gate_up, 2 * inter, hidden); });
    }
    // 2. Rope, KV write, attention partials.
    DECODE_STAMP(layer, 1, 0);
    for (int item = cta; item < p.n_kv_heads * splits; item += nb) {
      const int h = item / splits, s = item % splits;
      switch (p.n_heads / p.n_kv_heads) {
        case 1: attention_item<HD, 1>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
        case 2: attention_item<HD, 2>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
        case 3: attention_item<HD, 3>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
        case 4: attention_item<HD, 4>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
        case 5: attention_item<HD, 5>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
        case 6: attention_item<HD, 6>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
        case 7: attention_item<HD, 7>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
        default: attention_item<HD, 8>(p, L, layer, h, s, splits, ctx, table, act_base, part_o, part_ml); break;
      }
      __syncthreads();
    }
    DECODE_STAMP(layer, 1, 3);
    barrier.sync();
    // 3. Combine, o-proj rows, residual add.
    {
      DECODE_STAMP(layer, 2, 0);
      // One warp per query head: lane s holds split s's (m, l); each lane
      // then sums its head_dim / 32 elements over the splits, every load of
      // the loop independent (latency, not bandwidth, is the cost here).
      constexpr int E = HD / 32;
      const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
      for (int qh = warp; qh < p.n_heads; qh += kWarps) {
        const float* ml = part_ml + qh * P::kMaxSplits * 2;
        const float m_s = lane < splits ? __ldcg(ml + 2 * lane) : -INFINITY;
        const float l_s = lane < splits ? __ldcg(ml + 2 * lane + 1) : 0.0f;
        float mx = m_s;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, o));
        const float f_s = lane < splits ? exp2f(m_s - mx) : 0.0f;
        const float sum = warp_sum(l_s * f_s);
        const float* po = part_o + static_cast<int64_t>(qh) * P::kMaxSplits * HD + lane * E;
        float o[E];
#pragma unroll
        for (int e = 0; e < E; ++e) o[e] = 0.0f;
#pragma unroll 8
        for (int s = 0; s < splits; ++s) {
          const float f = __shfl_sync(0xffffffffu, f_s, s);
          if constexpr (E == 4) {
            const float4 v = __ldcg(reinterpret_cast<const float4*>(po + s * HD));
            o[0] = fmaf(v.x, f, o[0]), o[1] = fmaf(v.y, f, o[1]), o[2] = fmaf(v.z, f, o[2]), o[3] = fmaf(v.w, f, o[3]);
          } else {
            const float2 v = __ldcg(reinterpret_cast<const float2*>(po + s * HD));
            o[0] = fmaf(v.x, f, o[0]), o[1] = fmaf(v.y, f, o[1]);
          }
        }
#pragma unroll
        for (int e = 0; e < E; ++e) act.set(qh * HD + lane * E + e, __bfloat162float(__float2bfloat16_rn(o[e] / sum)));
      }
      __syncthreads();
      DECODE_STAMP(layer, 2, 1);
      mbar_wait(&bars[1], phase1);
      phase1 ^= 1;
      DECODE_STAMP(layer, 2, 2);
      gemv_rows(buf1, act, h1 - h0, q_dim, red, [&](int row, float v) { p.x[h0 + row] += v; });
      __syncthreads();
      DECODE_STAMP(layer, 2, 3);
      prefetch_and_sync([&] { issue(1, L.w_down, hidden, inter); });
    }
    // 4. RMSNorm + gate/up rows.
    {
      DECODE_STAMP(layer, 3, 0);
      load_normed(act, p.x, nullptr, L.ffn_norm, hidden, p.eps, red);
      const int r0 = static_cast<int>(slice_begin(2 * inter, cta, nb));
      const int n = static_cast<int>(slice_begin(2 * inter, cta + 1, nb)) - r0;
      DECODE_STAMP(layer, 3, 1);
      mbar_wait(&bars[0], phase0);
      phase0 ^= 1;
      DECODE_STAMP(layer, 3, 2);
      gemv_rows(buf0, act, n, hidden, red,
                [&](int row, float v) { p.gate_up[r0 + row] = __float2bfloat16_rn(v); });
      __syncthreads();
      DECODE_STAMP(layer, 3, 3);
      prefetch_and_sync([&] {
        if (layer + 1 < p.n_layers) issue(0, p.layers[layer + 1].wqkv, qkv_dim, hidden);
      });
    }
    // 5. SwiGLU + down rows, residual add.
    {
      DECODE_STAMP(layer, 4, 0);
      const unsigned short* gu = reinterpret_cast<const unsigned short*>(p.gate_up);
      for (int i = threadIdx.x; i < inter; i += kThreads) {
        const float g = __uint_as_float(static_cast<uint32_t>(__ldcg(gu + i)) << 16);
        const float u = __uint_as_float(static_cast<uint32_t>(__ldcg(gu + inter + i)) << 16);
        act.set(i, g / (1.0f + __expf(-g)) * u);
      }
      __syncthreads();
      DECODE_STAMP(layer, 4, 1);
      mbar_wait(&bars[1], phase1);
      phase1 ^= 1;
      DECODE_STAMP(layer, 4, 2);
      gemv_rows(buf1, act, h1 - h0, inter, red, [&](int row, float v) { p.x[h0 + row] += v; });
      __syncthreads();
      DECODE_STAMP(layer, 4, 3);
      if (layer + 1 < p.n_layers) prefetch_and_sync([&] { issue(1, p.layers[layer + 1].wo, hidden, q_dim); });
    }
  }
}

size_t slice_bytes(int m, int k, int grid) { return static_cast<size_t>((m + grid - 1) / grid) * k * 2; }

}  // namespace

bool decode_step_kernel_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("TANDEM_CUDA_DECODE_KERNEL");
    return v != nullptr && std::strcmp(v, "1") == 0;  // opt-in: measured slower than the per-kernel path
  }();
  return enabled;
}

size_t DecodeStepParams::workspace_bytes() const {
  return static_cast<size_t>(n_heads) * kMaxSplits * (head_dim + 2) * 4 + 64;
}

Status DecodeStepParams::configure(int device) {
  auto no = [](const std::string& why) { return Status(ErrorKind::kUnsupported, "decode step kernel: " + why); };
  int major = 0, sms = 0, coop = 0, max_smem = 0;
  TANDEM_CUDA_TRY(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device));
  TANDEM_CUDA_TRY(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  TANDEM_CUDA_TRY(cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, device));
  TANDEM_CUDA_TRY(cudaDeviceGetAttribute(&max_smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (major < 9) return no("needs sm_90+ (cp.async.bulk)");
  if (coop == 0) return no("device has no cooperative launch");
  if (head_dim != 64 && head_dim != 128) return no("head_dim " + std::to_string(head_dim));
  if (n_kv_heads < 1 || n_heads % n_kv_heads != 0 || n_heads / n_kv_heads > kMaxGroup) {
    return no("query heads per kv head must be 1.." + std::to_string(kMaxGroup));
  }
  if (hidden % 8 != 0 || intermediate % 8 != 0) return no("hidden and intermediate must be multiples of 8");
  if (hidden > kMaxNormPer * kThreads) return no("hidden over " + std::to_string(kMaxNormPer * kThreads));
  const int q_dim = n_heads * head_dim, qkv_dim = (n_heads + 2 * n_kv_heads) * head_dim;
  grid = sms;
  buf0_bytes = static_cast<int>(std::max(slice_bytes(qkv_dim, hidden, grid), slice_bytes(2 * intermediate, hidden, grid)));
  buf1_bytes = static_cast<int>(std::max(slice_bytes(hidden, q_dim, grid), slice_bytes(hidden, intermediate, grid)));
  buf0_bytes = (buf0_bytes + 127) / 128 * 128;
  buf1_bytes = (buf1_bytes + 127) / 128 * 128;
  const int widest = std::max({hidden, q_dim, intermediate});
  act_pieces = (widest + 7) / 8;
  const int group = n_heads / n_kv_heads;
  const size_t attn_floats = static_cast<size_t>(kMaxGroup) * head_dim + static_cast<size_t>(kWarps) * group * (head_dim + 2);
  act_bytes = static_cast<int>(std::max<size_t>(static_cast<size_t>(act_pieces) * 8, attn_floats) * 4);
  act_bytes = (act_bytes + 127) / 128 * 128;
  const int max_rows = static_cast<int>(std::max((2 * intermediate + grid - 1) / grid, (qkv_dim + grid - 1) / grid));
  red_floats = std::max({max_rows, kWarps, 16});
  red_floats = (red_floats + 31) / 32 * 32;
  smem_bytes = kBarrierOffset + static_cast<size_t>(buf0_bytes) + buf1_bytes + act_bytes + red_floats * 4 +
               kTableSmem * 4;
  if (smem_bytes > static_cast<size_t>(max_smem)) {
    return no("needs " + std::to_string(smem_bytes >> 10) + " KiB of shared memory per CTA, the device has " +
              std::to_string(max_smem >> 10));
  }
  auto kernel = head_dim == 64 ? decode_step_kernel<64> : decode_step_kernel<128>;
  TANDEM_CUDA_TRY(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem_bytes)));
  int per_sm = 0;
  TANDEM_CUDA_TRY(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, kernel, kThreads, smem_bytes));
  if (per_sm < 1) return no("a CTA does not fit on an SM");
  return {};
}

Status DecodeStepParams::check() const {
  auto bad = [](const std::string& what) { return Status(ErrorKind::kInternal, "decode step kernel: " + what); };
  if (layers == nullptr || embed == nullptr || inv_freq == nullptr || ids == nullptr || positions == nullptr ||
      kv_slots == nullptr || seq == nullptr || block_tables == nullptr || x == nullptr || qkv == nullptr ||
      gate_up == nullptr || kv_pool == nullptr || workspace == nullptr) {
    return bad("null pointer");
  }
  if (grid < 1 || smem_bytes == 0) return bad("not configured");
  if (n_layers < 1 || block_tokens < 1 || block_elems < 1) return bad("bad shape");
  return {};
}

Status launch(const DecodeStepParams& p, cudaStream_t stream) {
  TANDEM_STATUS_TRY(p.check());
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = dim3(p.grid);
  cfg.blockDim = dim3(kThreads);
  cfg.dynamicSmemBytes = p.smem_bytes;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeCooperative;
  attr[0].val.cooperative = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  const cudaError_t e = p.head_dim == 64 ? cudaLaunchKernelEx(&cfg, decode_step_kernel<64>, p)
                                         : cudaLaunchKernelEx(&cfg, decode_step_kernel<128>, p);
  if (e != cudaSuccess) return cuda_error(e, "decode_step_kernel launch");
  return last_launch_status("decode_step_kernel");
}

}  // namespace tandem::engine::cuda

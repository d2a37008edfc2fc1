#include "engine/cuda/prefill_attention_sm90.h"

#include <cuda.h>
#include <cudaTypedefs.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

#include "engine/cuda/cuda_check.h"

namespace tandem::engine::cuda {
namespace {

constexpr int kHeadDim = 128;
constexpr int kCtaRows = 128;  // query rows per CTA: 2 consumer warpgroups x 64
constexpr int kKeys = 128;     // K/V positions per chunk (one ring stage)
constexpr int kStages = 3;
constexpr int kThreads = 384;                     // producer warpgroup + 2 consumer warpgroups
constexpr int kPanelRowBytes = 128;               // 64 bf16: one 128B-swizzle row
constexpr int kQBytes = kCtaRows * kHeadDim * 2;  // 32 KB: [2 panels][128 rows][128 B]
constexpr int kKvBytes = kKeys * kHeadDim * 2;    // 32 KB each for K and V: [2 panels][128 keys][128 B]
constexpr int kStageBytes = 2 * kKvBytes;
constexpr int kBarrierOffset = kQBytes + kStages * kStageBytes;
constexpr int kSmemBytes = kBarrierOffset + 2 * kStages * 8 + 1024;  // + alignment slack to 1024 B
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegBig = -1.0e30f;

__device__ __forceinline__ uint32_t smem_u32(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// Byte offset of 16-byte piece `piece` (0..15 along head_dim) of row `row` in a
// [2 panels][rows][128 B] tile with the 128-byte swizzle (16-byte column index
// XOR row % 8 inside each 1024-byte atom of 8 rows).
__device__ __forceinline__ uint32_t swizzled_offset(int row, int piece, int rows) {
  return static_cast<uint32_t>((piece >> 3) * rows * kPanelRowBytes + row * kPanelRowBytes +
                               (((piece & 7) ^ (row & 7)) << 4));
}

__device__ __forceinline__ void cp_async16(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}
// Makes this thread's completed generic-proxy shared writes visible to wgmma (async proxy).
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
  asm volatile("{\n.reg .b64 state;\nmbarrier.arrive.shared::cta.b64 state, [%0];\n}\n" ::"r"(bar) : "memory");
}
// Arrives once and expects `bytes` more of asynchronous (TMA) transaction before the phase completes.
__device__ __forceinline__ void mbar_arrive_expect_tx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}
// One TMA box of the KV pool map (see kv_tensor_map) into shared memory; completion
// is counted on mbarrier `bar` in bytes.
__device__ __forceinline__ void tma_load_kv(uint32_t dst, const CUtensorMap* map, uint32_t bar, int dim, int head,
                                            int lkv, int block) {
  asm volatile(
      "cp.async.bulk.tensor.5d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3, %4, %5, "
      "%6}], [%7];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(dim), "r"(head), "r"(0), "r"(lkv), "r"(block), "r"(bar)
      : "memory");
}
__device__ __forceinline__ void mbar_wait(uint32_t bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(bar), "r"(parity)
                 : "memory");
  } while (done == 0);
}
__device__ __forceinline__ void named_barrier_sync(int id, int threads) {
  asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(threads) : "memory");
}

// wgmma shared-memory matrix descriptor, 128-byte swizzle: start address,
// leading- and stride-dimension byte offsets (all >> 4), kept as two words:
// low = start address >> 4 | LBO >> 4 << 16, high = SBO 1024 >> 4 | 128-byte
// swizzle (bit 62), so per-step offsets are one 32-bit add to the low word.
__device__ __forceinline__ uint32_t desc_lo(uint32_t addr, uint32_t lbo) {
  return ((addr & 0x3FFFF) >> 4) | (((lbo & 0x3FFFF) >> 4) << 16);
}
__device__ __forceinline__ uint64_t desc_from_lo(uint32_t lo) {
  constexpr uint32_t kHi = (1024u >> 4) | (1u << 30);
  return static_cast<uint64_t>(lo) | (static_cast<uint64_t>(kHi) << 32);
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Pins accumulator registers at this point of the program (no reads or writes
// of them move across an async wgmma's issue or wait).
__device__ __forceinline__ void fence_operands(float (&d)[64]) {
#pragma unroll
  for (int i = 0; i < 64; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

// The 64 fp32 accumulator operands (%0..%63) of an m64n128 wgmma, in fragment order.
#define TANDEM_WGMMA_ACC64(d)                                                                                 \
  "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), \
      "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]),  \
      "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), \
      "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), \
      "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), \
      "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), \
      "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), \
      "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])

// D[64 x 128] (+)= A[64 x 16] B[16 x 128]: A and B from shared memory, both K-major.
// D fragment (per warp w of the warpgroup, lane = 4 g + t): d[4 j + e] is row
// 16 w + g + 8 (e / 2), column 8 j + 2 t + e % 2.
__device__ __forceinline__ void wgmma_ss(float (&d)[64], uint64_t desc_a, uint64_t desc_b, int scale_d) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%"
      "30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%"
      "58,%59,%60,%61,%62,%63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
      : TANDEM_WGMMA_ACC64(d)
      : "l"(desc_a), "l"(desc_b), "r"(scale_d));
}

__device__ __forceinline__ void wgmma_rs(float (&d)[64], const uint32_t (&a)[4], uint64_t desc_b) {
  asm volatile(
      "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
      "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
      "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%"
      "30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%"
      "58,%59,%60,%61,%62,%63}, {%64,%65,%66,%67}, %68, p, 1, 1, 1;\n}\n"
      : TANDEM_WGMMA_ACC64(d)
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc_b), "r"(1));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  uint32_t r;
  memcpy(&r, &v, 4);
  return r;
}
__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// use_tma: K/V chunks that lie wholly inside the causal bound come through TMA
// (kv_map, one elected producer thread, barrier count 1); otherwise, and for
// the CTA's last partial chunk, the producer warpgroup gathers with cp.async
// (zero-filling positions past kv_end, so no pool bytes past the sequence are
// read and P.V never sees garbage rows).
__global__ void __launch_bounds__(kThreads, 1)
    prefill_attention_sm90_kernel(PagedAttentionParams p, int ctas_per_tile, const __grid_constant__ CUtensorMap kv_map,
                                  int use_tma) {
#if defined(__CUDA_ARCH__) && defined(__CUDA_ARCH_FEAT_SM90_ALL)
  extern __shared__ unsigned char smem_raw[];
  const uint32_t base = (smem_u32(smem_raw) + 1023u) & ~1023u;
  const uint32_t q_smem = base;
  const uint32_t full_bar = base + kBarrierOffset;    // [kStages], producer -> consumers
  const uint32_t empty_bar = full_bar + kStages * 8;  // [kStages], consumers -> producer

  const AttnTile tile = p.tiles[blockIdx.x / ctas_per_tile];
  const AttnSeq seq = p.seqs[tile.seq];
  const int split = blockIdx.y;
  const int group = p.n_heads / p.n_kv_heads;
  const int n_rows = seq.n_q * group;
  const int cta_row0 = tile.row_begin + (blockIdx.x % ctas_per_tile) * kCtaRows;
  if (cta_row0 >= n_rows) return;  // the second half of a ragged 256-row tile (uniform per CTA)
  const int cta_last_row = min(cta_row0 + kCtaRows, n_rows) - 1;
  const int kv_end = seq.start_pos + cta_last_row / group + 1;  // causal bound of the CTA's rows
  const int n_chunks = (kv_end + kKeys - 1) / kKeys;
  const int per_split = (n_chunks + p.n_splits - 1) / p.n_splits;
  const int c_begin = min(n_chunks, split * per_split);
  const int c_end = min(n_chunks, c_begin + per_split);

  if (threadIdx.x == 0) {
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full_bar + 8 * s, use_tma ? 1 : 128);  // TMA: the elected thread; else every producer thread
      mbar_init(empty_bar + 8 * s, 256);               // every consumer thread arrives
    }
  }
  __syncthreads();

  const int wg = threadIdx.x / 128;
  if (wg == 0) {
    // cp.async gather: thread t copies 16-byte piece t % 16 of rows t / 16 + 8 i
    // (i < 16) of a chunk, for K and V; all its rows share row % 8.
    const int t = threadIdx.x;
    const int piece = t % 16, row0 = t / 16;
    const int64_t kv_row = static_cast<int64_t>(p.n_kv_heads) * kHeadDim;
    const int64_t layer_off =
        static_cast<int64_t>(p.layer) * 2 * p.block_tokens * kv_row + tile.kv_head * kHeadDim + piece * 8;
    const int64_t v_off = static_cast<int64_t>(p.block_tokens) * kv_row;
    const int32_t* table = p.block_tables + seq.table_offset;
    const uint32_t dst0 = swizzled_offset(row0, piece, kKeys);  // + i * 8 rows * 128 B
    auto gather = [&](int c, uint32_t k_dst) {
#pragma unroll 4
      for (int i = 0; i < kKeys / 8; ++i) {
        const int pos = c * kKeys + row0 + 8 * i;
        const bool valid = pos < kv_end;
        const __nv_bfloat16* src = p.kv_pool;
        if (valid) {
          const int bi = p.block_shift >= 0 ? pos >> p.block_shift : pos / p.block_tokens;
          const int slot = pos - bi * p.block_tokens;
          src = p.kv_pool + static_cast<int64_t>(table[bi]) * p.block_elems + layer_off + slot * kv_row;
        }
        cp_async16(k_dst + i * 8 * kPanelRowBytes, src, valid);
        cp_async16(k_dst + kKvBytes + i * 8 * kPanelRowBytes, valid ? src + v_off : src, valid);
      }
      cp_async_commit();
    };
    if (use_tma) {
      const int full_chunks = kv_end / kKeys;  // chunks c < this lie wholly below kv_end
      const int blocks_per_chunk = kKeys >> p.block_shift;
      for (int c = c_begin; c < c_end; ++c) {
        const int it = c - c_begin, s = it % kStages;
        const uint32_t k_dst = base + kQBytes + s * kStageBytes;
        // Every producer thread follows the ring's phases in order: a parity wait
        // only tells the awaited phase from the one just before it.
        if (it >= kStages) mbar_wait(empty_bar + 8 * s, ((it / kStages) - 1) & 1);
        if (c < full_chunks) {
          if (t == 0) {
            mbar_arrive_expect_tx(full_bar + 8 * s, kStageBytes);
            const int b0 = c * blocks_per_chunk;
            const uint32_t step = p.block_tokens * kPanelRowBytes;
            for (int j = 0; j < blocks_per_chunk; ++j) {
              const int block = table[b0 + j];
              const uint32_t dst = k_dst + j * step;
#pragma unroll
              for (int kv = 0; kv < 2; ++kv) {
#pragma unroll
                for (int half = 0; half < 2; ++half) {
                  tma_load_kv(dst + kv * kKvBytes + half * (kKeys * kPanelRowBytes), &kv_map, full_bar + 8 * s,
                              half * 64, tile.kv_head, 2 * p.layer + kv, block);
                }
              }
            }
          }
        } else {  // the CTA's last chunk, cut by kv_end: every producer thread, zero fill
          gather(c, k_dst + dst0);
          cp_async_wait<0>();
          fence_proxy_async();
          named_barrier_sync(3, 128);
          if (t == 0) mbar_arrive(full_bar + 8 * s);
        }
      }
      return;
    }
    for (int c = c_begin; c < c_end; ++c) {
      const int it = c - c_begin, s = it % kStages;
      if (it >= kStages) mbar_wait(empty_bar + 8 * s, ((it / kStages) - 1) & 1);
      gather(c, base + kQBytes + s * kStageBytes + dst0);
      if (it >= 1) {  // the previous chunk's copies have landed: publish its stage
        cp_async_wait<1>();
        fence_proxy_async();
        mbar_arrive(full_bar + 8 * ((it - 1) % kStages));
      }
    }
    if (c_end > c_begin) {
      cp_async_wait<0>();
      fence_proxy_async();
      mbar_arrive(full_bar + 8 * ((c_end - c_begin - 1) % kStages));
    }
    return;
  }

  // Consumers: warpgroup cw owns CTA rows 64 cw .. 64 cw + 63.
  const int cw = wg - 1;
  const int tid = threadIdx.x - 128 * wg;
  const int warp = tid / 32, lane = tid % 32;
  const int wg_row0 = cta_row0 + cw * 64;
  const int wg_last_row = min(wg_row0 + 64, n_rows) - 1;
  const int wg_kv_end = wg_row0 < n_rows ? seq.start_pos + wg_last_row / group + 1 : 0;
  const int wg_min_qpos = seq.start_pos + wg_row0 / group;  // keys <= it are visible to every row

  // Q rows of this warpgroup (zero past the sequence).
  for (int idx = tid; idx < 64 * 16; idx += 128) {
    const int row = idx / 16, piece = idx % 16;
    const int r = wg_row0 + row;
    const bool ok = r < n_rows;
    const __nv_bfloat16* src = p.q;
    if (ok) {
      src = p.q +
            (static_cast<int64_t>(seq.q_start + r / group) * p.n_heads + tile.kv_head * group + r % group) * kHeadDim +
            piece * 8;
    }
    cp_async16(q_smem + swizzled_offset(cw * 64 + row, piece, kCtaRows), src, ok);
  }
  cp_async_commit();
  cp_async_wait<0>();
  fence_proxy_async();
  named_barrier_sync(1 + cw, 128);

  int row_qpos[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = wg_row0 + warp * 16 + lane / 4 + 8 * i;
    row_qpos[i] = r < n_rows ? seq.start_pos + r / group : -1;  // -1 masks every key
  }
  float o[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) o[i] = 0.0f;
  float m_run[2] = {kNegBig, kNegBig}, l_run[2] = {0.0f, 0.0f};
  const float scale_log2 = p.scale * kLog2e;

  // Descriptors: the low word holds address >> 4 (< 2^14 inside the 228 KB of
  // shared memory, so adding an offset >> 4 never carries into the LBO field);
  // the high word (SBO 1024 B, 128-byte swizzle) is the same for all three.
  const uint32_t q_desc_lo = desc_lo(q_smem + cw * 64 * kPanelRowBytes, 16);
  const uint32_t k_desc_lo = desc_lo(base + kQBytes, 16);
  const uint32_t v_desc_lo = desc_lo(base + kQBytes + kKvBytes, kKeys * kPanelRowBytes);

  for (int c = c_begin; c < c_end; ++c) {
    const int it = c - c_begin, s = it % kStages;
    mbar_wait(full_bar + 8 * s, (it / kStages) & 1);
    if (c * kKeys < wg_kv_end) {
      const uint32_t stage_lo = static_cast<uint32_t>(s) * (kStageBytes >> 4);
      float sacc[64];
#pragma unroll
      for (int i = 0; i < 64; ++i) sacc[i] = 0.0f;
      fence_operands(sacc);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kHeadDim / 16; ++kk) {
        // 16 head dims: panel kk / 4, 32 bytes into the 128-byte row per step.
        const uint32_t koff = ((kk >> 2) * (kCtaRows * kPanelRowBytes) + (kk & 3) * 32) >> 4;
        const uint32_t kkoff = ((kk >> 2) * (kKeys * kPanelRowBytes) + (kk & 3) * 32) >> 4;
        wgmma_ss(sacc, desc_from_lo(q_desc_lo + koff), desc_from_lo(k_desc_lo + stage_lo + kkoff), 1);
      }
      wgmma_commit();
      wgmma_wait<0>();
      fence_operands(sacc);

      // Causal mask only where the chunk reaches past the warpgroup's first query:
      // column 8 j + (e & 1) of this thread is key c * kKeys + 2 (lane % 4) + that.
      if ((c + 1) * kKeys - 1 > wg_min_qpos) {
        const int lim0 = row_qpos[0] - c * kKeys - 2 * (lane % 4);
        const int lim1 = row_qpos[1] - c * kKeys - 2 * (lane % 4);
#pragma unroll
        for (int j = 0; j < 16; ++j) {
#pragma unroll
          for (int e = 0; e < 4; ++e) {
            if (8 * j + (e & 1) > ((e >> 1) ? lim1 : lim0)) sacc[4 * j + e] = -INFINITY;
          }
        }
      }
      // Row maxima as balanced trees (short dependency chains).
      float mx[2][8];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
#pragma unroll
        for (int q = 0; q < 8; ++q) {
          mx[i][q] = fmaxf(fmaxf(sacc[4 * q + 2 * i], sacc[4 * q + 2 * i + 1]),
                           fmaxf(sacc[4 * (q + 8) + 2 * i], sacc[4 * (q + 8) + 2 * i + 1]));
        }
#pragma unroll
        for (int w = 4; w >= 1; w /= 2) {
#pragma unroll
          for (int q = 0; q < w; ++q) mx[i][q] = fmaxf(mx[i][q], mx[i][q + w]);
        }
      }
      float alpha[2], neg_m[2];
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        float row_max = mx[i][0];
        row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 1));
        row_max = fmaxf(row_max, __shfl_xor_sync(0xffffffffu, row_max, 2));
        const float m_new = fmaxf(m_run[i], row_max * scale_log2);
        alpha[i] = fast_exp2(m_run[i] - m_new);
        m_run[i] = m_new;
        neg_m[i] = -m_new;
      }
      float part[2][4] = {{0.0f, 0.0f, 0.0f, 0.0f}, {0.0f, 0.0f, 0.0f, 0.0f}};
#pragma unroll
      for (int j = 0; j < 16; ++j) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          const int i = e >> 1;
          const float v = fast_exp2(fmaf(sacc[4 * j + e], scale_log2, neg_m[i]));
          sacc[4 * j + e] = v;
          part[i][(j & 1) * 2 + (e & 1)] += v;
        }
      }
#pragma unroll
      for (int i = 0; i < 2; ++i) {
        l_run[i] = l_run[i] * alpha[i] + ((part[i][0] + part[i][1]) + (part[i][2] + part[i][3]));
      }
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        o[4 * j + 0] *= alpha[0];
        o[4 * j + 1] *= alpha[0];
        o[4 * j + 2] *= alpha[1];
        o[4 * j + 3] *= alpha[1];
      }
      // P as the A operand: keys 16 kk .. +15 are accumulator columns of n8 blocks 2 kk, 2 kk + 1.
      uint32_t pa[kKeys / 16][4];
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
        pa[kk][0] = pack_bf16(sacc[8 * kk + 0], sacc[8 * kk + 1]);
        pa[kk][1] = pack_bf16(sacc[8 * kk + 2], sacc[8 * kk + 3]);
        pa[kk][2] = pack_bf16(sacc[8 * kk + 4], sacc[8 * kk + 5]);
        pa[kk][3] = pack_bf16(sacc[8 * kk + 6], sacc[8 * kk + 7]);
      }
      fence_operands(o);
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < kKeys / 16; ++kk) {
        // V is MN-major: 16 keys = two 8-key groups (SBO 1024 B) of 128-byte rows;
        // head dims 64..127 sit in the second panel (LBO).
        wgmma_rs(o, pa[kk], desc_from_lo(v_desc_lo + stage_lo + ((kk * 16 * kPanelRowBytes) >> 4)));
      }
      wgmma_commit();
      wgmma_wait<0>();
      fence_operands(o);
    }
    mbar_arrive(empty_bar + 8 * s);
  }

  const int64_t rows_total = static_cast<int64_t>(p.n_tokens) * p.n_heads;
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    float l = l_run[i];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const int r = wg_row0 + warp * 16 + lane / 4 + 8 * i;
    if (r >= n_rows) continue;
    const int64_t row = static_cast<int64_t>(seq.q_start + r / group) * p.n_heads + tile.kv_head * group + r % group;
    if (p.n_splits == 1) {
      const float inv = l > 0.0f ? 1.0f / l : 0.0f;
      __nv_bfloat16* dst = p.out + row * kHeadDim;
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        const int col = 8 * j + 2 * (lane % 4);
        *reinterpret_cast<__nv_bfloat162*>(dst + col) =
            __floats2bfloat162_rn(o[4 * j + 2 * i] * inv, o[4 * j + 2 * i + 1] * inv);
      }
    } else {
      float* dst = p.partial_o + (split * rows_total + row) * kHeadDim;
#pragma unroll
      for (int j = 0; j < 16; ++j) {
        const int col = 8 * j + 2 * (lane % 4);
        *reinterpret_cast<float2*>(dst + col) = make_float2(o[4 * j + 2 * i], o[4 * j + 2 * i + 1]);
      }
      if (lane % 4 == 0) {
        *reinterpret_cast<float2*>(p.partial_ml + (split * rows_total + row) * 2) = make_float2(m_run[i], l);
      }
    }
  }
#else
  __trap();  // built without sm_90a: prefill_sm90_applies keeps launches away
#endif
}

bool device_is_sm90() {
  static std::atomic<uint64_t> known{0}, yes{0};
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) return false;
  const uint64_t bit = uint64_t{1} << (device & 63);
  if ((known.load() & bit) == 0) {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
      return false;
    }
    if (major == 9 && minor == 0) yes.fetch_or(bit);
    known.fetch_or(bit);
  }
  return (yes.load() & bit) != 0;
}

// The KV pool as a 5-D tensor for TMA, innermost first: head dim (128), kv
// head, slot in block, layer * 2 + (K|V), block; boxes of 64 dims x 1 head x
// block_tokens slots x 1 x 1 with the 128-byte swizzle (the layout the wgmma
// descriptors read). The block count is the pool allocation's (asked of the
// driver on every launch, so a new pool at a freed pool's address gets its
// own map); encoded maps are cached per (device, pool, allocation, layout).
struct KvMapKey {
  int device = 0;
  const void* pool = nullptr;
  uint64_t n_blocks = 0;
  int64_t block_elems = 0;
  int n_kv_heads = 0;
  int block_tokens = 0;
  bool operator==(const KvMapKey&) const = default;
};

bool kv_map_layout_fits(const PagedAttentionParams& p) {
  const int64_t per_lkv = static_cast<int64_t>(p.block_tokens) * p.n_kv_heads * kHeadDim;
  return p.block_shift >= 3 && p.block_tokens <= kKeys && (reinterpret_cast<uintptr_t>(p.kv_pool) & 15) == 0 &&
         p.block_elems % per_lkv == 0 && p.block_elems / per_lkv >= 2 * (p.layer + 1);
}

struct DriverFns {
  PFN_cuTensorMapEncodeTiled_v12000 encode = nullptr;
  PFN_cuMemGetAddressRange_v3020 range = nullptr;
};

const DriverFns& driver_fns() {
  static const DriverFns fns = [] {
    DriverFns d;
    cudaDriverEntryPointQueryResult q{};
    void* fn = nullptr;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) == cudaSuccess &&
        q == cudaDriverEntryPointSuccess) {
      d.encode = reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
    }
    fn = nullptr;
    if (cudaGetDriverEntryPointByVersion("cuMemGetAddressRange", &fn, 12000, cudaEnableDefault, &q) == cudaSuccess &&
        q == cudaDriverEntryPointSuccess) {
      d.range = reinterpret_cast<PFN_cuMemGetAddressRange_v3020>(fn);
    }
    return d;
  }();
  return fns;
}

bool encode_kv_map(const PagedAttentionParams& p, uint64_t n_blocks, CUtensorMap* map) {
  const uint64_t row_bytes = static_cast<uint64_t>(p.n_kv_heads) * kHeadDim * 2;
  const cuuint64_t dims[5] = {
      static_cast<cuuint64_t>(kHeadDim), static_cast<cuuint64_t>(p.n_kv_heads), static_cast<cuuint64_t>(p.block_tokens),
      static_cast<cuuint64_t>(p.block_elems / (p.block_tokens * p.n_kv_heads * kHeadDim)), n_blocks};
  const cuuint64_t strides[4] = {kHeadDim * 2, row_bytes, row_bytes * p.block_tokens,
                                 static_cast<cuuint64_t>(p.block_elems * 2)};
  const cuuint32_t box[5] = {64, 1, static_cast<cuuint32_t>(p.block_tokens), 1, 1};
  const cuuint32_t elem_strides[5] = {1, 1, 1, 1, 1};
  return driver_fns().encode(map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 5, const_cast<__nv_bfloat16*>(p.kv_pool), dims,
                             strides, box, elem_strides, CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                             CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

// The pool's map for this launch; false sends the launch down the cp.async path
// (TMA not allowed by p, a layout TMA cannot tile, no driver entry point,
// or the driver does not know the pool's allocation).
bool cached_kv_map(const PagedAttentionParams& p, int device, CUtensorMap* map) {
  if (!p.allow_sm90_tma || !kv_map_layout_fits(p)) return false;
  const DriverFns& fns = driver_fns();
  if (fns.encode == nullptr || fns.range == nullptr) return false;
  CUdeviceptr alloc_base = 0;
  size_t alloc_size = 0;
  const auto pool = reinterpret_cast<CUdeviceptr>(p.kv_pool);
  if (fns.range(&alloc_base, &alloc_size, pool) != CUDA_SUCCESS || alloc_base > pool) return false;
  const uint64_t n_blocks = (alloc_base + alloc_size - pool) / static_cast<uint64_t>(p.block_elems * 2);
  if (n_blocks == 0) return false;
  struct Entry {
    KvMapKey key;
    bool ok = false;
    CUtensorMap map{};
  };
  static std::mutex mu;
  static std::vector<Entry> cache;
  const KvMapKey key{device, p.kv_pool, n_blocks, p.block_elems, p.n_kv_heads, p.block_tokens};
  std::lock_guard<std::mutex> lock(mu);
  for (const Entry& e : cache) {
    if (e.key == key) {
      *map = e.map;
      return e.ok;
    }
  }
  Entry e;
  e.key = key;
  e.ok = encode_kv_map(p, n_blocks, &e.map);
  if (cache.size() >= 64) cache.erase(cache.begin());
  cache.push_back(e);
  *map = e.map;
  return e.ok;
}

}  // namespace

bool prefill_sm90_applies(const PagedAttentionParams& p) {
  return p.allow_sm90 && !p.key_split && p.head_dim == kHeadDim && prefill_tile_rows(p.prefill_tiling) >= kCtaRows &&
         device_is_sm90();
}

Status launch_prefill_sm90(const PagedAttentionParams& p, cudaStream_t stream) {
  static std::atomic<uint64_t> configured{0};
  int device = 0;
  TANDEM_CUDA_TRY(cudaGetDevice(&device));
  const uint64_t bit = uint64_t{1} << (device & 63);
  if ((configured.load() & bit) == 0) {
    TANDEM_CUDA_TRY(
        cudaFuncSetAttribute(prefill_attention_sm90_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmemBytes));
    configured.fetch_or(bit);
  }
  const int ctas_per_tile = prefill_tile_rows(p.prefill_tiling) / kCtaRows;
  CUtensorMap kv_map{};
  const bool use_tma = cached_kv_map(p, device, &kv_map);
  prefill_attention_sm90_kernel<<<dim3(p.n_tiles * ctas_per_tile, p.n_splits), kThreads, kSmemBytes, stream>>>(
      p, ctas_per_tile, kv_map, use_tma ? 1 : 0);
  return last_launch_status("prefill_attention_sm90_kernel");
}

}  // namespace tandem::engine::cuda

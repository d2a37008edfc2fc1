#include "engine/cuda/paged_attention.h"

#include <atomic>
#include <string>

#include "engine/cuda/cuda_check.h"
#include "engine/cuda/prefill_attention_sm90.h"

namespace tandem::engine::cuda {
namespace {

constexpr int kChunk = PagedAttentionParams::kChunk;
constexpr float kLog2e = 1.4426950408889634f;
constexpr float kNegBig = -1.0e30f;  // finite "minus infinity" for running maxima

__device__ __forceinline__ void cp_async16(void* smem, const void* gmem, bool valid) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  const int n = valid ? 16 : 0;  // 0: zero-fill, nothing read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void mma_bf16(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
      "{%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], const void* smem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], const void* smem) {
  const unsigned s = static_cast<unsigned>(__cvta_generic_to_shared(smem));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(s));
}

__device__ __forceinline__ uint32_t pack_bf16(float lo, float hi) {
  __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<uint32_t*>(&v);
}

// KEY_SPLIT (decode): the 4 warps share one 16-row tile and take 16 keys each
// of every chunk; their softmax states merge through shared memory at the end.
// Otherwise each warp owns 16 rows of a 64-row tile and sees every key.
template <int HD, int WARPS, bool KEY_SPLIT>
__global__ void __launch_bounds__(WARPS * 32) paged_attention_kernel(PagedAttentionParams p) {
  constexpr int kTileRows = KEY_SPLIT ? 16 : WARPS * 16;
  constexpr int kKeysPerWarp = KEY_SPLIT ? kChunk / WARPS : kChunk;
  static_assert(kKeysPerWarp % 16 == 0, "a warp takes whole 16-key steps");
  constexpr int kStride = HD + 8;  // padded smem row (conflict-free fragment loads)
  constexpr int kThreads = WARPS * 32;
  constexpr int kPiecesPerRow = HD / 8;  // 16-byte pieces
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __nv_bfloat16* k_smem = reinterpret_cast<__nv_bfloat16*>(smem_raw);  // [2][kChunk][kStride]
  __nv_bfloat16* v_smem = k_smem + 2 * kChunk * kStride;               // [2][kChunk][kStride]
  // Decode (key_split): the tiles, sequences and block tables are step metadata the host copied in before the
  // step's first kernel, and K/V of positions before a sequence's start_pos were written by earlier steps; so
  // those loads are issued before the PDL wait (4% faster per decode token than waiting first), and only Q and
  // the step's new positions after it.
  const AttnTile tile = p.tiles[blockIdx.x];
  const AttnSeq seq = p.seqs[tile.seq];
  const int split = blockIdx.y;
  const int group = p.n_heads / p.n_kv_heads;
  const int n_rows = seq.n_q * group;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int tile_last_row = min(tile.row_begin + kTileRows, n_rows) - 1;
  const int warp_row0 = KEY_SPLIT ? 0 : warp * 16;
  const int key0 = KEY_SPLIT ? warp * kKeysPerWarp : 0;              // this warp's keys within a chunk
  const int tile_min_qpos = seq.start_pos + tile.row_begin / group;  // every key <= it is visible to every row
  const int kv_end = seq.start_pos + tile_last_row / group + 1;      // causal bound of the tile
  const int n_chunks = (kv_end + kChunk - 1) / kChunk;
  const int per_split = (n_chunks + p.n_splits - 1) / p.n_splits;
  const int c_begin = split * per_split;
  const int c_end = min(n_chunks, c_begin + per_split);
  // Decode: splits past the tile's last chunk have no keys and no partial.
  const int n_active = (n_chunks + per_split - 1) / per_split;
  if (KEY_SPLIT && c_begin >= c_end) return;

  // This thread's two rows: lane / 4 and lane / 4 + 8 of the warp's 16.
  int row_token[2], row_head[2], row_qpos[2];
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int r = tile.row_begin + warp_row0 + lane / 4 + 8 * i;
    if (r < n_rows) {
      row_token[i] = seq.q_start + r / group;
      row_head[i] = tile.kv_head * group + r % group;
      row_qpos[i] = seq.start_pos + r / group;
    } else {
      row_token[i] = -1;
      row_head[i] = 0;
      row_qpos[i] = -1;  // masks every key
    }
  }

  const int64_t kv_row = static_cast<int64_t>(p.n_kv_heads) * HD;
  const int64_t layer_off = static_cast<int64_t>(p.layer) * 2 * p.block_tokens * kv_row + tile.kv_head * HD;
  const int64_t v_off = static_cast<int64_t>(p.block_tokens) * kv_row;
  const int32_t* table = p.block_tables + seq.table_offset;

  // Positions [pos_lo, pos_hi) of the chunk (past kv_end: zero fill).
  auto load_chunk = [&](int chunk, int stage, int pos_lo, int pos_hi) {
    __nv_bfloat16* ks = k_smem + stage * kChunk * kStride;
    __nv_bfloat16* vs = v_smem + stage * kChunk * kStride;
    const int base = chunk * kChunk;
    const int idx_end = min(pos_hi - base, kChunk) * kPiecesPerRow;
    for (int idx = max(pos_lo - base, 0) * kPiecesPerRow + threadIdx.x; idx < idx_end; idx += kThreads) {
      const int row = idx / kPiecesPerRow, piece = idx % kPiecesPerRow;
      const int pos = base + row;
      const bool valid = pos < kv_end;
      const __nv_bfloat16* src = p.kv_pool;
      if (valid) {
        // Power-of-two block sizes (the default 16) avoid an integer division per piece.
        const int bi = p.block_shift >= 0 ? pos >> p.block_shift : pos / p.block_tokens;
        const int slot = p.block_shift >= 0 ? pos & (p.block_tokens - 1) : pos - bi * p.block_tokens;
        const int64_t block = table[bi];
        src = p.kv_pool + block * p.block_elems + layer_off + slot * kv_row + piece * 8;
      }
      cp_async16(ks + row * kStride + piece * 8, src, valid);
      cp_async16(vs + row * kStride + piece * 8, valid ? src + v_off : src, valid);
    }
  };

  constexpr int kAll = 0x7fffffff;
  if constexpr (KEY_SPLIT) {                   // c_begin < c_end: empty splits returned above
    load_chunk(c_begin, 0, 0, seq.start_pos);  // earlier steps' positions
    load_chunk(c_begin, 0, kv_end, kAll);      // zero fill past the context
    pdl_enter(p.pdl);
    load_chunk(c_begin, 0, seq.start_pos, kv_end);  // this step's positions, written by rope_kv
  } else {
    if (c_begin < c_end) load_chunk(c_begin, 0, 0, kAll);
  }
  cp_async_commit();

  // Q fragments (A operand), [HD / 16][4] registers.
  uint32_t qa[HD / 16][4];
#pragma unroll
  for (int ks = 0; ks < HD / 16; ++ks) {
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int i = j & 1;  // a0, a2: row lane/4; a1, a3: row + 8
      const int col = ks * 16 + (lane % 4) * 2 + (j >> 1) * 8;
      qa[ks][j] = 0;
      if (row_token[i] >= 0) {
        const __nv_bfloat16* q = p.q + (static_cast<int64_t>(row_token[i]) * p.n_heads + row_head[i]) * HD + col;
        qa[ks][j] = *reinterpret_cast<const uint32_t*>(q);
      }
    }
  }

  float o[HD / 8][4];
#pragma unroll
  for (int d = 0; d < HD / 8; ++d) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;
  float m_run[2] = {kNegBig, kNegBig};
  float l_run[2] = {0.0f, 0.0f};
  const float scale_log2 = p.scale * kLog2e;

  for (int c = c_begin; c < c_end; ++c) {
    const int stage = (c - c_begin) & 1;
    if (c + 1 < c_end) {
      load_chunk(c + 1, stage ^ 1, 0, kAll);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    const __nv_bfloat16* ks = k_smem + stage * kChunk * kStride;
    const __nv_bfloat16* vs = v_smem + stage * kChunk * kStride;

    // S = Q K^T for 16 rows x this warp's keys.
    float s[kKeysPerWarp / 8][4];
#pragma unroll
    for (int nt = 0; nt < kKeysPerWarp / 8; ++nt) {
      s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.0f;
      // ldmatrix x4: matrices (dims kk*16, +8, +16, +24) of keys nt*8..+8 give
      // the B fragments (b0, b1) of two 16-dim steps.
      const __nv_bfloat16* krow = ks + (key0 + nt * 8 + lane % 8) * kStride + (lane / 8) * 8;
#pragma unroll
      for (int kk = 0; kk < HD / 16; kk += 2) {
        uint32_t b[4];
        ldmatrix_x4(b, krow + kk * 16);
        mma_bf16(s[nt], qa[kk], b[0], b[1]);
        mma_bf16(s[nt], qa[kk + 1], b[2], b[3]);
      }
    }
    // Mask (only chunks that reach past the tile's first query), scale (log2
    // domain), online softmax.
    const bool need_mask = (c + 1) * kChunk - 1 > tile_min_qpos;
    float row_max[2] = {kNegBig, kNegBig};
#pragma unroll
    for (int nt = 0; nt < kKeysPerWarp / 8; ++nt) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = j >> 1;
        const int key = c * kChunk + key0 + nt * 8 + (lane % 4) * 2 + (j & 1);
        const float v = (!need_mask || key <= row_qpos[i]) ? s[nt][j] * scale_log2 : -INFINITY;
        s[nt][j] = v;
        row_max[i] = fmaxf(row_max[i], v);
      }
    }
    float alpha[2];
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      row_max[i] = fmaxf(row_max[i], __shfl_xor_sync(0xffffffffu, row_max[i], 1));
      row_max[i] = fmaxf(row_max[i], __shfl_xor_sync(0xffffffffu, row_max[i], 2));
      const float m_new = fmaxf(m_run[i], row_max[i]);
      alpha[i] = exp2f(m_run[i] - m_new);
      m_run[i] = m_new;
      l_run[i] *= alpha[i];
    }
#pragma unroll
    for (int nt = 0; nt < kKeysPerWarp / 8; ++nt) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int i = j >> 1;
        const float e = exp2f(s[nt][j] - m_run[i]);
        s[nt][j] = e;
        l_run[i] += e;
      }
    }
#pragma unroll
    for (int d = 0; d < HD / 8; ++d) {
      o[d][0] *= alpha[0];
      o[d][1] *= alpha[0];
      o[d][2] *= alpha[1];
      o[d][3] *= alpha[1];
    }
    // O += P V.
#pragma unroll
    for (int kk = 0; kk < kKeysPerWarp / 16; ++kk) {
      uint32_t pa[4];
      pa[0] = pack_bf16(s[2 * kk][0], s[2 * kk][1]);
      pa[1] = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
      pa[2] = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
      const int m = lane / 8;
      const __nv_bfloat16* vrow = vs + (key0 + kk * 16 + (m & 1) * 8 + lane % 8) * kStride + (m >> 1) * 8;
#pragma unroll
      for (int dt = 0; dt < HD / 8; dt += 2) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, vrow + dt * 8);
        mma_bf16(o[dt], pa, b[0], b[1]);
        mma_bf16(o[dt + 1], pa, b[2], b[3]);
      }
    }
    __syncthreads();  // the next iteration's load overwrites this stage
  }

  // Row sums over the quad.
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    l_run[i] += __shfl_xor_sync(0xffffffffu, l_run[i], 1);
    l_run[i] += __shfl_xor_sync(0xffffffffu, l_run[i], 2);
  }
  if constexpr (KEY_SPLIT) {
    // Merge the warps' states for the tile's 16 rows through shared memory
    // (the K/V stages are free: every copy has landed and the loop ended on a barrier).
    float* o_sm = reinterpret_cast<float*>(smem_raw);  // [WARPS][16][HD]
    float* ml_sm = o_sm + WARPS * 16 * HD;             // [WARPS][16][2]
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int row = lane / 4 + 8 * i;
#pragma unroll
      for (int d = 0; d < HD / 8; ++d) {
        const int col = d * 8 + (lane % 4) * 2;
        *reinterpret_cast<float2*>(o_sm + (warp * 16 + row) * HD + col) = make_float2(o[d][2 * i], o[d][2 * i + 1]);
      }
      if (lane % 4 == 0) {
        ml_sm[(warp * 16 + row) * 2] = m_run[i];
        ml_sm[(warp * 16 + row) * 2 + 1] = l_run[i];
      }
    }
    __syncthreads();
    constexpr int kThreadsPerRow = WARPS * 32 / 16;
    constexpr int kCols = HD / kThreadsPerRow;
    const int row = threadIdx.x / kThreadsPerRow;
    const int col0 = (threadIdx.x % kThreadsPerRow) * kCols;
    const int r = tile.row_begin + row;
    const int64_t rows_total = static_cast<int64_t>(p.n_tokens) * p.n_heads;
    const int tile_rows = tile_last_row - tile.row_begin + 1;  // valid rows of the tile, 1..16
    // Output row of tile row i (token-major, head within).
    auto out_row_of = [&](int i) {
      const int rr = tile.row_begin + i;
      return static_cast<int64_t>(seq.q_start + rr / group) * p.n_heads + tile.kv_head * group + rr % group;
    };
    if (r < n_rows) {
      float m_all = kNegBig;
#pragma unroll
      for (int w = 0; w < WARPS; ++w) m_all = fmaxf(m_all, ml_sm[(w * 16 + row) * 2]);
      float scale_w[WARPS];
      float l_all = 0.0f;
#pragma unroll
      for (int w = 0; w < WARPS; ++w) {
        scale_w[w] = exp2f(ml_sm[(w * 16 + row) * 2] - m_all);
        l_all += scale_w[w] * ml_sm[(w * 16 + row) * 2 + 1];
      }
      const int64_t out_row = out_row_of(row);
      const float inv = l_all > 0.0f ? 1.0f / l_all : 0.0f;
      float acc[kCols];
#pragma unroll
      for (int c = 0; c < kCols; ++c) {
        acc[c] = 0.0f;
#pragma unroll
        for (int w = 0; w < WARPS; ++w) acc[c] += scale_w[w] * o_sm[(w * 16 + row) * HD + col0 + c];
      }
      if (n_active == 1) {
#pragma unroll
        for (int c = 0; c < kCols; c += 2) {
          *reinterpret_cast<__nv_bfloat162*>(p.out + out_row * HD + col0 + c) =
              __floats2bfloat162_rn(acc[c] * inv, acc[c + 1] * inv);
        }
      } else {
        float* dst = p.partial_o + (split * rows_total + out_row) * HD + col0;
#pragma unroll
        for (int c = 0; c < kCols; c += 4) {
          *reinterpret_cast<float4*>(dst + c) = make_float4(acc[c], acc[c + 1], acc[c + 2], acc[c + 3]);
        }
        if (threadIdx.x % kThreadsPerRow == 0) {
          *reinterpret_cast<float2*>(p.partial_ml + (split * rows_total + out_row) * 2) = make_float2(m_all, l_all);
        }
      }
    }
    if (n_active == 1) return;

    // Split merge: the last split of this tile to arrive merges them all.
    __shared__ unsigned s_last;
    __threadfence();  // this split's partial is visible device-wide before its arrival counts
    __syncthreads();
    if (threadIdx.x == 0) {
      const unsigned prev = atomicAdd(p.split_counters + blockIdx.x, 1u);
      s_last = prev == static_cast<unsigned>(n_active - 1);
    }
    __syncthreads();
    if (!s_last) return;
    __threadfence();  // the other splits' partials, read below through L2 (ld.cg)
    if (threadIdx.x == 0) p.split_counters[blockIdx.x] = 0;  // ready for the next launch (graph replay)

    // Weights: warp w takes rows w, w + WARPS, ...; lane takes splits lane, lane + 32.
    constexpr int kMaxS = PagedAttentionParams::kMaxSplits;
    float* w_sm = ml_sm + WARPS * 16 * 2;  // [16][kMaxS] weight of split s for row i
    float* inv_sm = w_sm + 16 * kMaxS;     // [16] 1 / total l
    float* red_sm = inv_sm + 16;           // [kThreads] float4 partial sums
    for (int i = warp; i < tile_rows; i += WARPS) {
      const int64_t out_row = out_row_of(i);
      float2 ml[kMaxS / 32];
#pragma unroll
      for (int k = 0; k < kMaxS / 32; ++k) {
        const int sp = lane + 32 * k;
        ml[k] = sp < n_active ? __ldcg(reinterpret_cast<const float2*>(p.partial_ml + (sp * rows_total + out_row) * 2))
                              : make_float2(kNegBig, 0.0f);
      }
      float m = kNegBig;
#pragma unroll
      for (int k = 0; k < kMaxS / 32; ++k) m = fmaxf(m, ml[k].x);
      for (int o2 = 16; o2 > 0; o2 >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, o2));
      float l = 0.0f;
#pragma unroll
      for (int k = 0; k < kMaxS / 32; ++k) {
        const int sp = lane + 32 * k;
        const float wt = sp < n_active ? exp2f(ml[k].x - m) : 0.0f;
        l += wt * ml[k].y;
        w_sm[i * kMaxS + sp] = wt;
      }
      for (int o2 = 16; o2 > 0; o2 >>= 1) l += __shfl_xor_sync(0xffffffffu, l, o2);
      if (lane == 0) inv_sm[i] = l > 0.0f ? 1.0f / l : 0.0f;
    }
    __syncthreads();
    // Sums: piece = 4 columns of one row; kThreads / pieces threads share a
    // piece, each summing every (groups)-th split, so all loads are in flight at once.
    constexpr int kThreads = WARPS * 32;
    const int pieces = tile_rows * (HD / 4);
    const int groups = max(1, kThreads / pieces);
    for (int base = 0; base < pieces; base += kThreads) {
      const int t = threadIdx.x;
      const int piece = base + t % pieces;
      const int g = pieces >= kThreads ? 0 : t / pieces;
      float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      const bool active = piece < pieces && g < groups;
      const int i = piece / (HD / 4), c4 = piece % (HD / 4);
      if (active) {
        const float* src = p.partial_o + out_row_of(i) * HD + c4 * 4;
#pragma unroll 4
        for (int sp = g; sp < n_active; sp += groups) {
          const float4 v = __ldcg(reinterpret_cast<const float4*>(src + sp * rows_total * HD));
          const float wt = w_sm[i * kMaxS + sp];
          acc.x += wt * v.x;
          acc.y += wt * v.y;
          acc.z += wt * v.z;
          acc.w += wt * v.w;
        }
      }
      if (groups > 1) {
        reinterpret_cast<float4*>(red_sm)[t] = acc;
        __syncthreads();
        if (t < pieces) {
          for (int g2 = 1; g2 < groups; ++g2) {
            const float4 v = reinterpret_cast<const float4*>(red_sm)[g2 * pieces + t];
            acc.x += v.x;
            acc.y += v.y;
            acc.z += v.z;
            acc.w += v.w;
          }
        }
      }
      if (active && g == 0) {
        const float inv = inv_sm[i];
        __nv_bfloat16* dst = p.out + out_row_of(i) * HD + c4 * 4;
        reinterpret_cast<__nv_bfloat162*>(dst)[0] = __floats2bfloat162_rn(acc.x * inv, acc.y * inv);
        reinterpret_cast<__nv_bfloat162*>(dst)[1] = __floats2bfloat162_rn(acc.z * inv, acc.w * inv);
      }
    }
    return;
  }
  if (p.n_splits == 1) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      if (row_token[i] < 0) continue;
      const float inv = l_run[i] > 0.0f ? 1.0f / l_run[i] : 0.0f;
      __nv_bfloat16* dst = p.out + (static_cast<int64_t>(row_token[i]) * p.n_heads + row_head[i]) * HD;
#pragma unroll
      for (int d = 0; d < HD / 8; ++d) {
        const int col = d * 8 + (lane % 4) * 2;
        *reinterpret_cast<__nv_bfloat162*>(dst + col) = __floats2bfloat162_rn(o[d][2 * i] * inv, o[d][2 * i + 1] * inv);
      }
    }
  } else {
    const int64_t rows_total = static_cast<int64_t>(p.n_tokens) * p.n_heads;
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      if (row_token[i] < 0) continue;
      const int64_t row = static_cast<int64_t>(row_token[i]) * p.n_heads + row_head[i];
      float* dst = p.partial_o + (split * rows_total + row) * HD;
#pragma unroll
      for (int d = 0; d < HD / 8; ++d) {
        const int col = d * 8 + (lane % 4) * 2;
        *reinterpret_cast<float2*>(dst + col) = make_float2(o[d][2 * i], o[d][2 * i + 1]);
      }
      if (lane % 4 == 0) {
        *reinterpret_cast<float2*>(p.partial_ml + (split * rows_total + row) * 2) = make_float2(m_run[i], l_run[i]);
      }
    }
  }
}

__device__ __forceinline__ float fast_exp2(float x) {  // MUFU.EX2; -inf -> 0, no denormal fix-ups
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Multi-row (prefill) tiles: WARPS warps x MT m16 row blocks each; every warp
// sees every key of every chunk. K/V chunks are double-buffered (cp.async of
// chunk c + 1 in flight while chunk c is computed). Q fragments live in
// registers (MT == 1) or, for MT > 1, the tile's Q sits in shared memory and
// each 16-dim step's fragments are reloaded by ldmatrix, so one K/V fragment
// load feeds MT tensor-core products. Scores stay unscaled until the softmax,
// where the scale and log2(e) fold into one FFMA before ex2. A warp whose rows
// are all past the sequence, or whose last row sees no key of a chunk
// (causal), skips that chunk's arithmetic but still loads and syncs.
template <int HD, int WARPS, int MT>
__global__ void __launch_bounds__(WARPS * 32) prefill_attention_kernel(PagedAttentionParams p) {
  constexpr int kWarpRows = 16 * MT;
  constexpr int kTileRows = WARPS * kWarpRows;
  constexpr bool kQSmem = MT > 1;
  constexpr int kStride = HD + 8;  // padded smem row: ldmatrix rows land in distinct banks
  constexpr int kThreads = WARPS * 32;
  constexpr int kPieces = HD / 8;  // 16-byte pieces per row
  constexpr int kRowsPerPass = kThreads / kPieces;
  constexpr int kPasses = kChunk / kRowsPerPass;
  constexpr int kKSteps = HD / 16;
  constexpr int kNT = kChunk / 8;
  static_assert(kChunk % kRowsPerPass == 0, "whole load passes per chunk");
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __nv_bfloat16* k_smem = reinterpret_cast<__nv_bfloat16*>(smem_raw);  // [2][kChunk][kStride]
  __nv_bfloat16* v_smem = k_smem + 2 * kChunk * kStride;               // [2][kChunk][kStride]
  __nv_bfloat16* q_smem = v_smem + 2 * kChunk * kStride;               // [kTileRows][kStride] when kQSmem

  const AttnTile tile = p.tiles[blockIdx.x];
  const AttnSeq seq = p.seqs[tile.seq];
  const int split = blockIdx.y;
  const int group = p.n_heads / p.n_kv_heads;
  const int n_rows = seq.n_q * group;
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int tile_last_row = min(tile.row_begin + kTileRows, n_rows) - 1;
  const int tile_min_qpos = seq.start_pos + tile.row_begin / group;  // keys <= it are visible to every row
  const int kv_end = seq.start_pos + tile_last_row / group + 1;      // causal bound of the tile
  const int n_chunks = (kv_end + kChunk - 1) / kChunk;
  const int per_split = (n_chunks + p.n_splits - 1) / p.n_splits;
  const int c_begin = split * per_split;
  const int c_end = min(n_chunks, c_begin + per_split);
  const int warp_row_begin = tile.row_begin + warp * kWarpRows;
  const int warp_last_row = min(warp_row_begin + kWarpRows, n_rows) - 1;
  // Keys [0, warp_kv_end) matter to this warp; 0 when it has no rows.
  const int warp_kv_end = warp_row_begin < n_rows ? seq.start_pos + warp_last_row / group + 1 : 0;

  // This thread's rows: lane / 4 and lane / 4 + 8 of each of the warp's m16
  // blocks; their query positions (-1 masks every key of a row past the end).
  auto thread_row = [&](int mt, int i) { return warp_row_begin + mt * 16 + lane / 4 + 8 * i; };
  int row_qpos[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      const int r = thread_row(mt, i);
      row_qpos[mt][i] = r < n_rows ? seq.start_pos + r / group : -1;
    }
  }

  const int64_t kv_row = static_cast<int64_t>(p.n_kv_heads) * HD;
  const int64_t layer_off = static_cast<int64_t>(p.layer) * 2 * p.block_tokens * kv_row + tile.kv_head * HD;
  const int64_t v_off = static_cast<int64_t>(p.block_tokens) * kv_row;
  const int32_t* table = p.block_tables + seq.table_offset;
  const int load_row = threadIdx.x / kPieces, load_piece = threadIdx.x % kPieces;

  auto load_chunk = [&](int chunk, int stage) {
    __nv_bfloat16* ks = k_smem + stage * kChunk * kStride;
    __nv_bfloat16* vs = v_smem + stage * kChunk * kStride;
    // All table reads first (independent loads in flight), then the copies.
    int32_t block[kPasses];
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass) {
      const int pos = chunk * kChunk + pass * kRowsPerPass + load_row;
      const int bi = p.block_shift >= 0 ? pos >> p.block_shift : pos / p.block_tokens;
      block[pass] = pos < kv_end ? table[bi] : -1;
    }
#pragma unroll
    for (int pass = 0; pass < kPasses; ++pass) {
      const int row = pass * kRowsPerPass + load_row;
      const int pos = chunk * kChunk + row;
      const int slot = p.block_shift >= 0 ? pos & (p.block_tokens - 1) : pos % p.block_tokens;
      const bool valid = block[pass] >= 0;
      const __nv_bfloat16* src = valid ? p.kv_pool + static_cast<int64_t>(block[pass]) * p.block_elems + layer_off +
                                             slot * kv_row + load_piece * 8
                                       : p.kv_pool;
      const int off = row * kStride + load_piece * 8;
      cp_async16(ks + off, src, valid);
      cp_async16(vs + off, valid ? src + v_off : src, valid);
    }
  };

  // Q: registers (MT == 1) or shared memory (MT > 1, loaded with the first chunk).
  uint32_t qa[kQSmem ? 1 : kKSteps][4];
  if constexpr (!kQSmem) {
#pragma unroll
    for (int ks = 0; ks < kKSteps; ++ks) {
#pragma unroll
      for (int j = 0; j < 4; ++j) {
        const int r = thread_row(0, j & 1);  // a0, a2: row lane/4; a1, a3: row + 8
        const int col = ks * 16 + (lane % 4) * 2 + (j >> 1) * 8;
        qa[ks][j] = 0;
        if (r < n_rows) {
          const int64_t q_row =
              static_cast<int64_t>(seq.q_start + r / group) * p.n_heads + tile.kv_head * group + r % group;
          qa[ks][j] = *reinterpret_cast<const uint32_t*>(p.q + q_row * HD + col);
        }
      }
    }
  }
  auto load_q_smem = [&]() {
    for (int idx = threadIdx.x; idx < kTileRows * kPieces; idx += kThreads) {
      const int row = idx / kPieces, piece = idx % kPieces;
      const int r = tile.row_begin + row;
      const bool ok = r < n_rows;
      const __nv_bfloat16* src = p.q;
      if (ok) {
        src = p.q +
              (static_cast<int64_t>(seq.q_start + r / group) * p.n_heads + tile.kv_head * group + r % group) * HD +
              piece * 8;
      }
      cp_async16(q_smem + row * kStride + piece * 8, src, ok);
    }
  };

  float o[MT][HD / 8][4];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int d = 0; d < HD / 8; ++d) o[mt][d][0] = o[mt][d][1] = o[mt][d][2] = o[mt][d][3] = 0.0f;
  }
  float m_run[MT][2], l_run[MT][2];
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
    m_run[mt][0] = m_run[mt][1] = kNegBig;
    l_run[mt][0] = l_run[mt][1] = 0.0f;
  }
  const float scale_log2 = p.scale * kLog2e;

  if (c_begin < c_end) {
    if constexpr (kQSmem) load_q_smem();
    load_chunk(c_begin, 0);
  }
  cp_async_commit();
  for (int c = c_begin; c < c_end; ++c) {
    const int stage = (c - c_begin) & 1;
    if (c + 1 < c_end) {
      load_chunk(c + 1, stage ^ 1);
      cp_async_commit();
      cp_async_wait<1>();
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();
    if (c * kChunk < warp_kv_end) {
      const __nv_bfloat16* ks = k_smem + stage * kChunk * kStride;
      const __nv_bfloat16* vs = v_smem + stage * kChunk * kStride;

      // S = Q K^T: [MT][16 rows] x 64 keys, unscaled.
      float s[MT][kNT][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) s[mt][nt][0] = s[mt][nt][1] = s[mt][nt][2] = s[mt][nt][3] = 0.0f;
      }
#pragma unroll
      for (int kk = 0; kk < kKSteps; ++kk) {
        uint32_t qf[MT][4];
        if constexpr (kQSmem) {
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            ldmatrix_x4(qf[mt],
                        q_smem + (warp * kWarpRows + mt * 16 + lane % 16) * kStride + (lane / 16) * 8 + kk * 16);
          }
        } else {
#pragma unroll
          for (int j = 0; j < 4; ++j) qf[0][j] = qa[kQSmem ? 0 : kk][j];
        }
#pragma unroll
        for (int nt = 0; nt < kNT; nt += 2) {
          // ldmatrix x4: keys nt*8 .. +16 x dims kk*16 .. +16 -> B fragments of key groups nt and nt + 1.
          uint32_t b[4];
          ldmatrix_x4(b, ks + (nt * 8 + (lane / 16) * 8 + lane % 8) * kStride + kk * 16 + ((lane / 8) & 1) * 8);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            mma_bf16(s[mt][nt], qf[mt], b[0], b[1]);
            mma_bf16(s[mt][nt + 1], qf[mt], b[2], b[3]);
          }
        }
      }
      // Causal mask only where the chunk reaches past the tile's first query.
      const bool need_mask = (c + 1) * kChunk - 1 > tile_min_qpos;
      uint32_t pa[MT][kChunk / 16][4];
#pragma unroll
      for (int mt = 0; mt < MT; ++mt) {
        float row_max[2] = {-INFINITY, -INFINITY};
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int i = j >> 1;
            const int key = c * kChunk + nt * 8 + (lane % 4) * 2 + (j & 1);
            if (need_mask && key > row_qpos[mt][i]) s[mt][nt][j] = -INFINITY;
            row_max[i] = fmaxf(row_max[i], s[mt][nt][j]);
          }
        }
        float m_scaled[2], alpha[2];
#pragma unroll
        for (int i = 0; i < 2; ++i) {
          row_max[i] = fmaxf(row_max[i], __shfl_xor_sync(0xffffffffu, row_max[i], 1));
          row_max[i] = fmaxf(row_max[i], __shfl_xor_sync(0xffffffffu, row_max[i], 2));
          const float m_new = fmaxf(m_run[mt][i], row_max[i] * scale_log2);  // -inf * scale stays -inf
          alpha[i] = fast_exp2(m_run[mt][i] - m_new);
          m_run[mt][i] = m_new;
          m_scaled[i] = m_new;
          l_run[mt][i] *= alpha[i];
        }
#pragma unroll
        for (int nt = 0; nt < kNT; ++nt) {
#pragma unroll
          for (int j = 0; j < 4; ++j) {
            const int i = j >> 1;
            const float e = fast_exp2(fmaf(s[mt][nt][j], scale_log2, -m_scaled[i]));
            s[mt][nt][j] = e;
            l_run[mt][i] += e;
          }
        }
#pragma unroll
        for (int d = 0; d < HD / 8; ++d) {
          o[mt][d][0] *= alpha[0];
          o[mt][d][1] *= alpha[0];
          o[mt][d][2] *= alpha[1];
          o[mt][d][3] *= alpha[1];
        }
#pragma unroll
        for (int kk = 0; kk < kChunk / 16; ++kk) {
          pa[mt][kk][0] = pack_bf16(s[mt][2 * kk][0], s[mt][2 * kk][1]);
          pa[mt][kk][1] = pack_bf16(s[mt][2 * kk][2], s[mt][2 * kk][3]);
          pa[mt][kk][2] = pack_bf16(s[mt][2 * kk + 1][0], s[mt][2 * kk + 1][1]);
          pa[mt][kk][3] = pack_bf16(s[mt][2 * kk + 1][2], s[mt][2 * kk + 1][3]);
        }
      }
      // O += P V: one V fragment load feeds the MT row blocks.
#pragma unroll
      for (int kk = 0; kk < kChunk / 16; ++kk) {
        const int m = lane / 8;
        const __nv_bfloat16* vrow = vs + (kk * 16 + (m & 1) * 8 + lane % 8) * kStride + (m >> 1) * 8;
#pragma unroll
        for (int dt = 0; dt < HD / 8; dt += 2) {
          uint32_t b[4];
          ldmatrix_x4_trans(b, vrow + dt * 8);
#pragma unroll
          for (int mt = 0; mt < MT; ++mt) {
            mma_bf16(o[mt][dt], pa[mt][kk], b[0], b[1]);
            mma_bf16(o[mt][dt + 1], pa[mt][kk], b[2], b[3]);
          }
        }
      }
    }
    __syncthreads();  // the next iteration's load overwrites this stage
  }

  const int64_t rows_total = static_cast<int64_t>(p.n_tokens) * p.n_heads;
#pragma unroll
  for (int mt = 0; mt < MT; ++mt) {
#pragma unroll
    for (int i = 0; i < 2; ++i) {
      float l = l_run[mt][i];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const int r = thread_row(mt, i);
      if (r >= n_rows) continue;
      const int64_t row = static_cast<int64_t>(seq.q_start + r / group) * p.n_heads + tile.kv_head * group + r % group;
      if (p.n_splits == 1) {
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        __nv_bfloat16* dst = p.out + row * HD;
#pragma unroll
        for (int d = 0; d < HD / 8; ++d) {
          const int col = d * 8 + (lane % 4) * 2;
          *reinterpret_cast<__nv_bfloat162*>(dst + col) =
              __floats2bfloat162_rn(o[mt][d][2 * i] * inv, o[mt][d][2 * i + 1] * inv);
        }
      } else {
        float* dst = p.partial_o + (split * rows_total + row) * HD;
#pragma unroll
        for (int d = 0; d < HD / 8; ++d) {
          const int col = d * 8 + (lane % 4) * 2;
          *reinterpret_cast<float2*>(dst + col) = make_float2(o[mt][d][2 * i], o[mt][d][2 * i + 1]);
        }
        if (lane % 4 == 0) {
          *reinterpret_cast<float2*>(p.partial_ml + (split * rows_total + row) * 2) = make_float2(m_run[mt][i], l);
        }
      }
    }
  }
}

// One block per (token, head) row: merges the splits' partials.
template <int HD>
__global__ void combine_kernel(PagedAttentionParams p) {
  const int64_t row = blockIdx.x;
  const int64_t rows_total = static_cast<int64_t>(p.n_tokens) * p.n_heads;
  float m = kNegBig;
  for (int s = 0; s < p.n_splits; ++s) m = fmaxf(m, p.partial_ml[(s * rows_total + row) * 2]);
  float l = 0.0f;
  float acc[HD / 32 > 0 ? (HD + 31) / 32 : 1] = {};
  for (int s = 0; s < p.n_splits; ++s) {
    const float2 ml = *reinterpret_cast<const float2*>(p.partial_ml + (s * rows_total + row) * 2);
    const float w = exp2f(ml.x - m);
    l += w * ml.y;
    const float* src = p.partial_o + (s * rows_total + row) * HD;
#pragma unroll
    for (int c = 0; c < HD / 32; ++c) acc[c] += w * src[threadIdx.x + 32 * c];
  }
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  __nv_bfloat16* dst = p.out + row * HD;
#pragma unroll
  for (int c = 0; c < HD / 32; ++c) dst[threadIdx.x + 32 * c] = __float2bfloat16_rn(acc[c] * inv);
}

// The shared-memory opt-in is per (kernel, device): done once for each.
template <auto Kernel>
Status allow_dynamic_smem(size_t smem) {
  static std::atomic<uint64_t> configured{0};
  int device = 0;
  TANDEM_CUDA_TRY(cudaGetDevice(&device));
  const uint64_t bit = uint64_t{1} << (device & 63);
  if ((configured.load() & bit) == 0) {
    TANDEM_CUDA_TRY(cudaFuncSetAttribute(Kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem)));
    configured.fetch_or(bit);
  }
  return {};
}

template <int HD>
Status launch_combine(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.n_splits == 1) return {};
  combine_kernel<HD><<<p.n_tokens * p.n_heads, 32, 0, stream>>>(p);
  return last_launch_status("paged_attention_combine_kernel");
}

// Decode (16-row tiles, key split across the warps).
template <int HD>
Status launch_decode(const PagedAttentionParams& p, cudaStream_t stream) {
  constexpr int WARPS = 4;
  constexpr size_t smem = 2 * 2 * kChunk * (HD + 8) * sizeof(__nv_bfloat16);
  // Warp merge (o, m, l per warp and row), then the split merge's weights, 1 / l and float4 sums.
  static_assert(
      (WARPS * 16 * (HD + 2) + 16 * PagedAttentionParams::kMaxSplits + 16 + WARPS * 32 * 4) * sizeof(float) <= smem,
      "merge buffers fit the stages");
  constexpr auto kernel = paged_attention_kernel<HD, WARPS, true>;
  TANDEM_RETURN_IF_ERROR(allow_dynamic_smem<kernel>(smem));
  const cudaError_t e = launch_kernel(kernel, dim3(p.n_tiles, p.n_splits), dim3(WARPS * 32), smem, stream, p.pdl, p);
  if (e != cudaSuccess) return cuda_error(e, "paged_attention_kernel launch");
  return last_launch_status("paged_attention_kernel");  // splits merge in the kernel: no combine pass
}

template <int HD, int WARPS, int MT>
Status launch_prefill(const PagedAttentionParams& p, cudaStream_t stream) {
  constexpr size_t kv_bytes = 2 * 2 * kChunk * (HD + 8) * sizeof(__nv_bfloat16);
  constexpr size_t q_bytes = MT > 1 ? WARPS * 16 * MT * (HD + 8) * sizeof(__nv_bfloat16) : 0;
  constexpr size_t smem = kv_bytes + q_bytes;
  constexpr auto kernel = prefill_attention_kernel<HD, WARPS, MT>;
  TANDEM_RETURN_IF_ERROR(allow_dynamic_smem<kernel>(smem));
  kernel<<<dim3(p.n_tiles, p.n_splits), WARPS * 32, smem, stream>>>(p);
  TANDEM_RETURN_IF_ERROR(last_launch_status("prefill_attention_kernel"));
  return launch_combine<HD>(p, stream);
}

template <int HD>
Status launch_hd(const PagedAttentionParams& p, cudaStream_t stream) {
  if (p.key_split) return launch_decode<HD>(p, stream);
  if (prefill_sm90_applies(p)) {  // wgmma kernel (prefill_attention_sm90.h): head_dim 128, 128/256-row tiles
    TANDEM_RETURN_IF_ERROR(launch_prefill_sm90(p, stream));
    return launch_combine<HD>(p, stream);
  }
  switch (p.prefill_tiling) {
    case PrefillTiling::kWarps4Rows16: return launch_prefill<HD, 4, 1>(p, stream);
    case PrefillTiling::kWarps8Rows16: return launch_prefill<HD, 8, 1>(p, stream);
    case PrefillTiling::kWarps4Rows32: return launch_prefill<HD, 4, 2>(p, stream);
    case PrefillTiling::kWarps8Rows32: return launch_prefill<HD, 8, 2>(p, stream);
  }
  return Status(ErrorKind::kInternal, "paged_attention: unknown prefill tiling");
}

}  // namespace

Status PagedAttentionParams::check() const {
  auto bad = [](const std::string& what) { return Status(ErrorKind::kInternal, "paged_attention: " + what); };
  if (q == nullptr || kv_pool == nullptr || block_tables == nullptr || seqs == nullptr || tiles == nullptr ||
      out == nullptr) {
    return bad("null pointer");
  }
  if (head_dim != 64 && head_dim != 128) return bad("head_dim must be 64 or 128");
  if (n_splits < 1 || n_splits > kMaxSplits) return bad("n_splits out of range");
  if (n_splits > 1 && (partial_o == nullptr || partial_ml == nullptr)) return bad("split-KV needs its workspace");
  if (key_split && n_splits > 1 && (split_counters == nullptr || n_split_counters < n_tiles)) {
    return bad("decode split-KV needs a zeroed arrival counter per tile");
  }
  if (n_heads < 1 || n_kv_heads < 1 || n_heads % n_kv_heads != 0) return bad("bad head counts");
  if (n_tiles < 0 || n_tiles > 0x7fffffff || block_tokens < 1 || block_elems < 1) return bad("bad shape");
  if (!key_split && prefill_tile_rows(prefill_tiling) == 0) return bad("unknown prefill tiling");
  if (block_shift >= 31 || (block_shift >= 0 && (1 << block_shift) != block_tokens)) {
    return bad("block_shift does not match block_tokens");
  }
  return {};
}

int prefill_tile_rows(PrefillTiling tiling) {
  switch (tiling) {
    case PrefillTiling::kWarps4Rows16: return 64;
    case PrefillTiling::kWarps8Rows16:
    case PrefillTiling::kWarps4Rows32: return 128;
    case PrefillTiling::kWarps8Rows32: return 256;
  }
  return 0;
}

size_t PagedAttentionParams::workspace_bytes() const {
  if (n_splits <= 1) return 0;
  const size_t rows = static_cast<size_t>(n_tokens) * n_heads * n_splits;
  return rows * head_dim * sizeof(float) + rows * 2 * sizeof(float);
}

Status launch(const PagedAttentionParams& p, cudaStream_t stream) {
  TANDEM_RETURN_IF_ERROR(p.check());
  if (p.n_tiles == 0) return {};
  return p.head_dim == 64 ? launch_hd<64>(p, stream) : launch_hd<128>(p, stream);
}

}  // namespace tandem::engine::cuda

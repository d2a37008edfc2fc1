// Paged attention over the scheduler's block tables (runner.h KV layout, bf16),
// for prefill chunks, decodes and mixed batches in one launch.
//
// Work decomposition (planned once per step on the host, read by every layer):
// the query rows of one sequence and one KV head are its new tokens times the
// G = n_heads / n_kv_heads query heads sharing that KV head, row r = token
// r / G, head kv_head * G + r % G. A tile is a run of consecutive rows of one
// (sequence, kv head): 16 rows for decode (key_split), else the prefill
// tiling's rows (64, 128 or 256, see PrefillTiling); each K/V chunk (64 positions)
// is loaded once into shared memory per tile and used by all its rows (GQA
// sharing: every query head of the KV head). Scores and
// P.V run on tensor cores (mma.sync m16n8k16 bf16, fp32 accumulate) with an
// online softmax (FlashAttention-2 style); causal masking per row; a tile
// reads positions [0, start_pos + its last token] through the block table, so
// chunked prefill attends to the cached blocks plus the new chunk.
// Split-KV (flash-decoding): grid.y = n_splits; split s takes a contiguous
// range of chunks and writes unnormalized partials. Prefill tiles merge them
// in a combine kernel. Decode (key_split) merges in the attention kernel
// itself: splits whose chunk range is empty exit at once; each other split
// writes its partial, fences, and bumps the tile's arrival counter
// (split_counters[tile]); the last to arrive merges every split's partial
// and resets the counter to 0, so the counters are 0 between launches (the
// owner zeroes them once). A tile with one non-empty split writes its output
// directly. Every value a graph replay changes lives in device buffers (seqs,
// tiles, block tables); n_tiles and n_splits fix the grid.
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "engine/cuda/launch_pdl.h"

namespace tandem::engine::cuda {

struct AttnSeq {
  int32_t q_start = 0;       // index of the sequence's first new token in the step
  int32_t n_q = 0;           // new tokens (>= 1)
  int32_t start_pos = 0;     // cached positions before them; context = start_pos + n_q
  int32_t table_offset = 0;  // its block table starts at block_tables[table_offset]
};

struct AttnTile {
  int32_t seq = 0;  // index into seqs
  int32_t kv_head = 0;
  int32_t row_begin = 0;  // first query row (see above) of this tile
  int32_t reserved = 0;
};

// Multi-row (prefill) kernel shapes: warps per CTA x rows per warp. Each K/V
// chunk in shared memory serves every row of the tile, so 128-row tiles move
// half the K/V bytes per FLOP of 64-row tiles. kWarps4Rows32 keeps the tile's
// Q in shared memory (its 32-row fragments would not fit in registers).
enum class PrefillTiling : int32_t {
  kWarps4Rows16 = 0,  // 64-row tiles, Q fragments in registers
  kWarps8Rows16 = 1,  // 128-row tiles, Q fragments in registers
  kWarps4Rows32 = 2,  // 128-row tiles, Q in shared memory
  kWarps8Rows32 = 3,  // 256-row tiles, Q in shared memory
};
// Rows of one tile of that tiling (64, 128 or 256).
int prefill_tile_rows(PrefillTiling tiling);

struct PagedAttentionParams {
  const __nv_bfloat16* q = nullptr;        // [n_tokens, n_heads, head_dim]
  const __nv_bfloat16* kv_pool = nullptr;  // block b at b * block_elems
  const int32_t* block_tables = nullptr;   // concatenated per-sequence tables
  const AttnSeq* seqs = nullptr;           // [n_seqs]
  const AttnTile* tiles = nullptr;         // [n_tiles]
  __nv_bfloat16* out = nullptr;            // [n_tokens, n_heads, head_dim]
  float* partial_o = nullptr;              // workspace (n_splits > 1): [n_splits, n_tokens * n_heads, head_dim]
  float* partial_ml = nullptr;             // workspace (n_splits > 1): [n_splits, n_tokens * n_heads, 2]
  unsigned* split_counters = nullptr;      // key_split && n_splits > 1: [>= n_tiles], all 0 between launches
  int n_split_counters = 0;                // capacity of split_counters
  int64_t block_elems = 0;
  int n_tiles = 0;
  int n_splits = 1;        // 1..kMaxSplits
  bool key_split = false;  // false: prefill_tiling's tiles, every warp sees every key;
                           // true (decode): 16-row tiles, the 4 warps split each chunk's keys
  PrefillTiling prefill_tiling = PrefillTiling::kWarps4Rows16;  // when !key_split; tiles hold its rows
  int n_tokens = 0;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;  // 64 or 128
  int block_tokens = 0;
  int block_shift = -1;  // log2(block_tokens) when a power of two, else -1
  int layer = 0;
  float scale = 0.0f;           // softmax scale, usually 1 / sqrt(head_dim)
  PdlMode pdl = PdlMode::kOff;  // key_split only (launch_pdl.h); the kernel loads the metadata and
                                // earlier steps' K/V before its PDL wait
  bool allow_sm90 = true;       // !key_split: the wgmma kernel where it applies
                                // (prefill_attention_sm90.h); false: mma.sync
  bool allow_sm90_tma = true;   // that kernel loads K/V by TMA where the layout allows; false: its
                                // cp.async gather

  static constexpr int kMaxSplits = 64;
  static constexpr int kChunk = 64;  // K/V positions per shared-memory stage
  Status check() const;
  // Bytes of partial_o + partial_ml needed (0 when n_splits == 1).
  size_t workspace_bytes() const;
};
Status launch(const PagedAttentionParams& p, cudaStream_t stream);

}  // namespace tandem::engine::cuda

// StepPlan: the host-side plan of one CUDA step, built once per step from a
// StepBatch and read by every layer (docs/design.md "CUDA engine notes"): the new
// tokens (ids, positions, KV slots), the rows that want logits, the attention
// sequences and tiles (paged_attention.h), the concatenated block tables and
// the split-KV factor, all packed into one int32 array that is uploaded with
// one copy. Region offsets depend only on the counts (tokens, rows, seqs,
// tiles), and the block tables come last, so every decode step of one batch
// size has the same layout: a CUDA graph captured for it stays valid.
//
// Also the runner's per-model launch choice for decode steps
// (decode_attention_pdl). Pure host code (no CUDA calls). Threads: owned by
// the runner's thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/engine_tuning.h"
#include "common/status.h"
#include "engine/cuda/paged_attention.h"
#include "engine/model_spec.h"
#include "engine/runner.h"

namespace tandem::engine::cuda {

struct StepPlanLimits {
  int max_tokens = 0;      // tokens per step
  int max_seqs = 0;        // sequences per step
  int64_t max_table = 0;   // block-table entries per step
  int num_blocks = 0;      // valid block ids: [0, num_blocks)
  int scratch_block = -1;  // block that padding sequences write to
  int block_tokens = 16;
  int sms = 132;        // multiprocessors, for the split-KV choice
  int64_t ws_rows = 0;  // split-KV workspace capacity in (split, token, head) rows
  // Contexts up to this many attention chunks (kChunk positions each) run unsplit: measured faster at batch 1
  // than split-KV plus its separate combine pass; longer contexts split, since one CTA
  // walking many chunks in turn is latency-bound.
  int no_split_chunks = 4;
  // The same bound for decode plans (key_split) with fewer tiles than SMs. The decode kernel merges its splits
  // itself and loads earlier steps' K/V before its PDL wait, so with 0 (every chunk its own CTA) all of them load
  // there; with as many tiles as SMs, no_split_chunks applies.
  int decode_no_split_chunks = 0;
};

struct StepLayout {  // offsets in int32 words into the packed array
  int64_t ids = 0, positions = 0, slots = 0, logit_rows = 0, seqs = 0, tiles = 0, tables = 0;
  int n_tokens = 0, n_rows = 0, n_seqs = 0, n_tiles = 0;
  bool operator==(const StepLayout&) const = default;
};

class StepPlan {
 public:
  // Validates `batch` against the model and limits (kInvalidRequest naming
  // the sequence and field) and builds the plan. `pad_to` > batch size adds
  // padding decode sequences (token 0 at position 0 in the scratch block) up
  // to that count, for a graph bucket; `graph_splits` makes the split count
  // independent of context lengths beyond 256 positions (one value below,
  // one above), so a decode graph keyed by (bucket, splits) stays valid.
  Status build(const StepBatch& batch, const ModelSpec& spec, const StepPlanLimits& limits, int pad_to,
               bool graph_splits);

  const std::vector<int32_t>& packed() const { return packed_; }
  const StepLayout& layout() const { return layout_; }
  int n_real_rows() const { return n_real_rows_; }         // logits rows to return (no padding)
  bool attention_key_split() const { return key_split_; }  // 16-row tiles (see paged_attention.h)
  // Tile shape when !attention_key_split(): 256-row tiles when the step has
  // at least two waves of them (2 x limits.sms), else 128-row tiles; tiles
  // hold prefill_tile_rows() of it.
  PrefillTiling prefill_tiling() const { return prefill_tiling_; }
  int n_splits() const { return splits_; }
  bool pure_decode() const { return pure_decode_; }

 private:
  std::vector<int32_t> packed_;
  StepLayout layout_;
  int n_real_rows_ = 0;
  bool key_split_ = false;
  PrefillTiling prefill_tiling_ = PrefillTiling::kWarps4Rows32;
  int splits_ = 1;
  bool pure_decode_ = false;
};

// True when every sequence has one new token and wants logits.
bool is_pure_decode(const StepBatch& batch);

// Whether decode steps launch attention with PDL (launch_pdl.h), so the o-projection's blocks start while it
// runs: `choice` on/off, or under auto when a layer's bf16 weights are under kAttentionPdlMaxLayerBytes. It pays
// where a layer's products are latency-bound and costs where they stream at full bandwidth (H100, batch 1:
// Qwen3-0.6B -3.5%, Llama-3.1-8B +1.5% per token).
inline constexpr size_t kAttentionPdlMaxLayerBytes = size_t{128} << 20;
bool decode_attention_pdl(const ModelSpec& spec, Toggle choice);

}  // namespace tandem::engine::cuda

#include "engine/cuda/step_plan.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace tandem::engine::cuda {
namespace {

int64_t align4(int64_t words) { return (words + 3) / 4 * 4; }  // 16-byte regions

// Multi-row tiles (per Llama-3.1-8B layer at 8K on an H200: 64-row tiles
// 2.70 ms, 4 warps x 32 rows 1.82 ms, 8 warps x 32 rows 1.76 ms; at 2K the
// last two tie). 256-row tiles only when they still
// fill two waves of CTAs; 128-row ones otherwise.
PrefillTiling choose_prefill_tiling(int64_t tiles_of_256_rows, int sms) {
  return tiles_of_256_rows >= 2 * static_cast<int64_t>(sms) ? PrefillTiling::kWarps8Rows32
                                                            : PrefillTiling::kWarps4Rows32;
}

}  // namespace

bool is_pure_decode(const StepBatch& batch) {
  if (batch.seqs.empty()) return false;
  for (const SequenceStep& s : batch.seqs) {
    if (s.tokens.size() != 1 || !s.want_logits) return false;
  }
  return true;
}

bool decode_attention_pdl(const ModelSpec& spec, Toggle choice) {
  switch (choice) {
    case Toggle::kOn: return true;
    case Toggle::kOff: return false;
    case Toggle::kAuto: break;
  }
  const size_t q_dim = static_cast<size_t>(spec.n_heads) * spec.head_dim;
  const size_t qkv_dim = static_cast<size_t>(spec.n_heads + 2 * spec.n_kv_heads) * spec.head_dim;
  const size_t inter = static_cast<size_t>(spec.intermediate);
  const size_t layer_bytes = 2 * static_cast<size_t>(spec.hidden) * (qkv_dim + q_dim + 3 * inter);
  return layer_bytes < kAttentionPdlMaxLayerBytes;
}

Status StepPlan::build(const StepBatch& batch, const ModelSpec& spec, const StepPlanLimits& limits, int pad_to,
                       bool graph_splits) {
  auto bad = [](size_t i, const std::string& what) {
    return Status(ErrorKind::kInvalidRequest, "step batch: seqs[" + std::to_string(i) + "]: " + what);
  };
  const int bt = limits.block_tokens;
  const int n_real = static_cast<int>(batch.seqs.size());
  const int n_seqs = std::max(n_real, pad_to);
  if (n_seqs > limits.max_seqs) {
    return Status(ErrorKind::kInvalidRequest, "step batch: " + std::to_string(n_seqs) +
                                                  " sequences, the CUDA runner takes at most " +
                                                  std::to_string(limits.max_seqs) + " per step (max_running)");
  }
  int64_t n_tokens = 0, n_rows = 0, n_table = 0;
  std::vector<int64_t> written;
  for (size_t i = 0; i < batch.seqs.size(); ++i) {
    const SequenceStep& s = batch.seqs[i];
    if (s.tokens.empty()) return bad(i, "no tokens");
    if (s.start_pos < 0) return bad(i, "start_pos " + std::to_string(s.start_pos) + " is negative");
    const int64_t end = static_cast<int64_t>(s.start_pos) + static_cast<int64_t>(s.tokens.size());
    if (spec.max_position > 0 && end > spec.max_position) {
      return bad(i, "positions up to " + std::to_string(end - 1) + " exceed the model's maximum position " +
                        std::to_string(spec.max_position - 1));
    }
    if (end > (int64_t{1} << 30)) return bad(i, "positions up to " + std::to_string(end - 1) + " are too large");
    const int64_t needed = (end + bt - 1) / bt;
    if (static_cast<int64_t>(s.block_table.size()) < needed) {
      return bad(i, "block_table has " + std::to_string(s.block_table.size()) + " blocks, positions [0, " +
                        std::to_string(end) + ") need " + std::to_string(needed));
    }
    for (int64_t b = 0; b < needed; ++b) {
      const int32_t id = s.block_table[b];
      if (id < 0 || id >= limits.num_blocks) {
        return bad(i, "block_table[" + std::to_string(b) + "] = " + std::to_string(id) + " is out of range [0, " +
                          std::to_string(limits.num_blocks) + ")");
      }
    }
    for (size_t j = 0; j < s.tokens.size(); ++j) {
      if (s.tokens[j] < 0 || s.tokens[j] >= spec.vocab) {
        return bad(i,
                   "token " + std::to_string(s.tokens[j]) + " is out of range [0, " + std::to_string(spec.vocab) + ")");
      }
      const int64_t pos = s.start_pos + static_cast<int64_t>(j);
      written.push_back(static_cast<int64_t>(s.block_table[pos / bt]) * bt + pos % bt);
    }
    n_tokens += static_cast<int64_t>(s.tokens.size());
    n_rows += s.want_logits ? 1 : 0;
    n_table += needed;
  }
  std::sort(written.begin(), written.end());
  if (std::adjacent_find(written.begin(), written.end()) != written.end()) {
    return Status(ErrorKind::kInvalidRequest, "step batch: two new tokens write the same KV block slot");
  }
  const int n_pad = n_seqs - n_real;
  n_tokens += n_pad;
  n_rows += n_pad;
  n_table += n_pad;
  if (n_tokens > limits.max_tokens) {
    return Status(ErrorKind::kInvalidRequest, "step batch: " + std::to_string(n_tokens) +
                                                  " new tokens, the CUDA runner takes at most " +
                                                  std::to_string(limits.max_tokens) + " per step (max_batch_tokens)");
  }
  if (n_table > limits.max_table) {
    return Status(ErrorKind::kInvalidRequest, "step batch: block tables total " + std::to_string(n_table) +
                                                  " entries, more than the runner's capacity " +
                                                  std::to_string(limits.max_table));
  }

  const int group = spec.n_heads / spec.n_kv_heads;
  int max_rows_per_seq = 0;
  for (const SequenceStep& s : batch.seqs) {
    max_rows_per_seq = std::max(max_rows_per_seq, static_cast<int>(s.tokens.size()) * group);
  }
  if (n_pad > 0) max_rows_per_seq = std::max(max_rows_per_seq, group);
  key_split_ = max_rows_per_seq <= 16;
  auto count_tiles = [&](int tile_rows) {
    int64_t n = 0;
    for (int i = 0; i < n_seqs; ++i) {
      const int n_q = i < n_real ? static_cast<int>(batch.seqs[i].tokens.size()) : 1;
      n += static_cast<int64_t>(spec.n_kv_heads) * ((n_q * group + tile_rows - 1) / tile_rows);
    }
    return n;
  };
  prefill_tiling_ = choose_prefill_tiling(count_tiles(256), limits.sms);
  const int tile_rows = key_split_ ? 16 : prefill_tile_rows(prefill_tiling_);
  const int64_t n_tiles = count_tiles(tile_rows);

  StepLayout& L = layout_;
  L.n_tokens = static_cast<int>(n_tokens);
  L.n_rows = static_cast<int>(n_rows);
  L.n_seqs = n_seqs;
  L.n_tiles = static_cast<int>(n_tiles);
  L.ids = 0;
  L.positions = L.ids + align4(n_tokens);
  L.slots = L.positions + align4(n_tokens);
  L.logit_rows = L.slots + align4(n_tokens);
  L.seqs = L.logit_rows + align4(n_rows);
  L.tiles = L.seqs + align4(4 * static_cast<int64_t>(n_seqs));
  L.tables = L.tiles + align4(4 * n_tiles);
  packed_.assign(static_cast<size_t>(L.tables + n_table), 0);
  int32_t* ids = packed_.data() + L.ids;
  int32_t* positions = packed_.data() + L.positions;
  int32_t* slots = packed_.data() + L.slots;
  int32_t* rows = packed_.data() + L.logit_rows;
  AttnSeq* seqs = reinterpret_cast<AttnSeq*>(packed_.data() + L.seqs);
  AttnTile* tiles = reinterpret_cast<AttnTile*>(packed_.data() + L.tiles);
  int32_t* tables = packed_.data() + L.tables;

  int t = 0, r = 0, tile = 0;
  int64_t table_at = 0;
  int max_chunks = 1;
  for (int i = 0; i < n_seqs; ++i) {
    const bool real = i < n_real;
    const int n_q = real ? static_cast<int>(batch.seqs[i].tokens.size()) : 1;
    const int start = real ? batch.seqs[i].start_pos : 0;
    const int64_t end = static_cast<int64_t>(start) + n_q;
    const int64_t needed = (end + bt - 1) / bt;
    AttnSeq& as = seqs[i];
    as.q_start = t;
    as.n_q = n_q;
    as.start_pos = start;
    as.table_offset = static_cast<int32_t>(table_at);
    for (int64_t b = 0; b < needed; ++b) {
      tables[table_at + b] = real ? batch.seqs[i].block_table[b] : limits.scratch_block;
    }
    for (int j = 0; j < n_q; ++j, ++t) {
      const int pos = start + j;
      ids[t] = real ? batch.seqs[i].tokens[j] : 0;
      positions[t] = pos;
      slots[t] = tables[table_at + pos / bt] * bt + pos % bt;
    }
    if (!real || batch.seqs[i].want_logits) rows[r++] = t - 1;
    table_at += needed;
    max_chunks =
        std::max(max_chunks, static_cast<int>((end + PagedAttentionParams::kChunk - 1) / PagedAttentionParams::kChunk));
    // Tiles of this sequence, the longest (last rows) first.
    const int seq_rows = n_q * group;
    const int n_row_tiles = (seq_rows + tile_rows - 1) / tile_rows;
    for (int rt = n_row_tiles - 1; rt >= 0; --rt) {
      for (int h = 0; h < spec.n_kv_heads; ++h) {
        tiles[tile++] = AttnTile{i, h, rt * tile_rows, 0};
      }
    }
  }
  n_real_rows_ = static_cast<int>(n_rows) - n_pad;
  pure_decode_ = is_pure_decode(batch);

  // Split-KV: enough CTAs for two waves, within the workspace.
  int splits = static_cast<int>(std::min<int64_t>(PagedAttentionParams::kMaxSplits,
                                                  (2 * limits.sms + n_tiles - 1) / std::max<int64_t>(1, n_tiles)));
  // Short contexts: no split (saves the combine pass). Graph steps otherwise
  // keep a split count that does not follow the context, so one graph serves
  // a growing context; the runner keys graphs by (batch bucket, splits).
  const int no_split = key_split_ && n_tiles < limits.sms ? limits.decode_no_split_chunks : limits.no_split_chunks;
  if (!graph_splits || max_chunks <= no_split) splits = std::min(splits, max_chunks);
  if (max_chunks <= no_split) splits = 1;
  const int64_t rows_per_split = n_tokens * spec.n_heads;
  splits = static_cast<int>(std::min<int64_t>(splits, limits.ws_rows / std::max<int64_t>(1, rows_per_split)));
  splits_ = std::max(1, splits);
  return {};
}

}  // namespace tandem::engine::cuda

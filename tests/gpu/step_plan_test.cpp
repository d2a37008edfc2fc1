// Host-side tests of the CUDA backend that need no GPU: the per-step plan
// (validation, packing, attention tiles, split choice) and make_cuda_runner's
// option checks. Built wherever the CUDA backend is (CI compiles it).
#include "engine/cuda/step_plan.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/cuda/cuda_runner.h"

namespace tandem::engine::cuda {
namespace {

ModelSpec tiny_spec() {
  ModelSpec s;
  s.n_layers = 2;
  s.hidden = 128;
  s.n_heads = 4;
  s.n_kv_heads = 2;
  s.head_dim = 64;
  s.intermediate = 256;
  s.vocab = 100;
  s.max_position = 4096;
  return s;
}

StepPlanLimits limits() {
  StepPlanLimits l;
  l.max_tokens = 512;
  l.max_seqs = 8;
  l.max_table = 1024;
  l.num_blocks = 64;
  l.scratch_block = 64;
  l.block_tokens = 16;
  l.sms = 132;
  l.ws_rows = 1 << 16;
  return l;
}

struct Seq {
  std::vector<int32_t> tokens;
  std::vector<int32_t> table;
  int32_t start = 0;
  bool want = true;
};

StepBatch batch_of(const std::vector<Seq>& seqs) {
  StepBatch b;
  for (const Seq& s : seqs) b.seqs.push_back({s.tokens, s.start, s.table, s.want});
  return b;
}

TEST(StepPlanTest, DecodeBatchPacksTokensSlotsRowsAndTables) {
  const std::vector<Seq> seqs = {{{5}, {3, 9}, 20}, {{7}, {11}, 0}, {{8}, {1, 2, 4}, 40}};
  StepPlan plan;
  ASSERT_TRUE(plan.build(batch_of(seqs), tiny_spec(), limits(), 0, false).ok());
  const StepLayout& L = plan.layout();
  const auto& w = plan.packed();
  EXPECT_EQ(L.n_tokens, 3);
  EXPECT_EQ(L.n_rows, 3);
  EXPECT_EQ(L.n_seqs, 3);
  EXPECT_TRUE(plan.attention_key_split());  // 1 token x group 2 <= 16 rows
  EXPECT_EQ(L.n_tiles, 3 * 2);              // one tile per (sequence, kv head)
  EXPECT_EQ(w[L.ids + 0], 5);
  EXPECT_EQ(w[L.ids + 2], 8);
  EXPECT_EQ(w[L.positions + 0], 20);
  EXPECT_EQ(w[L.positions + 2], 40);
  EXPECT_EQ(w[L.slots + 0], 9 * 16 + 4);  // position 20 -> table[1], slot 4
  EXPECT_EQ(w[L.slots + 1], 11 * 16 + 0);
  EXPECT_EQ(w[L.slots + 2], 4 * 16 + 8);  // position 40 -> table[2], slot 8
  for (int r = 0; r < 3; ++r) EXPECT_EQ(w[L.logit_rows + r], r);
  const AttnSeq* as = reinterpret_cast<const AttnSeq*>(w.data() + L.seqs);
  EXPECT_EQ(as[2].q_start, 2);
  EXPECT_EQ(as[2].start_pos, 40);
  EXPECT_EQ(as[2].table_offset, 2 + 1);  // tables of 2 and 1 blocks before it
  EXPECT_EQ(w[L.tables + as[2].table_offset + 2], 4);
  EXPECT_EQ(plan.n_real_rows(), 3);
}

TEST(StepPlanTest, GraphPaddingWritesOnlyTheScratchBlockAndKeepsTheLayout) {
  const std::vector<Seq> a = {{{5}, {3, 9}, 20}, {{7}, {11}, 0}, {{8}, {1, 2, 4}, 40}};
  const std::vector<Seq> b = {{{1}, {3, 9, 10}, 33}, {{2}, {11, 12}, 17}, {{3}, {1, 2, 4}, 41}};
  StepPlan pa, pb;
  ASSERT_TRUE(pa.build(batch_of(a), tiny_spec(), limits(), 4, true).ok());
  ASSERT_TRUE(pb.build(batch_of(b), tiny_spec(), limits(), 4, true).ok());
  EXPECT_EQ(pa.layout().n_seqs, 4);
  EXPECT_EQ(pa.n_real_rows(), 3);
  EXPECT_EQ(pa.layout().n_rows, 4);
  EXPECT_EQ(pa.packed()[pa.layout().slots + 3], 64 * 16);  // padding: scratch block, slot 0
  // Offsets depend only on the counts: a graph captured for one step serves the next.
  StepLayout la = pa.layout(), lb = pb.layout();
  EXPECT_EQ(la, lb);
}

TEST(StepPlanTest, PrefillUsesWideTilesLongestFirst) {
  Seq s;
  s.tokens.assign(40, 1);
  s.table = {0, 1, 2};
  ModelSpec spec = tiny_spec();
  spec.n_heads = 8;  // group 4: 160 query rows per kv head
  StepPlan plan;
  ASSERT_TRUE(plan.build(batch_of({s}), spec, limits(), 0, false).ok());
  EXPECT_FALSE(plan.attention_key_split());
  EXPECT_EQ(plan.prefill_tiling(), PrefillTiling::kWarps4Rows32);
  EXPECT_EQ(prefill_tile_rows(plan.prefill_tiling()), 128);
  EXPECT_EQ(plan.layout().n_tiles, 2 * 2);  // ceil(160 / 128) tiles x 2 kv heads
  const AttnTile* t = reinterpret_cast<const AttnTile*>(plan.packed().data() + plan.layout().tiles);
  for (int i = 0; i < 2; ++i) {  // the longer (later) row tile first, one per kv head
    EXPECT_EQ(t[i].row_begin, 128);
    EXPECT_EQ(t[i].kv_head, i);
    EXPECT_EQ(t[2 + i].row_begin, 0);
    EXPECT_EQ(t[2 + i].kv_head, i);
  }
  EXPECT_EQ(plan.n_splits(), 1);  // 40 positions: one chunk, nothing to split
}

TEST(StepPlanTest, LongPrefillUses256RowTilesWhenTheyFillTwoWaves) {
  Seq s;
  s.tokens.assign(500, 1);  // group 4: 2000 query rows per kv head
  for (int i = 0; i < 32; ++i) s.table.push_back(i);
  ModelSpec spec = tiny_spec();
  spec.n_heads = 8;
  StepPlanLimits l = limits();
  l.sms = 4;  // ceil(2000 / 256) x 2 kv heads = 16 tiles >= 2 waves of 4
  StepPlan plan;
  ASSERT_TRUE(plan.build(batch_of({s}), spec, l, 0, false).ok());
  EXPECT_EQ(plan.prefill_tiling(), PrefillTiling::kWarps8Rows32);
  EXPECT_EQ(plan.layout().n_tiles, 8 * 2);
  const AttnTile* t = reinterpret_cast<const AttnTile*>(plan.packed().data() + plan.layout().tiles);
  EXPECT_EQ(t[0].row_begin, 7 * 256);
  EXPECT_EQ(t[15].row_begin, 0);
  l.sms = 9;  // 16 < 18: two waves of 256-row tiles would not be full
  ASSERT_TRUE(plan.build(batch_of({s}), spec, l, 0, false).ok());
  EXPECT_EQ(plan.prefill_tiling(), PrefillTiling::kWarps4Rows32);
  EXPECT_EQ(plan.layout().n_tiles, 16 * 2);  // ceil(2000 / 128) x 2
}

TEST(StepPlanTest, SplitsKvForFewTilesAndLongContext) {
  Seq s{{1}, {}, 1000};
  for (int i = 0; i < 63; ++i) s.table.push_back(i);
  StepPlan plan;
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), limits(), 0, false).ok());
  EXPECT_GT(plan.n_splits(), 1);
  EXPECT_LE(plan.n_splits(), (1001 + 63) / 64);  // never more splits than chunks outside graphs
}

TEST(StepPlanTest, ShortContextsRunUnsplitUpToTheNoSplitBound) {
  // 129 positions = 3 chunks of 64: unsplit under a bound of 4 chunks, split when the bound is lower, in graph
  // steps too (where the split count then stays fixed as the context grows). A decode plan with fewer tiles
  // than SMs uses decode_no_split_chunks, one with as many tiles as SMs no_split_chunks.
  Seq s{{1}, {0, 1, 2, 3, 4, 5, 6, 7, 8}, 128};
  StepPlan plan;
  StepPlanLimits l = limits();
  l.decode_no_split_chunks = 4;
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), l, 0, false).ok());
  EXPECT_EQ(plan.n_splits(), 1);
  l.decode_no_split_chunks = 2;
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), l, 0, false).ok());
  EXPECT_EQ(plan.n_splits(), 3);  // never more splits than chunks outside graphs
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), l, 1, true).ok());
  EXPECT_GT(plan.n_splits(), 3);  // graph steps: a count that does not follow the context
  l.decode_no_split_chunks = 3;
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), l, 1, true).ok());
  EXPECT_EQ(plan.n_splits(), 1);
  // 2 tiles (one per kv head) on 2 SMs: the prefill bound (4 by default) applies, whatever the decode bound.
  l.decode_no_split_chunks = 0;
  l.sms = 2;
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), l, 0, false).ok());
  EXPECT_EQ(plan.n_splits(), 1);
  l.no_split_chunks = 2;
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), l, 0, false).ok());
  EXPECT_EQ(plan.n_splits(), 2);  // two waves of 2 SMs over 2 tiles
}

TEST(StepPlanTest, DecodeWithFewTilesSplitsEveryChunkByDefault) {
  // The default decode bound is 0: a 2-chunk context on 2 tiles takes one CTA per chunk; a prefill plan of the
  // same context (no key split) stays unsplit under no_split_chunks.
  Seq s{{1}, {0, 1, 2, 3, 4, 5, 6, 7, 8}, 100};
  StepPlan plan;
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), limits(), 0, false).ok());
  ASSERT_TRUE(plan.attention_key_split());
  EXPECT_EQ(plan.n_splits(), 2);
  ASSERT_TRUE(plan.build(batch_of({s}), tiny_spec(), limits(), 1, true).ok());
  EXPECT_GT(plan.n_splits(), 2);  // graph step: the count for two waves, whatever the context
  Seq p;
  p.tokens.assign(100, 1);
  p.table = {0, 1, 2, 3, 4, 5, 6};
  ModelSpec spec = tiny_spec();
  spec.n_heads = 8;  // group 4: 400 query rows, no key split
  ASSERT_TRUE(plan.build(batch_of({p}), spec, limits(), 0, false).ok());
  ASSERT_FALSE(plan.attention_key_split());
  EXPECT_EQ(plan.n_splits(), 1);
}

TEST(StepPlanTest, SplitDecodeTilesNeverOutnumberTheWorkspaceRows) {
  // The runner sizes the decode attention's per-tile arrival counters by ws_rows: a split step must have
  // n_tiles <= ws_rows (splits are capped by ws_rows / (tokens x heads) and tiles <= tokens x kv heads).
  std::vector<Seq> seqs;
  for (int i = 0; i < 8; ++i) {
    Seq s{{1}, {}, 900};
    for (int b = 0; b < 57; ++b) s.table.push_back(b % 64);
    s.table[900 / 16] = i;  // distinct slots for the new tokens
    seqs.push_back(s);
  }
  for (int64_t ws : {int64_t{8}, int64_t{40}, int64_t{64}, int64_t{1} << 16}) {
    StepPlanLimits l = limits();
    l.ws_rows = ws;
    StepPlan plan;
    ASSERT_TRUE(plan.build(batch_of(seqs), tiny_spec(), l, 0, true).ok());
    ASSERT_TRUE(plan.attention_key_split());
    if (plan.n_splits() > 1) {
      EXPECT_LE(plan.layout().n_tiles, ws);
      EXPECT_LE(int64_t{plan.n_splits()} * plan.layout().n_tokens * tiny_spec().n_heads, ws);
    }
  }
}

void expect_invalid(const std::vector<Seq>& seqs, const std::string& needle, StepPlanLimits l = limits()) {
  StepPlan plan;
  const Status s = plan.build(batch_of(seqs), tiny_spec(), l, 0, false);
  ASSERT_FALSE(s.ok()) << needle;
  EXPECT_EQ(s.kind(), ErrorKind::kInvalidRequest);
  EXPECT_NE(s.message().find(needle), std::string::npos) << s.message();
}

TEST(StepPlanTest, RejectsMalformedBatchesNamingTheProblem) {
  expect_invalid({{{}, {0}, 0}}, "no tokens");
  expect_invalid({{{100}, {0}, 0}}, "token 100 is out of range");
  expect_invalid({{{1}, {0}, -1}}, "negative");
  expect_invalid({{{1, 2}, {0}, 15}}, "block_table has 1 blocks");
  expect_invalid({{{1}, {64}, 0}}, "out of range [0, 64)");
  expect_invalid({{{1}, {0}, 4096}}, "maximum position");
  expect_invalid({{{1}, {5}, 3}, {{2}, {5}, 3}}, "same KV block slot");
  std::vector<Seq> many(9, Seq{{1}, {0}, 0});
  for (int i = 0; i < 9; ++i) many[i].table = {i};
  expect_invalid(many, "at most 8 per step");
  Seq big;
  big.tokens.assign(513, 1);
  for (int i = 0; i < 33; ++i) big.table.push_back(i);
  expect_invalid({big}, "at most 512 per step");
}

TEST(DecodeAttentionPdlTest, AutoByLayerWeightsOnAndOffForced) {
  ModelSpec qwen3_0_6b = tiny_spec();  // 31 MiB of bf16 weights per layer
  qwen3_0_6b.hidden = 1024;
  qwen3_0_6b.n_heads = 16;
  qwen3_0_6b.n_kv_heads = 8;
  qwen3_0_6b.head_dim = 128;
  qwen3_0_6b.intermediate = 3072;
  ModelSpec llama_8b = qwen3_0_6b;  // 416 MiB
  llama_8b.hidden = 4096;
  llama_8b.n_heads = 32;
  llama_8b.intermediate = 14336;
  EXPECT_TRUE(decode_attention_pdl(qwen3_0_6b, Toggle::kAuto));
  EXPECT_FALSE(decode_attention_pdl(llama_8b, Toggle::kAuto));
  EXPECT_TRUE(decode_attention_pdl(llama_8b, Toggle::kOn));
  EXPECT_FALSE(decode_attention_pdl(qwen3_0_6b, Toggle::kOff));
  // A layer of exactly the bound is not under it: 2 bytes x hidden 1024 x (qkv 2 + q 2 + 3 x 21844) = 128 MiB.
  ModelSpec at_bound = tiny_spec();
  at_bound.hidden = 1024;
  at_bound.n_heads = 1;
  at_bound.n_kv_heads = 0;
  at_bound.head_dim = 2;
  at_bound.intermediate = 21844;
  EXPECT_FALSE(decode_attention_pdl(at_bound, Toggle::kAuto));
  at_bound.intermediate -= 1;
  EXPECT_TRUE(decode_attention_pdl(at_bound, Toggle::kAuto));
}

TEST(CudaRunnerTest, RejectsBadOptionsBeforeTouchingTheDevice) {
  CudaRunnerOptions o;
  o.block_tokens = 0;
  auto r = make_cuda_runner(tiny_spec(), ModelWeights{}, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(r.status().param(), "block_tokens");
  o = CudaRunnerOptions{};
  o.gpu_memory_fraction = 1.5;
  EXPECT_EQ(make_cuda_runner(tiny_spec(), ModelWeights{}, o).status().param(), "gpu_memory_fraction");
  ModelSpec odd = tiny_spec();
  odd.head_dim = 96;
  EXPECT_EQ(make_cuda_runner(odd, ModelWeights{}, CudaRunnerOptions{}).status().kind(), ErrorKind::kUnsupported);
}

TEST(CudaRunnerTest, NoDeviceIsAnErrorNotACrash) {
  int count = 0;
  if (cudaGetDeviceCount(&count) == cudaSuccess && count > 0) {
    GTEST_SKIP() << "a CUDA device is present; this case covers machines without one";
  }
  auto r = make_cuda_runner(tiny_spec(), ModelWeights{}, CudaRunnerOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kDevice);
  EXPECT_NE(r.status().message().find("no CUDA device"), std::string::npos) << r.status().message();
}

TEST(CudaRunnerTest, WeightsThatDoNotMatchTheSpecAreNamed) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) GTEST_SKIP() << "no CUDA device";
  ModelWeights w;
  w.layers.resize(2);
  auto r = make_cuda_runner(tiny_spec(), std::move(w), CudaRunnerOptions{});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().kind(), ErrorKind::kMalformedFile);
  EXPECT_NE(r.status().message().find("layers.0.wq"), std::string::npos) << r.status().message();
}

}  // namespace
}  // namespace tandem::engine::cuda

#include "kv/kv_index.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "kv/block_pool.h"

namespace tandem::kv {
namespace {

KvEvent stored(BlockHash h, uint64_t seq) {
  KvEvent e;
  e.kind = KvEventKind::kStored;
  e.block_hash = h;
  e.seq_no = seq;
  return e;
}

KvEvent evicted(BlockHash h, uint64_t seq) {
  KvEvent e = stored(h, seq);
  e.kind = KvEventKind::kEvicted;
  return e;
}

std::vector<uint32_t> overlaps(const KvIndex& index, const std::vector<BlockHash>& prompt, size_t n) {
  std::vector<uint32_t> out(n, 999);
  index.overlaps(prompt, out);
  return out;
}

TEST(KvIndex, StoredAndEvictedEventsUpdateTheWorkersBlocks) {
  KvIndex index;
  EXPECT_EQ(index.apply(0, stored(10, 0)), KvIndexUpdate::kApplied);
  EXPECT_EQ(index.apply(0, stored(11, 1)), KvIndexUpdate::kApplied);
  EXPECT_EQ(index.apply(2, stored(10, 0)), KvIndexUpdate::kApplied);
  EXPECT_EQ(index.num_blocks(0), 2u);
  EXPECT_EQ(index.num_blocks(1), 0u);
  EXPECT_EQ(index.num_blocks(2), 1u);
  EXPECT_EQ(index.num_hashes(), 2u);
  EXPECT_TRUE(index.holds(0, 11));
  EXPECT_FALSE(index.holds(2, 11));

  EXPECT_EQ(index.apply(0, evicted(10, 2)), KvIndexUpdate::kApplied);
  EXPECT_FALSE(index.holds(0, 10));
  EXPECT_TRUE(index.holds(2, 10));  // another worker's copy stays
  EXPECT_EQ(index.num_blocks(0), 1u);
  EXPECT_EQ(index.apply(2, evicted(10, 1)), KvIndexUpdate::kApplied);
  EXPECT_EQ(index.num_hashes(), 1u);  // hash 10 is gone entirely
  EXPECT_EQ(index.seq_no_gaps(), 0u);

  // An eviction of something never stored changes nothing and says so.
  EXPECT_EQ(index.apply(1, evicted(10, 0)), KvIndexUpdate::kUnknownEviction);
  EXPECT_EQ(index.num_blocks(1), 0u);
  EXPECT_EQ(index.apply(KvIndex::kMaxWorkers, stored(1, 0)), KvIndexUpdate::kWorkerOutOfRange);
}

TEST(KvIndex, DuplicateStoresNeedAsManyEvictions) {
  KvIndex index;
  index.apply(0, stored(5, 0));
  index.apply(0, stored(5, 1));  // e.g. the same block in a second tier
  EXPECT_EQ(index.num_blocks(0), 1u);
  index.apply(0, evicted(5, 2));
  EXPECT_TRUE(index.holds(0, 5));
  index.apply(0, evicted(5, 3));
  EXPECT_FALSE(index.holds(0, 5));
  EXPECT_EQ(index.num_blocks(0), 0u);
}

TEST(KvIndex, CountsSeqNoGaps) {
  KvIndex index;
  index.apply(0, stored(1, 5));  // the first event may start anywhere
  index.apply(0, stored(2, 6));
  EXPECT_EQ(index.seq_no_gaps(), 0u);
  index.apply(0, stored(3, 9));
  EXPECT_EQ(index.seq_no_gaps(), 1u);
}

TEST(KvIndex, RemoveWorkerForgetsOnlyThatWorker) {
  KvIndex index;
  for (BlockHash h = 1; h <= 4; ++h) {
    index.apply(0, stored(h, h - 1));
    index.apply(1, stored(h, h - 1));
  }
  index.apply(1, stored(4, 4));  // a duplicate reference, dropped too
  index.remove_worker(1);
  EXPECT_EQ(index.num_blocks(1), 0u);
  EXPECT_EQ(index.num_blocks(0), 4u);
  for (BlockHash h = 1; h <= 4; ++h) {
    EXPECT_FALSE(index.holds(1, h));
    EXPECT_TRUE(index.holds(0, h));
  }
  // The removed worker starts afresh (any seq_no) and one store means one block.
  index.apply(1, stored(4, 0));
  EXPECT_EQ(index.num_blocks(1), 1u);
  index.apply(1, evicted(4, 1));
  EXPECT_FALSE(index.holds(1, 4));
  EXPECT_EQ(index.seq_no_gaps(), 0u);
}

TEST(KvIndex, OverlapCountsLeadingBlocksOnly) {
  KvIndex index;
  // Worker 0 holds blocks a b c, worker 1 holds a and c (not b), worker 2 nothing,
  // worker 3 holds b c only.
  const BlockHash a = 100, b = 200, c = 300, d = 400;
  index.apply(0, stored(a, 0));
  index.apply(0, stored(b, 1));
  index.apply(0, stored(c, 2));
  index.apply(1, stored(a, 0));
  index.apply(1, stored(c, 1));
  index.apply(3, stored(b, 0));
  index.apply(3, stored(c, 1));
  EXPECT_EQ(overlaps(index, {a, b, c, d}, 4), (std::vector<uint32_t>{3, 1, 0, 0}));
  EXPECT_EQ(overlaps(index, {a, b}, 4), (std::vector<uint32_t>{2, 1, 0, 0}));
  EXPECT_EQ(overlaps(index, {}, 4), (std::vector<uint32_t>{0, 0, 0, 0}));
  EXPECT_EQ(overlaps(index, {d, a}, 2), (std::vector<uint32_t>{0, 0}));
  // Only the first out.size() workers are reported.
  EXPECT_EQ(overlaps(index, {a, b, c}, 1), (std::vector<uint32_t>{3}));
}

// Against a brute force over random events on 8 workers.
TEST(KvIndex, OverlapMatchesBruteForce) {
  KvIndex index;
  constexpr size_t kWorkers = 8;
  std::vector<std::vector<bool>> held(kWorkers, std::vector<bool>(16));
  std::vector<uint64_t> seq(kWorkers);
  std::mt19937 rng(7);
  for (int step = 0; step < 2000; ++step) {
    const size_t w = rng() % kWorkers;
    const size_t h = rng() % 16;
    if (held[w][h]) {
      index.apply(w, evicted(h + 1, seq[w]++));
    } else {
      index.apply(w, stored(h + 1, seq[w]++));
    }
    held[w][h] = !held[w][h];
    std::vector<BlockHash> prompt;
    for (int i = 0; i < 6; ++i) prompt.push_back((rng() % 4 == 0 ? rng() % 16 : i) + 1);
    std::vector<uint32_t> got = overlaps(index, prompt, kWorkers);
    for (size_t v = 0; v < kWorkers; ++v) {
      uint32_t want = 0;
      while (want < prompt.size() && held[v][prompt[want] - 1]) ++want;
      ASSERT_EQ(got[v], want) << "worker " << v << " step " << step;
    }
  }
  EXPECT_EQ(index.seq_no_gaps(), 0u);
}

// The index fed by a real BlockPool's events agrees with the pool's own
// prefix match for prompts hashed with block_hashes() and the same root.
TEST(KvIndex, FedByBlockPoolAgreesWithMatchPrefix) {
  KvIndex index;
  constexpr int kBt = 4;
  BlockPool pool({"w0", 6, kBt, true},
                 [&](const KvEvent& e) { ASSERT_EQ(index.apply(0, e), KvIndexUpdate::kApplied); });
  const BlockHash root = root_hash(42, "tenant");
  std::mt19937 rng(3);
  std::vector<std::vector<int32_t>> prompts;
  for (int i = 0; i < 40; ++i) {
    // Prompts share leading blocks often (few distinct tokens at the start).
    std::vector<int32_t> t;
    const int n = 1 + static_cast<int>(rng() % 20);
    for (int j = 0; j < n; ++j) t.push_back(static_cast<int32_t>(j < 8 ? rng() % 2 : rng() % 50));
    prompts.push_back(t);
    // Hold the prompt's full blocks (store them) and release them, which may
    // evict older ones.
    const int full = n / kBt;
    if (full == 0) continue;
    auto plan = pool.plan();
    ASSERT_EQ(plan.add({{}, full}), 0);
    std::vector<BlockId> table = pool.commit(std::move(plan))[0];
    BlockHash parent = root;
    for (int b = 0; b < full; ++b) {
      parent = pool.store(table[static_cast<size_t>(b)], parent,
                          std::span<const int32_t>(t).subspan(static_cast<size_t>(b * kBt), kBt));
    }
    pool.release(table);
    for (const auto& p : prompts) {
      const int max_blocks = static_cast<int>(p.size()) / kBt;
      const PrefixMatch m = pool.match_prefix(root, p, max_blocks);
      std::vector<uint32_t> out(1);
      index.overlaps(block_hashes(root, p, kBt, max_blocks), out);
      ASSERT_EQ(out[0], m.blocks.size());
    }
  }
  EXPECT_EQ(index.num_blocks(0), static_cast<size_t>(pool.num_cached()));
  // Another tenant's salt shares nothing, even for prompts cached under root.
  int cached_prompts = 0;
  for (const auto& p : prompts) {
    const int max_blocks = static_cast<int>(p.size()) / kBt;
    if (pool.match_prefix(root, p, max_blocks).blocks.empty()) continue;
    ++cached_prompts;
    std::vector<uint32_t> out(1);
    index.overlaps(block_hashes(root_hash(42, "other"), p, kBt, max_blocks), out);
    EXPECT_EQ(out[0], 0u);
  }
  EXPECT_GT(cached_prompts, 0);
}

}  // namespace
}  // namespace tandem::kv

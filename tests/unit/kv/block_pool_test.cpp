#include "kv/block_pool.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <vector>

namespace tandem::kv {
namespace {

std::vector<int32_t> iota_tokens(int n, int32_t start) {
  std::vector<int32_t> t;
  for (int i = 0; i < n; ++i) t.push_back(start + i);
  return t;
}

struct Fixture {
  explicit Fixture(int blocks, int bt = 4, bool caching = true)
      : pool({"w0", blocks, bt, caching}, [this](const KvEvent& e) { events.push_back(e); }) {}
  std::vector<BlockId> alloc(int n) {
    auto plan = pool.plan();
    EXPECT_EQ(plan.add({{}, n}), 0);
    return pool.commit(std::move(plan))[0];
  }
  // Stores every block of `table` as a full block of `tokens` under `root`.
  std::vector<BlockHash> store_all(const std::vector<BlockId>& table, const std::vector<int32_t>& tokens,
                                   BlockHash root) {
    std::vector<BlockHash> hs;
    BlockHash parent = root;
    const int bt = pool.block_tokens();
    for (size_t i = 0; i < table.size(); ++i) {
      parent = pool.store(table[i], parent, std::span<const int32_t>(tokens).subspan(i * bt, bt));
      hs.push_back(parent);
    }
    return hs;
  }
  std::vector<KvEvent> events;
  BlockPool pool;
};

TEST(BlockPool, AllocateAndFree) {
  Fixture f(8);
  EXPECT_EQ(f.pool.num_available(), 8);
  auto ids = f.alloc(3);
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids, (std::vector<BlockId>{0, 1, 2}));
  EXPECT_EQ(f.pool.num_held(), 3);
  EXPECT_EQ(f.pool.num_available(), 5);
  for (BlockId id : ids) {
    EXPECT_EQ(f.pool.state(id), BlockState::kHeld);
    EXPECT_EQ(f.pool.ref_count(id), 1);
  }
  f.pool.release(ids);
  EXPECT_EQ(f.pool.num_available(), 8);
  EXPECT_EQ(f.pool.num_held(), 0);
  for (BlockId id : ids) EXPECT_EQ(f.pool.state(id), BlockState::kFree);
  f.pool.check_invariants();
  EXPECT_TRUE(f.events.empty());  // nothing was stored
}

TEST(BlockPool, ReferenceCountsOfSharedBlocks) {
  Fixture f(4);
  auto ids = f.alloc(2);
  auto plan = f.pool.plan();
  ASSERT_EQ(plan.add({ids, 1}), 0);
  EXPECT_EQ(plan.cost(), 1);  // held blocks cost nothing to share
  auto fresh = f.pool.commit(std::move(plan));
  EXPECT_EQ(fresh[0].size(), 1u);
  EXPECT_EQ(f.pool.ref_count(ids[0]), 2);
  f.pool.release(ids);
  EXPECT_EQ(f.pool.ref_count(ids[0]), 1);
  EXPECT_EQ(f.pool.state(ids[0]), BlockState::kHeld);
  f.pool.release(ids);
  EXPECT_EQ(f.pool.state(ids[0]), BlockState::kFree);
  f.pool.release(fresh[0]);
  EXPECT_EQ(f.pool.num_available(), 4);
  f.pool.check_invariants();
}

TEST(BlockPool, PlanIsAllOrNothing) {
  Fixture f(6);
  auto held = f.alloc(2);
  auto plan = f.pool.plan();
  EXPECT_EQ(plan.add({{}, 3}), 0);
  EXPECT_EQ(plan.add({{}, 2}), -1);  // 3 + 2 > 4 available: refused, plan unchanged
  EXPECT_EQ(plan.cost(), 3);
  EXPECT_EQ(plan.size(), 1u);
  EXPECT_EQ(plan.add({{}, 1}), 1);
  EXPECT_EQ(plan.add({{}, 1}), -1);
  // Nothing changed before commit.
  EXPECT_EQ(f.pool.num_available(), 4);
  auto fresh = f.pool.commit(std::move(plan));
  ASSERT_EQ(fresh.size(), 2u);
  EXPECT_EQ(fresh[0].size(), 3u);
  EXPECT_EQ(fresh[1].size(), 1u);
  EXPECT_EQ(f.pool.num_available(), 0);
  // A plan that cannot fit changes nothing at all.
  auto plan2 = f.pool.plan();
  EXPECT_EQ(plan2.add({{held[0]}, 1}), -1);
  auto none = f.pool.commit(std::move(plan2));
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(f.pool.ref_count(held[0]), 1);
  f.pool.check_invariants();
}

TEST(BlockPool, StoreRegistersAndEmitsChainedEvents) {
  Fixture f(8, 4);
  const BlockHash root = root_hash(1, "");
  const auto tokens = iota_tokens(10, 50);  // 2 full blocks + 2 tokens
  auto ids = f.alloc(3);
  BlockHash h0 = f.pool.store(ids[0], root, std::span<const int32_t>(tokens).subspan(0, 4));
  BlockHash h1 = f.pool.store(ids[1], h0, std::span<const int32_t>(tokens).subspan(4, 4));
  EXPECT_EQ(h0, chain_hash(root, std::span<const int32_t>(tokens).subspan(0, 4)));
  EXPECT_EQ(h1, chain_hash(h0, std::span<const int32_t>(tokens).subspan(4, 4)));
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[0].kind, KvEventKind::kStored);
  EXPECT_EQ(f.events[0].worker, "w0");
  EXPECT_EQ(f.events[0].seq_no, 0u);
  EXPECT_EQ(f.events[0].block_hash, h0);
  EXPECT_EQ(f.events[0].parent_hash, root);
  EXPECT_EQ(f.events[0].tokens, (std::vector<int32_t>{50, 51, 52, 53}));
  EXPECT_EQ(f.events[1].seq_no, 1u);
  EXPECT_EQ(f.events[1].parent_hash, h0);
  EXPECT_EQ(f.events[1].block_hash, h1);
  EXPECT_EQ(f.pool.num_cached(), 2);

  // The prefix is found, at most the requested number of blocks.
  auto m = f.pool.match_prefix(root, tokens, 100);
  EXPECT_EQ(m.blocks, (std::vector<BlockId>{ids[0], ids[1]}));
  EXPECT_EQ(m.hashes, (std::vector<BlockHash>{h0, h1}));
  EXPECT_EQ(f.pool.match_prefix(root, tokens, 1).blocks.size(), 1u);
  // Other salt, other first token, or other second block: shorter or no match.
  EXPECT_TRUE(f.pool.match_prefix(root_hash(1, "tenant"), tokens, 100).blocks.empty());
  auto t2 = tokens;
  t2[5] = 0;
  EXPECT_EQ(f.pool.match_prefix(root, t2, 100).blocks.size(), 1u);
  t2[0] = 0;
  EXPECT_TRUE(f.pool.match_prefix(root, t2, 100).blocks.empty());

  // Release: registered blocks become cached, the partial one free.
  f.pool.release(ids);
  EXPECT_EQ(f.pool.state(ids[0]), BlockState::kCached);
  EXPECT_EQ(f.pool.state(ids[1]), BlockState::kCached);
  EXPECT_EQ(f.pool.state(ids[2]), BlockState::kFree);
  EXPECT_EQ(f.pool.num_available(), 8);
  // Still matchable while cached.
  EXPECT_EQ(f.pool.match_prefix(root, tokens, 100).blocks.size(), 2u);
  f.pool.check_invariants();
}

TEST(BlockPool, DuplicateContentStaysPrivate) {
  Fixture f(8, 4);
  const BlockHash root = root_hash(1, "");
  const auto tokens = iota_tokens(4, 7);
  auto a = f.alloc(1);
  auto b = f.alloc(1);
  const BlockHash ha = f.pool.store(a[0], root, tokens);
  const BlockHash hb = f.pool.store(b[0], root, tokens);
  EXPECT_EQ(ha, hb);
  EXPECT_EQ(f.events.size(), 1u);  // one block per hash
  EXPECT_EQ(f.pool.match_prefix(root, tokens, 1).blocks, a);
  f.pool.release(b);
  EXPECT_EQ(f.pool.state(b[0]), BlockState::kFree);
  f.pool.release(a);
  EXPECT_EQ(f.pool.state(a[0]), BlockState::kCached);
  f.pool.check_invariants();
}

TEST(BlockPool, LruEvictsOldestAndTailFirst) {
  Fixture f(4, 2);
  const BlockHash root = root_hash(9, "");
  // Sequence A fills blocks 0,1; sequence B fills blocks 2,3.
  const auto ta = iota_tokens(4, 0);
  const auto tb = iota_tokens(4, 100);
  auto a = f.alloc(2);
  auto b = f.alloc(2);
  auto ha = f.store_all(a, ta, root);
  auto hb = f.store_all(b, tb, root);
  f.pool.release(a);  // A first: A's tail, then A's head
  f.pool.release(b);
  EXPECT_EQ(f.pool.lru_order(), (std::vector<BlockId>{a[1], a[0], b[1], b[0]}));
  EXPECT_EQ(f.pool.num_free(), 0);
  f.events.clear();

  // A prefix hit moves block b[0] out of the LRU; it cannot be evicted.
  auto hit = f.pool.match_prefix(root, tb, 1);
  ASSERT_EQ(hit.blocks, (std::vector<BlockId>{b[0]}));
  auto plan = f.pool.plan();
  ASSERT_EQ(plan.add({hit.blocks, 2}), 0);
  EXPECT_EQ(plan.cost(), 3);
  auto fresh = f.pool.commit(std::move(plan))[0];
  // Evicted in LRU order: A's tail then A's head.
  EXPECT_EQ(fresh, (std::vector<BlockId>{a[1], a[0]}));
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_EQ(f.events[0].kind, KvEventKind::kEvicted);
  EXPECT_EQ(f.events[0].block_hash, ha[1]);
  EXPECT_EQ(f.events[0].parent_hash, ha[0]);
  EXPECT_EQ(f.events[0].tokens, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(f.events[1].block_hash, ha[0]);
  EXPECT_EQ(f.events[1].seq_no, f.events[0].seq_no + 1);
  EXPECT_EQ(f.pool.lru_order(), (std::vector<BlockId>{b[1]}));
  EXPECT_EQ(f.pool.ref_count(b[0]), 1);
  EXPECT_TRUE(f.pool.match_prefix(root, ta, 100).blocks.empty());
  EXPECT_EQ(f.pool.match_prefix(root, tb, 100).blocks.size(), 2u);
  f.pool.check_invariants();
}

TEST(BlockPool, FreeListIsUsedBeforeEviction) {
  Fixture f(3, 2);
  const BlockHash root = root_hash(0, "");
  auto a = f.alloc(1);
  f.store_all(a, iota_tokens(2, 0), root);
  f.pool.release(a);
  f.events.clear();
  auto b = f.alloc(2);
  EXPECT_EQ(f.pool.state(a[0]), BlockState::kCached);
  EXPECT_TRUE(f.events.empty());
  auto c = f.alloc(1);
  EXPECT_EQ(c, a);
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0].kind, KvEventKind::kEvicted);
  f.pool.check_invariants();
}

TEST(BlockPool, CachingOffRegistersNothing) {
  Fixture f(4, 2, /*caching=*/false);
  const BlockHash root = root_hash(0, "");
  const auto t = iota_tokens(4, 0);
  auto a = f.alloc(2);
  auto hs = f.store_all(a, t, root);
  EXPECT_EQ(hs[0], chain_hash(root, std::span<const int32_t>(t).subspan(0, 2)));  // hash still computed
  EXPECT_TRUE(f.events.empty());
  EXPECT_EQ(f.pool.num_cached(), 0);
  EXPECT_TRUE(f.pool.match_prefix(root, t, 100).blocks.empty());
  f.pool.release(a);
  EXPECT_EQ(f.pool.num_free(), 4);
  f.pool.check_invariants();
}

TEST(BlockPool, SharedCachedBlockCountsOnceInAPlan) {
  Fixture f(3, 2);
  const BlockHash root = root_hash(0, "");
  auto a = f.alloc(1);
  f.store_all(a, iota_tokens(2, 0), root);
  f.pool.release(a);
  auto plan = f.pool.plan();
  EXPECT_EQ(plan.add({a, 1}), 0);
  EXPECT_EQ(plan.add({a, 1}), 1);  // a is taken once: 1 + 1 + 1 = 3 blocks
  EXPECT_EQ(plan.cost(), 3);
  EXPECT_EQ(plan.add({{}, 1}), -1);
  f.pool.commit(std::move(plan));
  EXPECT_EQ(f.pool.ref_count(a[0]), 2);
  EXPECT_EQ(f.pool.num_available(), 0);
  f.pool.check_invariants();
}

TEST(BlockPool, BlocksFor) {
  Fixture f(2, 16);
  EXPECT_EQ(f.pool.blocks_for(0), 0);
  EXPECT_EQ(f.pool.blocks_for(1), 1);
  EXPECT_EQ(f.pool.blocks_for(16), 1);
  EXPECT_EQ(f.pool.blocks_for(17), 2);
}

// Random sequences of allocate / share / store / release against a simple
// model of reference counts; every step keeps the pool consistent and the
// available count equal to the blocks nobody references.
TEST(BlockPool, RandomOperationsKeepInvariants) {
  Fixture f(16, 2);
  std::mt19937 rng(1234);
  const BlockHash root = root_hash(5, "");
  struct Seq {
    std::vector<BlockId> table;
    std::vector<int32_t> tokens;
    size_t stored = 0;
    BlockHash parent = 0;
  };
  std::vector<Seq> seqs;
  std::map<BlockId, int> refs;
  uint64_t last_seq_no = 0;
  for (int step = 0; step < 3000; ++step) {
    const int op = static_cast<int>(rng() % 3);
    if (op == 0) {  // admit a sequence of 1..3 blocks over a small vocabulary, with prefix reuse
      Seq s;
      const int n = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < 2 * n; ++i) s.tokens.push_back(static_cast<int32_t>(rng() % 2));
      auto m = f.pool.match_prefix(root, s.tokens, n);
      auto plan = f.pool.plan();
      const int fresh = n - static_cast<int>(m.blocks.size());
      if (plan.add({m.blocks, fresh}) < 0) continue;
      auto ids = f.pool.commit(std::move(plan))[0];
      s.table = m.blocks;
      s.table.insert(s.table.end(), ids.begin(), ids.end());
      s.stored = m.blocks.size();
      s.parent = m.hashes.empty() ? root : m.hashes.back();
      for (BlockId id : s.table) ++refs[id];
      seqs.push_back(std::move(s));
    } else if (op == 1 && !seqs.empty()) {  // store one more full block
      Seq& s = seqs[rng() % seqs.size()];
      if (s.stored < s.table.size()) {
        s.parent =
            f.pool.store(s.table[s.stored], s.parent, std::span<const int32_t>(s.tokens).subspan(s.stored * 2, 2));
        ++s.stored;
      }
    } else if (op == 2 && !seqs.empty()) {  // finish a sequence
      const size_t i = rng() % seqs.size();
      f.pool.release(seqs[i].table);
      for (BlockId id : seqs[i].table) {
        if (--refs[id] == 0) refs.erase(id);
      }
      seqs.erase(seqs.begin() + static_cast<long>(i));
    }
    f.pool.check_invariants();
    ASSERT_EQ(f.pool.num_held(), static_cast<int>(refs.size()));
    for (auto [id, r] : refs) ASSERT_EQ(f.pool.ref_count(id), r);
    if (!f.events.empty()) {
      ASSERT_EQ(f.events.back().seq_no + 1, f.pool.events_emitted());
      last_seq_no = f.events.back().seq_no;
    }
  }
  EXPECT_GT(last_seq_no, 10u);  // caching and eviction actually happened
  for (size_t i = 0; i + 1 < f.events.size(); ++i) ASSERT_EQ(f.events[i].seq_no + 1, f.events[i + 1].seq_no);
}

}  // namespace
}  // namespace tandem::kv

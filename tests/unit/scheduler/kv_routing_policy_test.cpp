#include "scheduler/kv_routing_policy.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "fake_runner.h"
#include "kv/block_hash.h"
#include "scheduler/router.h"

namespace tandem::scheduler {
namespace {

using testing::Collector;
using testing::FakeRunner;
using testing::make_prompt;
using testing::reference_generate;
using testing::test_sample;

constexpr int kBt = 4;
constexpr uint64_t kSalt = 77;

WorkerView view(size_t index, int64_t load_tokens) {
  WorkerView v;
  v.index = index;
  v.load.healthy = true;
  v.load.load_tokens = load_tokens;
  v.block_tokens = kBt;
  v.model_salt = kSalt;
  return v;
}

GenerationRequest prompt_request(std::vector<int32_t> prompt, std::string salt = "") {
  GenerationRequest r;
  r.id = "req";
  r.prompt = std::move(prompt);
  r.cache_salt = std::move(salt);
  return r;
}

// Emits kStored events for the first `blocks` full blocks of `tokens`, as a
// pool with (kSalt, salt) would.
void store_prefix(RoutingPolicy& p, size_t worker, const std::vector<int32_t>& tokens, int blocks,
                  const std::string& salt = "", kv::KvTier tier = kv::KvTier::kDevice) {
  kv::BlockHash parent = kv::root_hash(kSalt, salt);
  for (int b = 0; b < blocks; ++b) {
    kv::KvEvent e;
    e.worker = "w" + std::to_string(worker);
    e.seq_no = static_cast<uint64_t>(b);
    e.kind = kv::KvEventKind::kStored;
    e.tier = tier;
    e.parent_hash = parent;
    e.tokens.assign(tokens.begin() + b * kBt, tokens.begin() + (b + 1) * kBt);
    e.block_hash = kv::chain_hash(parent, e.tokens);
    parent = e.block_hash;
    p.on_kv_event(worker, e);
  }
}

TEST(KvRoutingPolicy, WorkedExampleCosts) {
  KvRoutingPolicy p;
  const std::vector<int32_t> prompt = make_prompt(33, 1, 50);  // 9 blocks, 8 reusable
  store_prefix(p, 0, prompt, 8);
  store_prefix(p, 1, prompt, 3);
  const GenerationRequest r = prompt_request(prompt);
  // w0: (9 - 8) * 1 + ceil(40 / 4) = 11; w1: (9 - 3) + 0 = 6; w2: 9 + 0 = 9.
  std::vector<WorkerView> v = {view(0, 40), view(1, 0), view(2, 0)};
  std::vector<KvScore> s = p.score(r, v);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].overlap_blocks, 8u);
  EXPECT_EQ(s[1].overlap_blocks, 3u);
  EXPECT_EQ(s[2].overlap_blocks, 0u);
  EXPECT_EQ(s[0].prompt_blocks, 9u);
  EXPECT_EQ(s[0].load_blocks, 10);
  EXPECT_DOUBLE_EQ(s[0].cost, 11.0);
  EXPECT_DOUBLE_EQ(s[1].cost, 6.0);
  EXPECT_DOUBLE_EQ(s[2].cost, 9.0);
  EXPECT_EQ(p.pick(r, v), 1u);
  // Without load the longest overlap wins.
  v = {view(0, 0), view(1, 0), view(2, 0)};
  EXPECT_EQ(p.pick(r, v), 0u);
  // A heavier overlap weight makes the cache win despite the load:
  // w0: 1 * 3 + 10 = 13, w1: 6 * 3 = 18, w2: 27.
  KvRoutingPolicy heavy(KvRoutingOptions{3.0, 0.0, 1});
  store_prefix(heavy, 0, prompt, 8);
  store_prefix(heavy, 1, prompt, 3);
  v = {view(0, 40), view(1, 0), view(2, 0)};
  EXPECT_DOUBLE_EQ(heavy.score(r, v)[0].cost, 13.0);
  EXPECT_EQ(heavy.pick(r, v), 0u);
  // Weight 0 ignores the cache: pure load.
  KvRoutingPolicy load_only(KvRoutingOptions{0.0, 0.0, 1});
  store_prefix(load_only, 0, prompt, 8);
  v = {view(0, 4), view(1, 8), view(2, 1)};
  // Costs 1, 2, 1 blocks: w0 and w2 tie, w2 has fewer tokens.
  EXPECT_EQ(load_only.pick(r, v), 2u);
}

TEST(KvRoutingPolicy, LowerTiersAreCreditedLess) {
  KvRoutingPolicy p;                                           // credits: device 1, host 0.75, disk 0.25
  const std::vector<int32_t> prompt = make_prompt(33, 1, 50);  // 9 blocks, 8 reusable
  store_prefix(p, 0, prompt, 8, "", kv::KvTier::kHost);
  store_prefix(p, 1, prompt, 8, "", kv::KvTier::kDisk);
  store_prefix(p, 2, prompt, 4, "", kv::KvTier::kDevice);
  store_prefix(p, 2, prompt, 8, "", kv::KvTier::kDisk);  // its first 4 blocks are on the device too
  const GenerationRequest r = prompt_request(prompt);
  std::vector<WorkerView> v = {view(0, 0), view(1, 0), view(2, 0)};
  std::vector<KvScore> s = p.score(r, v);
  for (const KvScore& k : s) EXPECT_EQ(k.overlap_blocks, 8u);
  EXPECT_DOUBLE_EQ(s[0].overlap_credit, 6.0);             // 8 x 0.75
  EXPECT_DOUBLE_EQ(s[1].overlap_credit, 2.0);             // 8 x 0.25
  EXPECT_DOUBLE_EQ(s[2].overlap_credit, 4.0 + 4 * 0.25);  // the best tier of each block
  EXPECT_DOUBLE_EQ(s[0].cost, 9.0 - 6.0);
  EXPECT_DOUBLE_EQ(s[1].cost, 9.0 - 2.0);
  EXPECT_DOUBLE_EQ(s[2].cost, 9.0 - 5.0);
  EXPECT_EQ(p.pick(r, v), 0u);
  // cached_tokens counts blocks in any tier (they are loaded, not recomputed).
  EXPECT_EQ(p.cached_tokens(r, v[1]), 8 * kBt);
  // Credits come from the options; out-of-range ones are refused.
  KvRoutingPolicy flat(KvRoutingOptions{1.0, 0.0, 1, {1.0, 1.0, 1.0}});
  store_prefix(flat, 1, prompt, 8, "", kv::KvTier::kDisk);
  EXPECT_DOUBLE_EQ(flat.score(r, v)[1].cost, 1.0);
  EXPECT_THROW(KvRoutingPolicy(KvRoutingOptions{1.0, 0.0, 1, {1.0, 1.5, 0.25}}), std::invalid_argument);
}

TEST(KvRoutingPolicy, TiesGoToLeastLoadedThenLowestIndex) {
  KvRoutingPolicy p;
  const std::vector<int32_t> prompt = make_prompt(33, 2, 50);
  store_prefix(p, 1, prompt, 1);
  const GenerationRequest r = prompt_request(prompt);
  // All cost 10: w0 9 + 1, w1 8 + 2, w2 9 + 1; w2 has the fewest tokens.
  std::vector<WorkerView> v = {view(0, 4), view(1, 8), view(2, 3)};
  for (const KvScore& s : p.score(r, v)) EXPECT_DOUBLE_EQ(s.cost, 10.0);
  EXPECT_EQ(p.pick(r, v), 2u);
  v = {view(3, 4), view(1, 8), view(2, 4)};
  EXPECT_EQ(v[p.pick(r, v)].index, 2u);
}

TEST(KvRoutingPolicy, OnlyReusableBlocksCountAndSaltsSeparate) {
  KvRoutingPolicy p;
  const std::vector<int32_t> prompt = make_prompt(32, 3, 50);  // 8 full blocks, 7 reusable
  store_prefix(p, 0, prompt, 8, "tenant-a");
  std::vector<WorkerView> v = {view(0, 0), view(1, 0)};
  EXPECT_EQ(p.score(prompt_request(prompt, "tenant-a"), v)[0].overlap_blocks, 7u);
  EXPECT_EQ(p.score(prompt_request(prompt, "tenant-b"), v)[0].overlap_blocks, 0u);
  EXPECT_EQ(p.score(prompt_request(prompt), v)[0].overlap_blocks, 0u);
  // A different model salt on the worker: different chain, no overlap.
  v[0].model_salt = kSalt + 1;
  EXPECT_EQ(p.score(prompt_request(prompt, "tenant-a"), v)[0].overlap_blocks, 0u);
}

TEST(KvRoutingPolicy, EvictionAndWorkerRemovalDropOverlap) {
  KvRoutingPolicy p;
  const std::vector<int32_t> prompt = make_prompt(40, 4, 50);
  store_prefix(p, 0, prompt, 9);
  store_prefix(p, 1, prompt, 9);
  const GenerationRequest r = prompt_request(prompt);
  std::vector<WorkerView> v = {view(0, 0), view(1, 0)};
  // Evict block 4 of worker 0: only 4 leading blocks remain usable there.
  kv::KvEvent e;
  e.seq_no = 9;
  e.kind = kv::KvEventKind::kEvicted;
  e.block_hash = kv::block_hashes(kv::root_hash(kSalt, ""), prompt, kBt, 9)[4];
  p.on_kv_event(0, e);
  EXPECT_EQ(p.score(r, v)[0].overlap_blocks, 4u);
  EXPECT_EQ(p.score(r, v)[1].overlap_blocks, 9u);
  EXPECT_EQ(p.pick(r, v), 1u);
  p.on_worker_removed(1);
  EXPECT_EQ(p.score(r, v)[1].overlap_blocks, 0u);
  EXPECT_EQ(p.pick(r, v), 0u);
}

TEST(KvRoutingPolicy, TemperatureSamplingIsSeededAndFavoursLowCost) {
  const std::vector<int32_t> prompt = make_prompt(64, 5, 50);
  auto run = [&](double temperature, uint64_t seed) {
    KvRoutingPolicy p(KvRoutingOptions{1.0, temperature, seed});
    store_prefix(p, 0, prompt, 15);
    store_prefix(p, 1, prompt, 8);
    const GenerationRequest r = prompt_request(prompt);
    std::vector<WorkerView> v = {view(0, 0), view(1, 0), view(2, 0)};
    std::vector<size_t> picks;
    for (int i = 0; i < 400; ++i) picks.push_back(p.pick(r, v));
    return picks;
  };
  const std::vector<size_t> a = run(0.5, 123);
  EXPECT_EQ(a, run(0.5, 123));  // same seed, same choices
  EXPECT_NE(a, run(0.5, 124));
  std::map<size_t, int> counts;
  for (size_t x : a) ++counts[x];
  // Costs 1, 8, 16 -> normalised 0, 7/15, 1 -> weights 1, e^-0.93, e^-2 at T = 0.5.
  EXPECT_GT(counts[0], counts[1]);
  EXPECT_GT(counts[1], counts[2]);
  EXPECT_GT(counts[2], 0);
  // Temperature 0 is deterministic: always the cheapest.
  for (size_t x : run(0.0, 9)) EXPECT_EQ(x, 0u);
}

TEST(KvRoutingPolicy, RejectsInvalidOptions) {
  EXPECT_THROW(KvRoutingPolicy(KvRoutingOptions{-1.0, 0.0, 0}), std::invalid_argument);
  EXPECT_THROW(KvRoutingPolicy(KvRoutingOptions{1.0, -0.5, 0}), std::invalid_argument);
  EXPECT_THROW(KvRoutingPolicy(KvRoutingOptions{1.0, std::nan(""), 0}), std::invalid_argument);
  EXPECT_THROW(Router(RouterOptions{"kv", 8, -2.0}, {}), std::invalid_argument);
}

// Through the real Router and workers (FakeRunner, whose logits depend on the
// KV it reads back): the turns of each conversation stay on one worker, reuse
// its cache, and every output equals the cache-free reference.
TEST(KvRouter, ConversationsStickToOneWorkerWithIdenticalOutputs) {
  constexpr int kVocab = 40;
  constexpr int kContext = 512;
  metrics::Registry registry;
  std::vector<std::unique_ptr<Worker>> ws;
  for (int i = 0; i < 3; ++i) {
    WorkerOptions o;
    o.name = "w" + std::to_string(i);
    o.model_salt = kSalt;
    o.sampler = test_sample;
    ws.push_back(Worker::start(o, std::make_unique<FakeRunner>(kVocab, kContext, kBt, 128), &registry));
  }
  Router router(RouterOptions{"kv", 64}, std::move(ws));
  ASSERT_STREQ(router.policy_name(), "kv");

  constexpr int kConversations = 4;
  constexpr int kTurns = 4;
  std::vector<std::vector<int32_t>> history(kConversations);
  std::vector<std::string> home(kConversations);
  int later_turns_cached = 0;
  for (int turn = 0; turn < kTurns; ++turn) {
    for (int c = 0; c < kConversations; ++c) {
      // A long shared "system prompt" (3 blocks), then the conversation.
      if (turn == 0) history[c] = make_prompt(12, 999, kVocab);
      std::vector<int32_t> user = make_prompt(9, 100 * c + turn, kVocab);
      history[c].insert(history[c].end(), user.begin(), user.end());
      GenerationRequest r;
      r.id = "c" + std::to_string(c) + "t" + std::to_string(turn);
      r.prompt = history[c];
      r.stop.max_tokens = 6;
      r.sampling.seed = 11;
      const testing::Expected want = reference_generate(r, 11, kVocab, kContext, test_sample);
      Collector col;
      r.sink = col.sink();
      ASSERT_TRUE(router.submit(std::move(r)).ok());
      ASSERT_TRUE(col.wait_final());
      EXPECT_EQ(col.tokens(), want.tokens) << "conversation " << c << " turn " << turn;
      const TokenEvent& first = col.events().front();
      if (turn == 0) {
        home[c] = first.worker;
      } else {
        EXPECT_EQ(first.worker, home[c]) << "conversation " << c << " turn " << turn;
        // Everything before this turn's new user tokens was cached there.
        EXPECT_GE(first.cached_tokens, (static_cast<int>(history[c].size()) - 9 - 6) / kBt * kBt - kBt);
        if (first.cached_tokens > 0) ++later_turns_cached;
      }
      const std::vector<int32_t> out = col.tokens();
      history[c].insert(history[c].end(), out.begin(), out.end());
      // The user's think time: the worker publishes its load (now 0) after the final event.
      ASSERT_TRUE(testing::eventually([&] {
        for (size_t w = 0; w < router.num_workers(); ++w) {
          if (router.worker(w).load().load_tokens != 0) return false;
        }
        return true;
      }));
    }
  }
  EXPECT_EQ(later_turns_cached, kConversations * (kTurns - 1));
  // The decisions counter adds up to the requests routed.
  const std::string text = registry.render();
  double decisions = 0;
  for (int i = 0; i < 3; ++i) {
    const std::string key = "tandem_router_decisions_total{worker=\"w" + std::to_string(i) + "\"} ";
    const size_t pos = text.find(key);
    ASSERT_NE(pos, std::string::npos) << text;
    decisions += std::stod(text.substr(pos + key.size()));
  }
  EXPECT_EQ(decisions, kConversations * kTurns);
  EXPECT_NE(text.find("tandem_kv_cache_usage_perc"), std::string::npos);
  router.shutdown(std::chrono::seconds(1));
}

}  // namespace
}  // namespace tandem::scheduler

#include "scheduler/step_scheduler.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "fake_runner.h"
#include "kv/block_pool.h"
#include "kv/tier_cache.h"

namespace tandem::scheduler {
namespace {

using testing::Collector;
using testing::FakeRunner;
using testing::make_prompt;
using testing::reference_generate;
using testing::test_sample;
using Clock = std::chrono::steady_clock;

constexpr int kVocab = 50;

struct Harness {
  Harness(int max_batch_tokens, int num_blocks, int block_tokens = 4, bool caching = true, int max_running = 64,
          int max_context = 1000)
      : runner(kVocab, max_context, block_tokens, num_blocks),
        pool({"w0", num_blocks, block_tokens, caching}, nullptr),
        sched({"w0", max_batch_tokens, max_running, max_context, kVocab}, pool, test_sample, nullptr) {}

  Collector& add(GenerationRequest r, uint64_t seed, std::string salt = {}) {
    auto c = std::make_unique<Collector>();
    r.sink = c->sink();
    r.cache_salt = std::move(salt);
    requests.push_back(r);
    seeds.push_back(seed);
    sched.enqueue(
        std::make_unique<Sequence>(std::move(r), seed, kv::root_hash(7, requests.back().cache_salt), Clock::now()));
    collectors.push_back(std::move(c));
    return *collectors.back();
  }

  // Iterates until nothing is left (bounded).
  void run(int max_iters = 10000) {
    for (int i = 0; i < max_iters && sched.has_work(); ++i) {
      Status st = sched.iterate(runner, Clock::now());
      ASSERT_TRUE(st.ok()) << st.to_string();
      pool.check_invariants();
    }
    ASSERT_FALSE(sched.has_work());
  }

  void expect_all_match_reference() {
    for (size_t i = 0; i < requests.size(); ++i) {
      auto ref = reference_generate(requests[i], seeds[i], kVocab, 1000, test_sample);
      EXPECT_EQ(collectors[i]->tokens(), ref.tokens) << "request " << i;
      EXPECT_EQ(collectors[i]->finish(), ref.finish) << "request " << i;
      EXPECT_EQ(collectors[i]->num_final(), 1) << "request " << i;
    }
  }

  FakeRunner runner;
  kv::BlockPool pool;
  StepScheduler sched;
  std::vector<GenerationRequest> requests;
  std::vector<uint64_t> seeds;
  std::vector<std::unique_ptr<Collector>> collectors;
};

GenerationRequest request(const std::string& id, int prompt_len, int max_tokens, int32_t prompt_seed,
                          float temperature = 1.0f) {
  GenerationRequest r;
  r.id = id;
  r.prompt = make_prompt(prompt_len, prompt_seed, kVocab);
  r.stop.max_tokens = max_tokens;
  r.sampling.temperature = temperature;
  return r;
}

TEST(StepScheduler, SingleRequestMatchesReference) {
  Harness h(64, 32);
  Collector& c = h.add(request("a", 9, 12, 1, 0.0f), 1);
  h.run();
  h.expect_all_match_reference();
  auto events = c.events();
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().prompt_tokens, 9);
  EXPECT_EQ(events.front().worker, "w0");
  EXPECT_EQ(c.tokens().size(), 12u);
  // One event per step: the first carries the first token, the last the finish.
  EXPECT_EQ(events.size(), 12u);
  EXPECT_EQ(h.pool.num_held(), 0);
}

TEST(StepScheduler, ContinuousBatchingRequestsJoinAndLeave) {
  Harness h(64, 64);
  h.add(request("a", 5, 20, 1), 11);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_EQ(h.sched.num_running(), 1);
  h.add(request("b", 7, 3, 2), 22);  // joins mid-flight, leaves before a
  h.add(request("c", 3, 30, 3), 33);
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_EQ(h.sched.num_running(), 3);
  // That step held a's decode and the two prefills: 1 + 7 + 3 tokens.
  EXPECT_EQ(h.runner.batch_tokens.back(), 11);
  EXPECT_EQ(h.runner.batch_seqs.back(), 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_EQ(h.sched.num_running(), 2);  // b finished after 3 tokens
  EXPECT_EQ(h.collectors[1]->finish(), FinishReason::kLength);
  h.run();
  h.expect_all_match_reference();
}

TEST(StepScheduler, DecodesFirstThenPrefillChunksWithinBudget) {
  Harness h(8, 64);
  h.add(request("a", 3, 10, 1), 1);
  h.add(request("b", 3, 10, 2), 2);
  StepPlan p1 = h.sched.schedule(Clock::now());
  ASSERT_EQ(p1.chunks.size(), 2u);
  EXPECT_EQ(p1.num_tokens, 6);
  auto b1 = StepScheduler::build_batch(p1);
  std::vector<float> logits;
  ASSERT_TRUE(h.runner.step(b1, logits).ok());
  h.sched.apply(p1, logits);
  h.sched.publish();
  // c is a long prompt: it gets what the two decodes leave of the budget.
  h.add(request("c", 20, 5, 3), 3);
  StepPlan p2 = h.sched.schedule(Clock::now());
  ASSERT_EQ(p2.chunks.size(), 3u);
  EXPECT_EQ(p2.chunks[0].seq->id(), "a");
  EXPECT_EQ(p2.chunks[0].count, 1);
  EXPECT_EQ(p2.chunks[1].seq->id(), "b");
  EXPECT_EQ(p2.chunks[2].seq->id(), "c");
  EXPECT_EQ(p2.chunks[2].start, 0);
  EXPECT_EQ(p2.chunks[2].count, 6);
  EXPECT_FALSE(p2.chunks[2].want_logits);
  EXPECT_EQ(p2.num_tokens, 8);
  auto b2 = StepScheduler::build_batch(p2);
  ASSERT_EQ(b2.seqs.size(), 3u);
  EXPECT_EQ(b2.seqs[0].start_pos, 3);
  EXPECT_EQ(b2.seqs[0].tokens.size(), 1u);
  EXPECT_TRUE(b2.seqs[0].want_logits);
  EXPECT_EQ(b2.seqs[2].tokens.size(), 6u);
  EXPECT_GE(b2.seqs[2].block_table.size() * 4, 6u);
  ASSERT_TRUE(h.runner.step(b2, logits).ok());
  EXPECT_EQ(logits.size(), 2u * kVocab);
  h.sched.apply(p2, logits);
  h.sched.publish();
  // Next step: two decodes, then c's next chunk from position 6.
  StepPlan p3 = h.sched.schedule(Clock::now());
  ASSERT_EQ(p3.chunks.size(), 3u);
  EXPECT_EQ(p3.chunks[2].start, 6);
  EXPECT_EQ(p3.chunks[2].count, 6);
  auto b3 = StepScheduler::build_batch(p3);
  ASSERT_TRUE(h.runner.step(b3, logits).ok());
  h.sched.apply(p3, logits);
  h.sched.publish();
  h.run();
  h.expect_all_match_reference();
}

TEST(StepScheduler, ChunkedPrefillEqualsUnchunked) {
  std::vector<std::vector<int32_t>> outputs;
  for (int budget : {1, 3, 5, 16, 1000}) {
    Harness h(budget, 64);
    h.add(request("a", 23, 8, 5), 99);
    h.add(request("b", 11, 8, 6, 0.0f), 98);
    h.run();
    h.expect_all_match_reference();
    for (int t : h.runner.batch_tokens) EXPECT_LE(t, budget);
    outputs.push_back(h.collectors[0]->tokens());
  }
  for (const auto& o : outputs) EXPECT_EQ(o, outputs.front());
}

TEST(StepScheduler, ChunkSizesFollowTheBudget) {
  Harness h(5, 64);
  h.add(request("a", 23, 1, 5), 1);
  h.run();
  EXPECT_EQ(h.runner.batch_tokens, (std::vector<int>{5, 5, 5, 5, 3}));
  h.expect_all_match_reference();
}

TEST(StepScheduler, PreemptionUnderATinyPoolKeepsOutputs) {
  // 10 blocks of 4 tokens; each request needs up to ceil((6 + 20 - 1) / 4) = 7.
  Harness h(64, 10);
  for (int i = 0; i < 5; ++i) h.add(request("r" + std::to_string(i), 6, 20, 10 + i), 100 + i);
  h.run();
  EXPECT_GT(h.sched.num_preemptions(), 0u);
  h.expect_all_match_reference();
  EXPECT_EQ(h.pool.num_held(), 0);
}

TEST(StepScheduler, PreemptionPicksTheYoungestAndRequeuesAtTheFront) {
  Harness h(64, 6, 4);
  h.add(request("old", 4, 14, 1), 1);  // needs up to 5 blocks
  h.add(request("young", 4, 14, 2), 2);
  // Both admitted with 1 block each (prompt 4 + first decode fits in 2 blocks later).
  for (int i = 0; i < 40 && h.sched.num_preemptions() == 0; ++i) {
    ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  }
  ASSERT_EQ(h.sched.num_preemptions(), 1u);
  auto waiting = h.sched.waiting();
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0]->id(), "young");
  EXPECT_EQ(waiting[0]->state, SequenceState::kPreempted);
  EXPECT_TRUE(waiting[0]->blocks.empty());
  EXPECT_GT(waiting[0]->num_output(), 0);  // keeps what it generated
  h.run();
  h.expect_all_match_reference();
}

TEST(StepScheduler, PrefixCacheReusesBlocksWithSameResults) {
  for (bool caching : {true, false}) {
    Harness h(64, 64, 4, caching);
    GenerationRequest a = request("a", 18, 6, 42);
    h.add(a, 5);
    h.run();
    GenerationRequest b = a;
    b.id = "b";
    h.add(b, 6);
    GenerationRequest c = a;  // same prompt, other tenant: no reuse
    c.id = "c";
    h.add(c, 6, "tenant-2");
    h.run();
    h.expect_all_match_reference();
    EXPECT_EQ(h.collectors[1]->events().front().cached_tokens, caching ? 16 : 0);
    EXPECT_EQ(h.collectors[2]->events().front().cached_tokens, 0);
    // Whole prompt cached in blocks: the last token is still computed.
    GenerationRequest d = a;
    d.id = "d";
    d.prompt.resize(16);
    h.add(d, 7);
    h.run();
    EXPECT_EQ(h.collectors[3]->events().front().cached_tokens, caching ? 12 : 0);
    h.expect_all_match_reference();
  }
}

TEST(StepScheduler, EvictedPrefixIsLoadedBackFromTheHostTier) {
  for (int fail_imports : {0, 1}) {
    Harness h(64, 8, 4);  // 8 blocks of 4 tokens
    auto tiers = kv::TierCache::open(
        kv::TierCacheOptions{.worker = "w0", .block_bytes = h.runner.block_bytes(), .host_blocks = 32}, {}, nullptr);
    ASSERT_TRUE(tiers.ok());
    h.sched.attach_tiers(tiers.value().get(), &h.runner);
    h.runner.fail_imports = fail_imports;  // 1: every import fails, so the prefix is computed
    GenerationRequest a = request("a", 18, 4, 42);
    h.add(a, 5);
    h.run();
    // Two other prompts take the whole pool: a's blocks leave the device.
    h.add(request("x", 26, 4, 43), 6);
    h.run();
    h.add(request("y", 26, 4, 44), 7);
    h.run();
    EXPECT_TRUE(h.pool.match_prefix(kv::root_hash(7, ""), a.prompt, 4).blocks.empty());
    GenerationRequest again = a;
    again.id = "a2";
    h.add(again, 8);
    h.run();
    h.expect_all_match_reference();  // the fake runner reads the loaded slots: wrong bytes would show
    EXPECT_EQ(h.collectors[3]->events().front().cached_tokens, fail_imports ? 0 : 16);
    EXPECT_EQ(h.runner.imported_blocks.load(), fail_imports ? 0 : 4);
    EXPECT_GE(tiers.value()->figures().offloaded_host, 4u);
    // A prompt whose prefix is on the device is not reloaded.
    const int imported = h.runner.imported_blocks.load();
    GenerationRequest b = a;
    b.id = "b";
    h.add(b, 9);
    h.run();
    EXPECT_EQ(h.collectors[4]->events().front().cached_tokens, 16);
    EXPECT_EQ(h.runner.imported_blocks.load(), imported);
    h.expect_all_match_reference();
  }
}

TEST(StepScheduler, MaxRunningIsRespected) {
  Harness h(1000, 64, 4, true, /*max_running=*/2);
  for (int i = 0; i < 5; ++i) h.add(request("r" + std::to_string(i), 3, 4, i), i);
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_EQ(h.sched.num_running(), 2);
  EXPECT_EQ(h.sched.num_waiting(), 3);
  h.run();
  for (int s : h.runner.batch_seqs) EXPECT_LE(s, 2);
  h.expect_all_match_reference();
}

TEST(StepScheduler, StopConditions) {
  Harness h(64, 64);
  // Find what the fake produces greedily, then use its tokens as stop ids.
  GenerationRequest probe = request("probe", 5, 10, 77, 0.0f);
  auto ref = reference_generate(probe, 0, kVocab, 1000, test_sample);
  ASSERT_EQ(ref.tokens.size(), 10u);

  GenerationRequest eos = probe;
  eos.id = "eos";
  eos.stop.eos_token_ids = {ref.tokens[3]};
  GenerationRequest ignore = eos;
  ignore.id = "ignore";
  ignore.stop.ignore_eos = true;
  GenerationRequest stop_id = probe;
  stop_id.id = "stop_id";
  stop_id.stop.stop_token_ids = {ref.tokens[2]};
  GenerationRequest min_tokens = eos;
  min_tokens.id = "min";
  min_tokens.stop.min_tokens = 6;  // token 4 may not be EOS now: output diverges
  GenerationRequest max_tokens = probe;
  max_tokens.id = "max";
  max_tokens.stop.max_tokens = 1;
  for (auto* r : {&eos, &ignore, &stop_id, &min_tokens, &max_tokens}) h.add(*r, 0);
  h.run();
  h.expect_all_match_reference();
  auto eos_events = h.collectors[0]->events();
  EXPECT_EQ(h.collectors[0]->finish(), FinishReason::kStop);
  EXPECT_EQ(h.collectors[0]->tokens().size(), 4u);
  ASSERT_TRUE(eos_events.back().stop_token.has_value());
  EXPECT_EQ(*eos_events.back().stop_token, ref.tokens[3]);
  EXPECT_EQ(h.collectors[1]->finish(), FinishReason::kLength);
  EXPECT_EQ(h.collectors[1]->tokens(), ref.tokens);
  EXPECT_EQ(h.collectors[2]->finish(), FinishReason::kStop);
  EXPECT_EQ(h.collectors[2]->tokens().size(), 3u);
  EXPECT_GE(h.collectors[3]->tokens().size(), 7u);
  EXPECT_NE(h.collectors[3]->tokens()[3], ref.tokens[3]);
  EXPECT_EQ(h.collectors[4]->tokens().size(), 1u);
  EXPECT_EQ(h.collectors[4]->finish(), FinishReason::kLength);
}

TEST(StepScheduler, ContextLimitEndsWithLength) {
  Harness h(64, 64, 4, true, 64, /*max_context=*/12);
  GenerationRequest r = request("a", 8, 100, 1);  // (submit would refuse it; the loop still stops)
  h.add(r, 1);
  h.run();
  EXPECT_EQ(h.collectors[0]->finish(), FinishReason::kLength);
  EXPECT_EQ(h.collectors[0]->tokens().size(), 4u);
}

TEST(StepScheduler, CancelFreesBlocksAtTheNextStep) {
  Harness h(64, 64);
  Collector& a = h.add(request("a", 10, 50, 1), 1);
  Collector& b = h.add(request("b", 10, 5, 2), 2);
  Collector& w = h.add(request("waiting", 10, 5, 3), 3);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_GT(h.pool.num_held(), 0);
  const int held_before = h.pool.num_held();
  h.sched.request_cancel("a");
  h.sched.request_cancel("unknown");  // ignored
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_EQ(a.finish(), FinishReason::kCancelled);
  EXPECT_EQ(a.num_final(), 1);
  EXPECT_LT(h.pool.num_held(), held_before);
  h.run();
  EXPECT_EQ(b.finish(), FinishReason::kLength);
  EXPECT_EQ(w.finish(), FinishReason::kLength);
  EXPECT_EQ(h.pool.num_held(), 0);
}

TEST(StepScheduler, DeadlineEndsQueuedAndRunningAsLength) {
  Harness h(64, 64);
  GenerationRequest r = request("late", 5, 50, 1);
  r.deadline = Clock::now() + std::chrono::hours(1);
  Collector& c = h.add(r, 1);
  GenerationRequest q = request("expired", 5, 50, 2);
  q.deadline = Clock::now() - std::chrono::seconds(1);
  Collector& e = h.add(q, 2);
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_EQ(e.finish(), FinishReason::kLength);
  EXPECT_TRUE(e.tokens().empty());
  EXPECT_EQ(e.events().front().prompt_tokens, 5);  // first event even without tokens
  EXPECT_EQ(c.finish(), FinishReason::kNone);
  // Pretend time passed beyond the first request's deadline.
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now() + std::chrono::hours(2)).ok());
  EXPECT_EQ(c.finish(), FinishReason::kLength);
  EXPECT_FALSE(h.sched.has_work());
  EXPECT_EQ(h.pool.num_held(), 0);
}

TEST(StepScheduler, RunnerFailureFailsTheStepsRequests) {
  Harness h(64, 64);
  Collector& a = h.add(request("a", 5, 10, 1), 1);
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  h.runner.fail_at_step = 2;
  Status st = h.sched.iterate(h.runner, Clock::now());
  EXPECT_EQ(st.kind(), ErrorKind::kDevice);
  EXPECT_EQ(a.finish(), FinishReason::kError);
  EXPECT_EQ(a.events().back().error.kind(), ErrorKind::kDevice);
  EXPECT_EQ(a.tokens().size(), 1u);
  EXPECT_EQ(h.pool.num_held(), 0);
  EXPECT_FALSE(h.sched.has_work());
}

TEST(StepScheduler, FinishAllCancelsEverything) {
  Harness h(4, 64);
  Collector& a = h.add(request("a", 10, 10, 1), 1);
  Collector& b = h.add(request("b", 10, 10, 2), 2);
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  h.sched.finish_all(FinishReason::kCancelled, {});
  EXPECT_EQ(a.finish(), FinishReason::kCancelled);
  EXPECT_EQ(b.finish(), FinishReason::kCancelled);
  EXPECT_FALSE(h.sched.has_work());
  EXPECT_EQ(h.pool.num_held(), 0);
}

TEST(StepScheduler, LoadTokensCountQueuedAndRunning) {
  Harness h(4, 64);
  h.add(request("a", 10, 10, 1), 1);
  h.add(request("b", 7, 10, 2), 2);
  EXPECT_EQ(h.sched.load_tokens(), 17);
  ASSERT_TRUE(h.sched.iterate(h.runner, Clock::now()).ok());
  EXPECT_EQ(h.sched.load_tokens(), 17);  // a is running (prefill chunk), b waits
  EXPECT_EQ(h.sched.num_running(), 1);
}

// Hand-off at the scheduler level: the source computes the prompt and the
// first token, exports and releases; the target adopts and only decodes.
struct HandoffCase {
  explicit HandoffCase(int target_blocks) : src(64, 32), dst(64, target_blocks) {}

  Collector& add(GenerationRequest r, uint64_t seed, int skip_blocks = 0) {
    collectors.push_back(std::make_unique<Collector>());
    r.sink = collectors.back()->sink();
    request = r;
    auto seq = std::make_unique<Sequence>(std::move(r), seed, kv::root_hash(7, ""), Clock::now());
    seq->handoff = [](Handoff&&) {};
    seq->handoff_skip_blocks = skip_blocks;
    src.sched.enqueue(std::move(seq));
    return *collectors.back();
  }

  StepScheduler::AdoptResult move() {
    std::vector<Handoff> out;
    for (int i = 0; i < 100 && out.empty(); ++i) {
      EXPECT_TRUE(src.sched.iterate(src.runner, Clock::now()).ok());
      out = src.sched.take_handoffs();
    }
    EXPECT_EQ(out.size(), 1u);
    EXPECT_FALSE(src.sched.has_work());
    EXPECT_EQ(src.pool.num_held(), 0);
    src.pool.check_invariants();
    StepScheduler::AdoptResult r = dst.sched.adopt(std::move(out[0]), dst.runner);
    dst.pool.check_invariants();
    return r;
  }

  Harness src, dst;
  GenerationRequest request;
  std::vector<std::unique_ptr<Collector>> collectors;
};

TEST(StepScheduler, AdoptedSequenceDecodesOnTheMovedKvWithoutRecomputing) {
  HandoffCase h(32);
  Collector& c = h.add(request("a", 14, 8, 3, 0.0f), 5);
  const StepScheduler::AdoptResult r = h.move();
  EXPECT_TRUE(r.with_kv);
  EXPECT_EQ(r.imported_blocks, 4);   // 14 prompt positions in blocks of 4
  EXPECT_EQ(c.tokens().size(), 1u);  // the first token came from the source
  h.dst.run();
  for (int tokens : h.dst.runner.batch_tokens) EXPECT_EQ(tokens, 1);  // decode steps only
  EXPECT_EQ(c.tokens(), reference_generate(h.request, 5, kVocab, 1000, test_sample).tokens);
  EXPECT_EQ(c.num_final(), 1);
  EXPECT_EQ(h.dst.pool.num_held(), 0);
}

// A blob without host bytes (a device blob reaching a runner that cannot
// read device memory) is imported through its copy_to_host; the output is
// the same.
TEST(StepScheduler, AdoptReadsABlobWithoutHostBytesThroughCopyToHost) {
  HandoffCase h(32);
  h.src.runner.opaque_blobs = true;
  Collector& c = h.add(request("a", 14, 8, 3, 0.0f), 5);
  const StepScheduler::AdoptResult r = h.move();
  EXPECT_TRUE(r.with_kv);
  EXPECT_EQ(r.imported_blocks, 4);
  EXPECT_EQ(h.src.runner.opaque_reads.load(), 1);
  EXPECT_EQ(h.dst.runner.imported_blocks.load(), 4);
  h.dst.run();
  EXPECT_EQ(c.tokens(), reference_generate(h.request, 5, kVocab, 1000, test_sample).tokens);
  EXPECT_EQ(c.num_final(), 1);
  EXPECT_EQ(h.dst.pool.num_held(), 0);
}

// Borrowed KV: the source keeps the blocks held (a later request there gets
// other blocks, so the borrowed ones are not overwritten) until the lease
// comes back after the import; a Handoff dropped without an import gives
// them back too.
TEST(StepScheduler, BorrowedBlocksStayHeldUntilTheLeaseComesBack) {
  HandoffCase h(32);
  h.src.runner.borrow_blobs = true;
  std::vector<std::vector<int32_t>> returned;
  h.src.sched.set_block_lease([&](std::vector<int32_t> ids) { returned.push_back(std::move(ids)); });
  Collector& c = h.add(request("a", 14, 8, 3, 0.0f), 5);
  std::vector<Handoff> out;
  for (int i = 0; i < 100 && out.empty(); ++i) {
    ASSERT_TRUE(h.src.sched.iterate(h.src.runner, Clock::now()).ok());
    out = h.src.sched.take_handoffs();
  }
  ASSERT_EQ(out.size(), 1u);
  ASSERT_NE(out[0].lease, nullptr);
  ASSERT_TRUE(out[0].kv->borrows_source());
  EXPECT_EQ(h.src.sched.num_lent_blocks(), 4);
  EXPECT_EQ(h.src.pool.num_held(), 4);
  // Another prompt on the source meanwhile: it must not land in the lent blocks.
  Collector& other = h.src.add(request("b", 30, 4, 4, 0.0f), 9);
  h.src.run();
  EXPECT_EQ(other.tokens(), reference_generate(h.src.requests.back(), 9, kVocab, 1000, test_sample).tokens);
  EXPECT_TRUE(returned.empty());
  const StepScheduler::AdoptResult r = h.dst.sched.adopt(std::move(out[0]), h.dst.runner);
  EXPECT_TRUE(r.with_kv);
  ASSERT_EQ(returned.size(), 1u);  // given back right after the import
  EXPECT_EQ(returned[0].size(), 4u);
  h.src.sched.release_lent(returned[0]);
  EXPECT_EQ(h.src.sched.num_lent_blocks(), 0);
  EXPECT_EQ(h.src.pool.num_held(), 0);
  h.src.pool.check_invariants();
  h.dst.run();
  EXPECT_EQ(c.tokens(), reference_generate(h.request, 5, kVocab, 1000, test_sample).tokens);
  EXPECT_EQ(c.num_final(), 1);

  // Dropped in transit (no decode worker took it): the blocks come back all the same.
  HandoffCase d(32);
  d.src.runner.borrow_blobs = true;
  int given_back = 0;
  d.src.sched.set_block_lease([&](std::vector<int32_t> ids) { given_back += static_cast<int>(ids.size()); });
  d.add(request("c", 14, 8, 3, 0.0f), 5);
  std::vector<Handoff> lost;
  for (int i = 0; i < 100 && lost.empty(); ++i) {
    ASSERT_TRUE(d.src.sched.iterate(d.src.runner, Clock::now()).ok());
    lost = d.src.sched.take_handoffs();
  }
  ASSERT_EQ(lost.size(), 1u);
  lost.clear();
  EXPECT_EQ(given_back, 4);
}

TEST(StepScheduler, BlocksTheTargetCachesAreNotSentAndAMissingOneMeansRecompute) {
  // The target already computed the same prompt: the 2 leading blocks are not sent.
  HandoffCase h(32);
  const GenerationRequest r0 = request("a", 14, 8, 3, 0.0f);
  Collector& warm = h.dst.add(r0, 5);
  h.dst.run();
  Collector& c = h.add(r0, 5, 2);
  const StepScheduler::AdoptResult r = h.move();
  EXPECT_TRUE(r.with_kv);
  EXPECT_GE(r.cached_blocks, 2);
  h.dst.run();
  EXPECT_EQ(c.tokens(), warm.tokens());
  // An empty target cannot supply the blocks that were not sent.
  HandoffCase cold(32);
  Collector& c2 = cold.add(r0, 5, 2);
  const StepScheduler::AdoptResult r2 = cold.move();
  EXPECT_FALSE(r2.with_kv);
  EXPECT_TRUE(r2.missing_prefix);
  cold.dst.run();
  EXPECT_EQ(c2.tokens(), warm.tokens());
  EXPECT_EQ(c2.num_final(), 1);
}

TEST(StepScheduler, AdoptWithoutRoomRecomputesWithTheSameOutput) {
  HandoffCase h(5);
  h.dst.pool.check_invariants();
  // Hold 3 of the target's 5 blocks so the 4 moved blocks cannot be placed.
  kv::BlockPool::Plan hold = h.dst.pool.plan();
  ASSERT_GE(hold.add({{}, 3}), 0);
  const std::vector<kv::BlockId> held = h.dst.pool.commit(std::move(hold))[0];
  Collector& c = h.add(request("a", 14, 3, 4, 0.0f), 6);
  const StepScheduler::AdoptResult r = h.move();
  EXPECT_FALSE(r.with_kv);
  EXPECT_TRUE(r.no_room);
  h.dst.pool.release(held);
  h.dst.run();
  EXPECT_EQ(c.tokens(), reference_generate(h.request, 6, kVocab, 1000, test_sample).tokens);
  EXPECT_EQ(c.num_final(), 1);
}

}  // namespace
}  // namespace tandem::scheduler

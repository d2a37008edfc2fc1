// Structured output in the scheduler (GenerationRequest::constraint): masks
// filled by the runner's before_sampling hook, sampled tokens accepted into
// the constraint, kStop when it is finished, kError when no token is allowed
// or the constraint refuses the sampled token, choices independent. A test-only
// FakeConstraint stands in for grammar::Matcher; the sampler is engine::sample
// (through Runner::step_and_sample, and as an injected Sampler).
#include <gtest/gtest.h>

#include <memory>
#include <set>

#include "engine/sampling.h"
#include "fake_constraint.h"
#include "fake_runner.h"
#include "kv/block_pool.h"
#include "scheduler/step_scheduler.h"

namespace tandem::scheduler {
namespace {

using testing::Collector;
using testing::FakeConstraint;
using testing::FakeRunner;
using testing::make_prompt;
using Clock = std::chrono::steady_clock;

constexpr int kVocab = 70;  // more than two mask words, the last one partial

// Forwards to a FakeRunner; records whether the masks were filled inside the
// before_sampling hook (after the step, before sampling).
class HookRunner final : public engine::Runner {
 public:
  HookRunner() : inner_(kVocab, 1000, 4, 64) {}
  const engine::ModelSpec& spec() const override { return inner_.spec(); }
  int block_tokens() const override { return inner_.block_tokens(); }
  int num_blocks() const override { return inner_.num_blocks(); }
  size_t block_bytes() const override { return inner_.block_bytes(); }
  Status step(const engine::StepBatch& batch, std::vector<float>& logits) override {
    ++steps;
    return inner_.step(batch, logits);
  }
  Status step_and_sample(const engine::StepBatch& batch, std::span<const engine::SampleRow> rows,
                         std::vector<SampledToken>& out, const engine::BeforeSampling& hook) override {
    size_t constrained = 0;
    for (const engine::SampleRow& r : rows) constrained += r.allowed.empty() ? 0 : 1;
    if (constrained > 0) {
      EXPECT_TRUE(static_cast<bool>(hook)) << "constrained rows without a hook to fill their masks";
      ++constrained_steps;
    }
    const int steps_before = steps;
    auto wrapped = [&] {
      ++hook_calls;
      EXPECT_EQ(steps, steps_before + 1) << "the hook runs after the forward step";
      if (hook) hook();
    };
    return Runner::step_and_sample(batch, rows, out, wrapped);
  }
  Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) override {
    return inner_.copy_blocks(src, dst);
  }
  int steps = 0;
  int hook_calls = 0;
  int constrained_steps = 0;

 private:
  FakeRunner inner_;
};

struct Rig {
  HookRunner runner;
  kv::BlockPool pool{{"w0", 64, 4, true}, nullptr};
  std::unique_ptr<StepScheduler> sched;
  std::vector<std::unique_ptr<Collector>> collectors;

  explicit Rig(Sampler sampler = {}, int max_batch_tokens = 16) {
    sched = std::make_unique<StepScheduler>(SchedulerOptions{"w0", max_batch_tokens, 8, 1000, kVocab}, pool,
                                            std::move(sampler), nullptr);
  }
  Collector& add(const std::string& id, int prompt_len, int max_tokens, std::shared_ptr<TokenConstraint> c,
                 float temperature = 1.0f, uint64_t seed = 1) {
    GenerationRequest r;
    r.id = id;
    r.prompt = make_prompt(prompt_len, static_cast<int32_t>(id.size() + prompt_len), kVocab);
    r.stop.max_tokens = max_tokens;
    r.stop.eos_token_ids = {2};
    r.sampling.temperature = temperature;
    r.constraint = std::move(c);
    auto col = std::make_unique<Collector>();
    r.sink = col->sink();
    sched->enqueue(std::make_unique<Sequence>(std::move(r), seed, kv::root_hash(7, ""), Clock::now()));
    collectors.push_back(std::move(col));
    return *collectors.back();
  }
  void run_all() {
    for (int i = 0; i < 1000 && sched->has_work(); ++i) {
      ASSERT_TRUE(sched->iterate(runner, Clock::now()).ok());
      pool.check_invariants();
    }
    ASSERT_FALSE(sched->has_work());
    EXPECT_EQ(pool.num_held(), 0);
  }
};

// Three allowed ids per position, none of them the EOS id 2.
std::vector<std::vector<int32_t>> three_per_position(int positions, int salt) {
  std::vector<std::vector<int32_t>> out;
  for (int k = 0; k < positions; ++k) {
    out.push_back({static_cast<int32_t>(3 + (k * 7 + salt) % 60), static_cast<int32_t>(64 + (k + salt) % 6),
                   static_cast<int32_t>(33 + (k * 3 + salt) % 30)});
  }
  return out;
}

Sampler engine_sampler() {
  return [](const engine::SampleInput& in) { return engine::sample(in); };
}

class BothSamplingPaths : public ::testing::TestWithParam<bool> {
 protected:
  // true: the scheduler samples through an injected Sampler (logits path);
  // false: the runner samples (step_and_sample with the hook).
  Sampler sampler() const { return GetParam() ? engine_sampler() : Sampler{}; }
};

TEST_P(BothSamplingPaths, EveryTokenIsAllowedAndAFinishedConstraintEndsWithStop) {
  Rig rig(sampler());
  auto c = std::make_shared<FakeConstraint>(three_per_position(9, 5));
  Collector& col = rig.add("a", 11, 50, c);  // a prompt longer than the budget: chunked
  rig.run_all();
  const std::vector<int32_t> out = col.tokens();
  ASSERT_EQ(out.size(), 9u);  // ended by the constraint, not by max_tokens (50)
  const auto allowed = three_per_position(9, 5);
  for (size_t k = 0; k < out.size(); ++k) {
    EXPECT_NE(std::find(allowed[k].begin(), allowed[k].end(), out[k]), allowed[k].end()) << "position " << k;
  }
  EXPECT_EQ(c->accepted, out);
  EXPECT_EQ(c->refused, 0);
  EXPECT_EQ(c->fills, 9);  // one mask per sampled token
  EXPECT_EQ(col.finish(), FinishReason::kStop);
  EXPECT_FALSE(col.events().back().stop_token.has_value());  // no EOS was generated
  EXPECT_EQ(col.num_final(), 1);
  if (!GetParam()) {
    EXPECT_GT(rig.runner.constrained_steps, 0);
    EXPECT_EQ(rig.runner.hook_calls, rig.runner.constrained_steps);  // one hook call per step with rows
  }
}

TEST_P(BothSamplingPaths, GreedyPicksTheBestAllowedToken) {
  Rig rig(sampler());
  // Position 0 allows every id but the unconstrained greedy choice.
  Rig free_rig(sampler());
  Collector& free_col = free_rig.add("g", 6, 1, nullptr, 0.0f);
  free_rig.run_all();
  ASSERT_EQ(free_col.tokens().size(), 1u);
  const int32_t best = free_col.tokens()[0];
  std::vector<int32_t> others;
  for (int32_t t = 0; t < kVocab; ++t) {
    if (t != best) others.push_back(t);
  }
  auto c = std::make_shared<FakeConstraint>(std::vector<std::vector<int32_t>>{others});
  Collector& col = rig.add("g", 6, 5, c, 0.0f);
  rig.run_all();
  ASSERT_EQ(col.tokens().size(), 1u);
  EXPECT_NE(col.tokens()[0], best);
  EXPECT_EQ(col.finish(), FinishReason::kStop);
}

TEST_P(BothSamplingPaths, AnEndIdIsTheStopToken) {
  Rig rig(sampler());
  auto c = std::make_shared<FakeConstraint>(three_per_position(3, 1), std::vector<int32_t>{2});
  Collector& col = rig.add("e", 5, 20, c);
  rig.run_all();
  const std::vector<int32_t> out = col.tokens();
  ASSERT_EQ(out.size(), 4u);  // three constrained tokens, then the only allowed id: EOS
  EXPECT_EQ(out.back(), 2);
  EXPECT_EQ(col.finish(), FinishReason::kStop);
  EXPECT_EQ(col.events().back().stop_token, std::optional<int32_t>(2));
  EXPECT_TRUE(c->finished());
}

TEST_P(BothSamplingPaths, NoAllowedTokenEndsTheRequestWithAnError) {
  Rig rig(sampler());
  auto allowed = three_per_position(2, 3);
  allowed.push_back({});  // a dead end at the third token
  auto c = std::make_shared<FakeConstraint>(allowed);
  auto other = std::make_shared<FakeConstraint>(three_per_position(6, 4));
  Collector& col = rig.add("dead", 5, 20, c);
  Collector& ok = rig.add("fine", 7, 20, other);  // its neighbour is unaffected
  rig.run_all();
  EXPECT_EQ(col.tokens().size(), 2u);  // never an unconstrained third token
  EXPECT_EQ(col.finish(), FinishReason::kError);
  const Status err = col.events().back().error;
  EXPECT_EQ(err.kind(), ErrorKind::kInvalidRequest);
  EXPECT_NE(err.message().find("structured output"), std::string::npos) << err.message();
  EXPECT_NE(err.message().find("after 2 generated tokens"), std::string::npos) << err.message();
  EXPECT_EQ(ok.tokens().size(), 6u);
  EXPECT_EQ(ok.finish(), FinishReason::kStop);
}

TEST_P(BothSamplingPaths, ChoicesHaveIndependentConstraints) {
  Rig rig(sampler(), 64);
  // n = 2: the same prompt and seed, different matchers (as one per choice).
  auto c0 = std::make_shared<FakeConstraint>(three_per_position(5, 1));
  auto c1 = std::make_shared<FakeConstraint>(three_per_position(8, 2));
  Collector& a = rig.add("x", 6, 30, c0, 1.0f, 9);
  Collector& b = rig.add("y", 6, 30, c1, 1.0f, 9);
  Collector& free = rig.add("z", 6, 7, nullptr, 1.0f, 9);
  rig.run_all();
  EXPECT_EQ(a.tokens(), c0->accepted);
  EXPECT_EQ(b.tokens(), c1->accepted);
  EXPECT_EQ(a.tokens().size(), 5u);
  EXPECT_EQ(b.tokens().size(), 8u);
  EXPECT_EQ(free.num_final(), 1);
}

INSTANTIATE_TEST_SUITE_P(Paths, BothSamplingPaths, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "InjectedSampler" : "RunnerSamples"; });

// A constraint that allows a token in its mask but then refuses it (a broken
// sampler or matcher): the sequence fails instead of emitting it.
class RefusingConstraint final : public TokenConstraint {
 public:
  bool fill_next_token_mask(std::span<uint32_t> mask) override {
    mask[0] |= 1u << 5;
    return true;
  }
  bool accept(int32_t) override { return false; }
  void rollback(int) override {}
  bool finished() const override { return false; }
};

TEST(ConstrainedDecoding, ARefusedTokenIsAnInternalError) {
  Rig rig;
  Collector& col = rig.add("r", 5, 10, std::make_shared<RefusingConstraint>());
  rig.run_all();
  EXPECT_TRUE(col.tokens().empty());
  EXPECT_EQ(col.finish(), FinishReason::kError);
  EXPECT_EQ(col.events().back().error.kind(), ErrorKind::kInternal);
}

TEST(ConstrainedDecoding, UnconstrainedBatchesGetNoHookAndNoMasks) {
  Rig rig;
  rig.add("u", 5, 4, nullptr);
  rig.run_all();
  EXPECT_EQ(rig.runner.constrained_steps, 0);
  EXPECT_EQ(rig.runner.hook_calls, rig.runner.steps);  // the runner still calls its (empty) hook
}

TEST(ConstrainedDecoding, SampleRowsPointIntoOneMaskPerConstrainedRow) {
  Rig rig(Sampler{}, 64);
  auto c = std::make_shared<FakeConstraint>(three_per_position(4, 0));
  rig.add("a", 3, 5, nullptr);
  rig.add("b", 3, 5, c);
  const StepPlan plan = rig.sched->schedule(Clock::now());
  ASSERT_EQ(plan.chunks.size(), 2u);
  std::vector<std::vector<int32_t>> suppressed;
  std::vector<uint32_t> masks;
  const auto rows = StepScheduler::sample_rows(plan, kVocab, suppressed, masks);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(rows[0].allowed.empty());
  ASSERT_EQ(rows[1].allowed.size(), 3u);  // (70 + 31) / 32 words
  EXPECT_EQ(masks.size(), 3u);
  masks.assign(3, 0xffffffffu);  // stale content is cleared by fill_masks
  std::vector<uint8_t> no_token;
  StepScheduler::fill_masks(plan, rows, masks, no_token);
  EXPECT_EQ(no_token, (std::vector<uint8_t>{0, 0}));
  std::set<int32_t> set;
  for (int32_t t = 0; t < kVocab; ++t) {
    if (engine::token_allowed(rows[1].allowed, t)) set.insert(t);
  }
  const auto first = three_per_position(1, 0)[0];
  EXPECT_EQ(set, std::set<int32_t>(first.begin(), first.end()));
  rig.sched->fail(plan, Status(ErrorKind::kInternal, "test"));  // give the blocks back
  rig.sched->publish();
}

}  // namespace
}  // namespace tandem::scheduler

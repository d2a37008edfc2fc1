// StepScheduler without an injected Sampler: the runner samples
// (Runner::step_and_sample), and the tokens are exactly engine::sample's on
// the fake model; with an injected Sampler the logits path is used instead.
#include <gtest/gtest.h>

#include <memory>

#include "engine/sampling.h"
#include "fake_runner.h"
#include "kv/block_pool.h"
#include "scheduler/step_scheduler.h"

namespace tandem::scheduler {
namespace {

using testing::Collector;
using testing::FakeRunner;
using testing::make_prompt;
using testing::reference_generate;
using Clock = std::chrono::steady_clock;

constexpr int kVocab = 50;

// Forwards to a FakeRunner and counts which entry point the scheduler used.
class CountingRunner final : public engine::Runner {
 public:
  CountingRunner() : inner_(kVocab, 1000, 4, 64) {}
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
    ++sample_calls;
    rows_seen += static_cast<int>(rows.size());
    for (const engine::SampleRow& r : rows) suppressed_seen += static_cast<int>(r.suppressed.size());
    Status s = Runner::step_and_sample(batch, rows, out, hook);
    if (s.ok() && drop_one && !out.empty()) out.pop_back();
    return s;
  }
  Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) override {
    return inner_.copy_blocks(src, dst);
  }

  int steps = 0;         // step() calls (the default step_and_sample makes one too)
  int sample_calls = 0;  // step_and_sample() calls
  int rows_seen = 0;
  int suppressed_seen = 0;
  bool drop_one = false;  // return one token too few

 private:
  FakeRunner inner_;
};

GenerationRequest request(const std::string& id, int prompt_len, int max_tokens, int32_t prompt_seed) {
  GenerationRequest r;
  r.id = id;
  r.prompt = make_prompt(prompt_len, prompt_seed, kVocab);
  r.stop.max_tokens = max_tokens;
  return r;
}

struct Rig {
  CountingRunner runner;
  kv::BlockPool pool{{"w0", 64, 4, true}, nullptr};
  std::unique_ptr<StepScheduler> sched;
  std::vector<GenerationRequest> requests;
  std::vector<uint64_t> seeds;
  std::vector<std::unique_ptr<Collector>> collectors;

  explicit Rig(Sampler sampler) {
    sched =
        std::make_unique<StepScheduler>(SchedulerOptions{"w0", 16, 8, 1000, kVocab}, pool, std::move(sampler), nullptr);
  }
  void add(GenerationRequest r, uint64_t seed) {
    auto c = std::make_unique<Collector>();
    r.sink = c->sink();
    requests.push_back(r);
    seeds.push_back(seed);
    sched->enqueue(std::make_unique<Sequence>(std::move(r), seed, kv::root_hash(7, ""), Clock::now()));
    collectors.push_back(std::move(c));
  }
  Status run_all() {
    for (int i = 0; i < 10000 && sched->has_work(); ++i) {
      Status s = sched->iterate(runner, Clock::now());
      if (!s.ok()) return s;
    }
    return {};
  }
};

void add_mixed_requests(Rig& r) {
  GenerationRequest a = request("greedy", 9, 12, 1);
  a.sampling.temperature = 0.0f;
  a.sampling.logprobs = 2;
  r.add(a, 1);
  GenerationRequest b = request("nucleus", 23, 15, 2);  // prefilled in chunks of the 16-token budget
  b.sampling.temperature = 0.8f;
  b.sampling.top_p = 0.9f;
  b.sampling.frequency_penalty = 0.5f;
  r.add(b, 77);
  GenerationRequest c = request("min_tokens", 5, 10, 3);
  c.sampling.top_k = 3;
  c.stop.min_tokens = 4;
  c.stop.eos_token_ids = {7, 9};
  r.add(c, 5);
}

TEST(RunnerSampling, EmptySamplerUsesStepAndSampleWithEngineSemantics) {
  Rig r{Sampler{}};
  add_mixed_requests(r);
  ASSERT_TRUE(r.run_all().ok());
  EXPECT_GT(r.runner.sample_calls, 0);
  EXPECT_EQ(r.runner.steps, r.runner.sample_calls);  // every step went through step_and_sample
  EXPECT_GT(r.runner.suppressed_seen, 0);            // min_tokens rows carried their EOS ids
  int produced = 0;
  for (size_t i = 0; i < r.requests.size(); ++i) {
    const auto ref = reference_generate(r.requests[i], r.seeds[i], kVocab, 1000, &engine::sample);
    EXPECT_EQ(r.collectors[i]->tokens(), ref.tokens) << r.requests[i].id;
    EXPECT_EQ(r.collectors[i]->finish(), ref.finish) << r.requests[i].id;
    produced += static_cast<int>(ref.tokens.size());
  }
  EXPECT_EQ(r.runner.rows_seen, produced);  // one row per sampled token
  // Logprobs of the greedy request reached the events.
  for (const TokenEvent& e : r.collectors[0]->events()) {
    for (const SampledToken& t : e.tokens) {
      EXPECT_EQ(t.top.size(), 2u);
      EXPECT_LE(t.logprob, 0.0f);
    }
  }
  EXPECT_EQ(r.pool.num_held(), 0);
}

TEST(RunnerSampling, InjectedSamplerKeepsTheLogitsPath) {
  Rig r{Sampler(&engine::sample)};
  add_mixed_requests(r);
  ASSERT_TRUE(r.run_all().ok());
  EXPECT_EQ(r.runner.sample_calls, 0);
  EXPECT_GT(r.runner.steps, 0);
  for (size_t i = 0; i < r.requests.size(); ++i) {
    const auto ref = reference_generate(r.requests[i], r.seeds[i], kVocab, 1000, &engine::sample);
    EXPECT_EQ(r.collectors[i]->tokens(), ref.tokens) << r.requests[i].id;
  }
}

TEST(RunnerSampling, WrongTokenCountFailsTheStepsSequences) {
  Rig r{Sampler{}};
  r.runner.drop_one = true;
  r.add(request("a", 5, 4, 1), 1);
  const Status s = r.sched->iterate(r.runner, Clock::now());
  EXPECT_EQ(s.kind(), ErrorKind::kInternal);
  EXPECT_NE(s.message().find("sampled 0 tokens, expected 1"), std::string::npos) << s.message();
  EXPECT_EQ(r.collectors[0]->finish(), FinishReason::kError);
  EXPECT_FALSE(r.sched->has_work());
  EXPECT_EQ(r.pool.num_held(), 0);
}

}  // namespace
}  // namespace tandem::scheduler

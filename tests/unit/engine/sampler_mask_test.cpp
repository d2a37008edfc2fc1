// engine::sample with an allowed-token mask (constrained decoding): masked
// greedy and seeded draws never return a disallowed id, the distribution is
// the unconstrained one renormalized over the allowed ids, logprobs are the
// log-softmax of the masked logits (vLLM applies its grammar bitmask before
// computing them), an all-disallowed mask gives kNoAllowedToken, and the
// default step_and_sample reads masks only after its before_sampling hook.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "engine/runner.h"
#include "engine/sampler_distribution.h"
#include "engine/sampling.h"

namespace tandem::engine {
namespace {

std::vector<uint32_t> mask_of(const std::vector<int32_t>& ids, int vocab) {
  std::vector<uint32_t> m(static_cast<size_t>((vocab + 31) / 32), 0u);
  for (int32_t t : ids) m[static_cast<size_t>(t) / 32] |= 1u << (t % 32);
  return m;
}

std::vector<float> random_logits(int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  std::vector<float> l(static_cast<size_t>(vocab));
  for (float& v : l) v = nd(rng);
  return l;
}

TEST(SamplerMaskTest, TokenAllowedReadsLittleEndianBitsAndTreatsThePastAsDisallowed) {
  const std::vector<uint32_t> m{0x80000001u, 0x2u};
  EXPECT_TRUE(token_allowed(m, 0));
  EXPECT_FALSE(token_allowed(m, 1));
  EXPECT_TRUE(token_allowed(m, 31));
  EXPECT_FALSE(token_allowed(m, 32));
  EXPECT_TRUE(token_allowed(m, 33));
  EXPECT_FALSE(token_allowed(m, 64));  // past the mask
  EXPECT_FALSE(token_allowed(m, -1));
}

TEST(SamplerMaskTest, GreedyAndDrawsNeverPickADisallowedToken) {
  constexpr int kVocab = 300;  // ten words, the last one partial
  for (uint32_t trial = 0; trial < 200; ++trial) {
    const std::vector<float> logits = random_logits(kVocab, trial);
    std::mt19937 rng(trial * 7 + 1);
    std::vector<int32_t> ids;
    for (int t = 0; t < kVocab; ++t) {
      if (rng() % 10 == 0) ids.push_back(t);
    }
    if (ids.empty()) ids.push_back(static_cast<int32_t>(trial % kVocab));
    const std::vector<uint32_t> mask = mask_of(ids, kVocab);
    SamplingParams p;
    p.temperature = trial % 3 == 0 ? 0.0f : 0.7f + 0.1f * static_cast<float>(trial % 5);
    p.top_k = trial % 4 == 0 ? 5 : 0;
    p.top_p = trial % 5 == 0 ? 0.5f : 1.0f;
    p.min_p = trial % 7 == 0 ? 0.2f : 0.0f;
    p.repetition_penalty = trial % 2 == 0 ? 1.3f : 1.0f;
    p.logit_bias = {{ids[0] == 0 ? 1 : 0, 100.0f}};  // a huge bias on a (probably) disallowed id
    const std::vector<int32_t> prompt{1, 2, 3}, output{4, 5};
    SampleInput in;
    in.logits = logits;
    in.params = &p;
    in.prompt = prompt;
    in.output = output;
    in.seed = trial;
    in.allowed = mask;
    const SampledToken t = sample(in);
    EXPECT_TRUE(token_allowed(mask, t.token)) << "trial " << trial << " token " << t.token;
    if (p.temperature == 0.0f && p.repetition_penalty == 1.0f) {
      // The best allowed biased logit (lowest id on ties).
      const auto biased = [&](int32_t id) {
        return logits[static_cast<size_t>(id)] + (id == p.logit_bias[0].first ? 100.0f : 0.0f);
      };
      int32_t best = ids[0];
      for (int32_t id : ids) {
        if (biased(id) > biased(best)) best = id;
      }
      EXPECT_EQ(t.token, best) << "trial " << trial;
    }
  }
}

TEST(SamplerMaskTest, TheDistributionIsRenormalizedOverTheAllowedIds) {
  const std::vector<float> logits{std::log(0.1f), std::log(0.4f), std::log(0.2f), std::log(0.3f)};
  const std::vector<uint32_t> mask = mask_of({0, 2, 3}, 4);
  SamplingParams p;
  SampleInput in;
  in.logits = logits;
  in.params = &p;
  in.allowed = mask;
  std::map<int32_t, double> got;
  for (const TokenProb& t : sampling_distribution(in)) got[t.token] = t.prob;
  ASSERT_EQ(got.size(), 3u);
  EXPECT_NEAR(got[0], 0.1 / 0.6, 1e-6);
  EXPECT_NEAR(got[2], 0.2 / 0.6, 1e-6);
  EXPECT_NEAR(got[3], 0.3 / 0.6, 1e-6);
  // Seeded draws follow it: id 1 never appears, the others in proportion.
  std::map<int32_t, int> counts;
  const std::vector<int32_t> none;
  std::vector<int32_t> output;
  for (int i = 0; i < 6000; ++i) {
    output.assign(static_cast<size_t>(i % 50), 7);
    in.output = output;
    in.seed = static_cast<uint64_t>(i / 50);
    ++counts[sample(in).token];
  }
  EXPECT_EQ(counts.count(1), 0u);
  EXPECT_NEAR(counts[3] / 6000.0, 0.5, 0.03);
}

TEST(SamplerMaskTest, LogprobsAreOfTheMaskedLogitsAsVllmReportsThem) {
  const std::vector<float> logits{1.0f, 3.0f, 0.5f, 2.0f, -1.0f};
  const std::vector<uint32_t> mask = mask_of({0, 2, 3}, 5);
  SamplingParams p;
  p.temperature = 0.0f;
  p.logprobs = 4;
  SampleInput in;
  in.logits = logits;
  in.params = &p;
  in.allowed = mask;
  const SampledToken t = sample(in);
  EXPECT_EQ(t.token, 3);
  const double z = std::exp(1.0) + std::exp(0.5) + std::exp(2.0);
  EXPECT_NEAR(t.logprob, 2.0 - std::log(z), 1e-5);
  ASSERT_EQ(t.top.size(), 4u);
  EXPECT_EQ(t.top[0].token, 3);
  EXPECT_EQ(t.top[1].token, 0);
  EXPECT_EQ(t.top[2].token, 2);
  EXPECT_NEAR(t.top[1].logprob, 1.0 - std::log(z), 1e-5);
  EXPECT_TRUE(std::isinf(t.top[3].logprob) && t.top[3].logprob < 0);  // a disallowed id: -inf
}

TEST(SamplerMaskTest, NoAllowedTokenIsReportedNotReplaced) {
  const std::vector<float> logits{1.0f, 2.0f, 3.0f};
  SamplingParams p;
  for (float temperature : {0.0f, 1.0f}) {
    p.temperature = temperature;
    SampleInput in;
    in.logits = logits;
    in.params = &p;
    const std::vector<uint32_t> zero{0u};
    in.allowed = zero;
    EXPECT_EQ(sample(in).token, kNoAllowedToken);
    const std::vector<uint32_t> past{1u << 5};  // only an id past the row
    in.allowed = past;
    EXPECT_EQ(sample(in).token, kNoAllowedToken);
  }
}

TEST(SamplerMaskTest, SuppressedAllowedIdsFallBackToAnAllowedId) {
  // The mask allows only EOS (4) and it is suppressed (min_tokens): the
  // all-filtered fallback is the masked argmax, never an unconstrained id.
  const std::vector<float> logits{5.0f, 1.0f, 2.0f, 3.0f, -2.0f};
  const std::vector<uint32_t> mask = mask_of({4}, 5);
  const std::vector<int32_t> suppressed{4};
  SamplingParams p;
  SampleInput in;
  in.logits = logits;
  in.params = &p;
  in.allowed = mask;
  in.suppressed = suppressed;
  EXPECT_EQ(sample(in).token, 4);
  // Every allowed logit -inf / NaN: the lowest allowed id.
  const std::vector<float> dead{5.0f, -INFINITY, NAN, 1.0f};
  const std::vector<uint32_t> m2 = mask_of({1, 2}, 4);
  in.logits = dead;
  in.allowed = m2;
  in.suppressed = {};
  EXPECT_EQ(sample(in).token, 1);
}

// The default step_and_sample calls the hook after the step and before
// sampling, and samples with the masks the hook wrote.
class ConstantRunner final : public Runner {
 public:
  ConstantRunner() { spec_.vocab = 40; }
  const ModelSpec& spec() const override { return spec_; }
  int block_tokens() const override { return 4; }
  int num_blocks() const override { return 8; }
  size_t block_bytes() const override { return 16; }
  Status step(const StepBatch& batch, std::vector<float>& logits) override {
    ++steps;
    logits.clear();
    for (const SequenceStep& s : batch.seqs) {
      if (!s.want_logits) continue;
      for (int v = 0; v < 40; ++v) logits.push_back(v == 7 ? 10.0f : 0.0f);  // 7 wins unconstrained
    }
    return {};
  }
  Status copy_blocks(std::span<const int32_t>, std::span<const int32_t>) override { return {}; }
  int steps = 0;

 private:
  ModelSpec spec_;
};

TEST(SamplerMaskTest, DefaultStepAndSampleFillsMasksInTheHookBeforeSampling) {
  ConstantRunner r;
  SamplingParams greedy;
  greedy.temperature = 0.0f;
  std::vector<uint32_t> masks(2, 0u);  // one mask of two words, filled by the hook
  const std::vector<int32_t> none;
  std::vector<SampleRow> rows(2);
  rows[0].params = &greedy;
  rows[1].params = &greedy;
  rows[1].allowed = masks;
  static const std::vector<int32_t> kTokens{1};
  static const std::vector<int32_t> kTable{0};
  StepBatch b;
  b.seqs.push_back({kTokens, 0, kTable, true});
  b.seqs.push_back({kTokens, 0, kTable, true});
  int hook_calls = 0;
  std::vector<SampledToken> out;
  ASSERT_TRUE(r.step_and_sample(b, rows, out, [&] {
                 ++hook_calls;
                 EXPECT_EQ(r.steps, 1);
                 masks[1] = 1u << 1;  // only id 33
               }).ok());
  EXPECT_EQ(hook_calls, 1);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].token, 7);
  EXPECT_EQ(out[1].token, 33);
}

}  // namespace
}  // namespace tandem::engine

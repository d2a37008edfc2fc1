// engine::sample and sampling_distribution on tiny vocabularies with worked,
// exact expected probabilities, and statistical checks of the draw with fixed
// seeds.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "engine/sampler_distribution.h"
#include "engine/sampler_rng.h"
#include "engine/sampling.h"

namespace tandem::engine {
namespace {

// Logits whose softmax is exactly `probs` (up to rounding).
std::vector<float> logits_of(std::vector<double> probs) {
  std::vector<float> l;
  for (double p : probs) l.push_back(static_cast<float>(std::log(p)));
  return l;
}

std::map<int32_t, double> dist_of(const std::vector<float>& logits, const SamplingParams& p,
                                  std::vector<int32_t> output = {}, std::vector<int32_t> prompt = {},
                                  std::vector<int32_t> suppressed = {}) {
  SampleInput in;
  in.logits = logits;
  in.params = &p;
  in.prompt = prompt;
  in.output = output;
  in.suppressed = suppressed;
  std::map<int32_t, double> m;
  double total = 0.0;
  for (const TokenProb& t : sampling_distribution(in)) {
    EXPECT_GT(t.prob, 0.0);
    m[t.token] = t.prob;
    total += t.prob;
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  return m;
}

int32_t greedy(std::vector<float> logits, SamplingParams p, std::vector<int32_t> output = {},
               std::vector<int32_t> prompt = {}) {
  p.temperature = 0.0f;
  SampleInput in;
  in.logits = logits;
  in.params = &p;
  in.prompt = prompt;
  in.output = output;
  return sample(in).token;
}

TEST(SamplerTest, GreedyTakesArgmaxLowestIdOnTies) {
  SamplingParams p;
  EXPECT_EQ(greedy({0.1f, 3.0f, -1.0f, 2.9f}, p), 1);
  EXPECT_EQ(greedy({5.0f, 1.0f, 5.0f}, p), 0);
  // Greedy ignores top_k/top_p/min_p but not penalties or bias.
  p.top_k = 1;
  p.top_p = 0.1f;
  p.logit_bias = {{2, 0.5f}};
  EXPECT_EQ(greedy({5.0f, 1.0f, 5.0f}, p), 2);
}

TEST(SamplerTest, TemperatureOneKeepsTheModelDistribution) {
  SamplingParams p;
  auto d = dist_of(logits_of({0.5, 0.3, 0.2}), p);
  EXPECT_NEAR(d[0], 0.5, 1e-6);
  EXPECT_NEAR(d[1], 0.3, 1e-6);
  EXPECT_NEAR(d[2], 0.2, 1e-6);
}

TEST(SamplerTest, TemperatureSharpensAndFlattens) {
  SamplingParams p;
  p.temperature = 0.5f;  // p_i^2 / sum p^2 = .25 .09 .04 over .38
  auto d = dist_of(logits_of({0.5, 0.3, 0.2}), p);
  EXPECT_NEAR(d[0], 0.25 / 0.38, 1e-6);
  EXPECT_NEAR(d[1], 0.09 / 0.38, 1e-6);
  EXPECT_NEAR(d[2], 0.04 / 0.38, 1e-6);
  p.temperature = 2.0f;  // sqrt(p_i) normalized
  d = dist_of(logits_of({0.5, 0.3, 0.2}), p);
  const double z = std::sqrt(0.5) + std::sqrt(0.3) + std::sqrt(0.2);
  EXPECT_NEAR(d[0], std::sqrt(0.5) / z, 1e-6);
  EXPECT_NEAR(d[2], std::sqrt(0.2) / z, 1e-6);
}

TEST(SamplerTest, TopKKeepsTheKLargestAndTies) {
  SamplingParams p;
  p.top_k = 2;
  auto d = dist_of(logits_of({0.1, 0.4, 0.2, 0.3}), p);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[1], 0.4 / 0.7, 1e-6);
  EXPECT_NEAR(d[3], 0.3 / 0.7, 1e-6);
  // A tie at the k-th value keeps both (vLLM masks only values below the k-th).
  d = dist_of({1.0f, 2.0f, 1.0f, 0.0f}, p);
  EXPECT_EQ(d.size(), 3u);
  EXPECT_EQ(d.count(3), 0u);
}

TEST(SamplerTest, TopPKeepsSmallestPrefixReachingP) {
  SamplingParams p;
  p.top_p = 0.75f;  // 0.5 (before: 0) and 0.3 (before: 0.5) stay; 0.2 (before: 0.8) goes
  auto d = dist_of(logits_of({0.2, 0.5, 0.3}), p);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[1], 0.5 / 0.8, 1e-6);
  EXPECT_NEAR(d[2], 0.3 / 0.8, 1e-6);
  p.top_p = 0.45f;  // the top token alone already reaches 0.45
  d = dist_of(logits_of({0.2, 0.5, 0.3}), p);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[1], 1.0, 1e-12);
  p.top_p = 0.85f;
  EXPECT_EQ(dist_of(logits_of({0.2, 0.5, 0.3}), p).size(), 3u);
}

TEST(SamplerTest, TopPOnALargeVocabularyNeedsMoreThanTheFirstBatch) {
  // 300 equal tokens: top_p = 0.5 keeps exactly 150 (before-mass of token i is i/300).
  SamplingParams p;
  p.top_p = 0.5f;
  std::vector<float> l(300, 0.25f);
  auto d = dist_of(l, p);
  EXPECT_EQ(d.size(), 150u);
  EXPECT_EQ(d.begin()->first, 0);  // ties broken by lower id
  EXPECT_NEAR(d.begin()->second, 1.0 / 150, 1e-12);
}

TEST(SamplerTest, TopKThenTopPRenormalizes) {
  SamplingParams p;
  p.top_k = 3;     // keeps .4 .3 .2 -> renormalized .444 .333 .222
  p.top_p = 0.7f;  // .444 (before 0), .333 (before .444) stay; .222 (before .778) goes
  auto d = dist_of(logits_of({0.4, 0.1, 0.3, 0.2}), p);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0], 4.0 / 7.0, 1e-6);
  EXPECT_NEAR(d[2], 3.0 / 7.0, 1e-6);
}

TEST(SamplerTest, MinPDropsTokensBelowFractionOfTheBest) {
  SamplingParams p;
  p.min_p = 0.5f;  // threshold 0.25: keeps .5 and .3, drops .2
  auto d = dist_of(logits_of({0.5, 0.3, 0.2}), p);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0], 0.625, 1e-6);
  EXPECT_NEAR(d[1], 0.375, 1e-6);
  // min_p applies after temperature: at T = 2 probabilities ∝ sqrt(p): .707 .548 .447,
  // threshold .5 * .707 = .354 keeps all three.
  p.temperature = 2.0f;
  EXPECT_EQ(dist_of(logits_of({0.5, 0.3, 0.2}), p).size(), 3u);
}

TEST(SamplerTest, RepetitionPenaltyDividesPositiveAndMultipliesNegative) {
  SamplingParams p;
  p.repetition_penalty = 2.0f;
  // Token 0 (logit 2, in the prompt) becomes 1 < 1.5: token 2 wins.
  EXPECT_EQ(greedy({2.0f, -2.0f, 1.5f}, p, {}, {0}), 2);
  // Token 0 (logit -1, in the output) becomes -2 < -1.5.
  EXPECT_EQ(greedy({-1.0f, -1.5f}, p, {0}), 1);
  // Counted once however often it appears: logits [1, .8] -> [.5, .8] -> exact probabilities.
  auto d = dist_of({1.0f, 0.8f}, p, {0, 0, 0}, {0});
  EXPECT_NEAR(d[0], 1.0 / (1.0 + std::exp(0.3)), 1e-6);
  // Without the penalty nothing changes.
  p.repetition_penalty = 1.0f;
  EXPECT_EQ(greedy({2.0f, -2.0f, 1.5f}, p, {}, {0}), 0);
}

TEST(SamplerTest, FrequencyAndPresencePenaltiesUseOutputCounts) {
  SamplingParams p;
  p.frequency_penalty = 0.5f;  // token 0 seen twice in the output: 3 - 1 = 2 < 2.5
  EXPECT_EQ(greedy({3.0f, 2.5f, 0.0f}, p, {0, 0}), 1);
  EXPECT_EQ(greedy({3.0f, 2.5f, 0.0f}, p, {0}), 0);         // 2.5 vs 2.5: tie -> lowest id
  EXPECT_EQ(greedy({3.0f, 2.5f, 0.0f}, p, {}, {0, 0}), 0);  // prompt tokens do not count
  p.frequency_penalty = 0.0f;
  p.presence_penalty = 0.4f;  // once, whatever the count: 2.6 > 2.5
  EXPECT_EQ(greedy({3.0f, 2.5f, 0.0f}, p, {0, 0, 0}), 0);
  p.presence_penalty = 0.6f;
  EXPECT_EQ(greedy({3.0f, 2.5f, 0.0f}, p, {0}), 1);
  // Exact: logits [0, 0], output {1, 1}, freq .25, presence .5: token 1 at -1.
  p.frequency_penalty = 0.25f;
  p.presence_penalty = 0.5f;
  auto d = dist_of({0.0f, 0.0f}, p, {1, 1});
  EXPECT_NEAR(d[1], std::exp(-1.0) / (1.0 + std::exp(-1.0)), 1e-6);
  // Negative penalties encourage repetition.
  p.frequency_penalty = -1.0f;
  p.presence_penalty = 0.0f;
  EXPECT_EQ(greedy({3.0f, 2.5f}, p, {1}), 1);
}

TEST(SamplerTest, LogitBiasAndSuppressionComeBeforeSampling) {
  SamplingParams p;
  p.logit_bias = {{0, -100.0f}, {2, std::log(3.0f)}, {99, 5.0f}};  // id 99 is out of range: ignored
  auto d = dist_of({0.0f, 0.0f, 0.0f}, p);
  EXPECT_LT(d[0], 1e-40);
  EXPECT_NEAR(d[2], 0.75, 1e-6);
  // Suppressed ids get probability zero even when they are the best.
  p.logit_bias.clear();
  d = dist_of({9.0f, 0.0f, 0.0f}, p, {}, {}, {0, -5, 1234});
  EXPECT_EQ(d.count(0), 0u);
  EXPECT_NEAR(d[1], 0.5, 1e-12);
}

TEST(SamplerTest, EverythingFilteredFallsBackToRawArgmax) {
  SamplingParams p;
  SampleInput in;
  const std::vector<float> l = {0.0f, 4.0f, 1.0f};
  const std::vector<int32_t> all = {0, 1, 2};
  in.logits = l;
  in.params = &p;
  in.suppressed = all;
  EXPECT_EQ(sample(in).token, 1);
  const std::vector<float> nan = {std::nanf(""), std::nanf(""), 2.0f};
  in.logits = nan;
  in.suppressed = {};
  EXPECT_EQ(sample(in).token, 2);
}

TEST(SamplerTest, LogprobsAreLogSoftmaxOfRawLogits) {
  SamplingParams p;
  p.temperature = 0.0f;
  p.logprobs = 2;
  p.logit_bias = {{2, 10.0f}};  // changes the choice, not the reported logprobs
  const std::vector<float> l = {1.0f, 3.0f, 2.0f};
  SampleInput in;
  in.logits = l;
  in.params = &p;
  const SampledToken t = sample(in);
  const double lse = std::log(std::exp(1.0) + std::exp(3.0) + std::exp(2.0));
  EXPECT_EQ(t.token, 2);
  EXPECT_NEAR(t.logprob, 2.0 - lse, 1e-6);
  ASSERT_EQ(t.top.size(), 2u);
  EXPECT_EQ(t.top[0].token, 1);
  EXPECT_NEAR(t.top[0].logprob, 3.0 - lse, 1e-6);
  EXPECT_EQ(t.top[1].token, 2);
  p.logprobs = 10;  // more than the vocabulary: all of it
  EXPECT_EQ(sample(in).top.size(), 3u);
  p.logprobs = 0;
  EXPECT_TRUE(sample(in).top.empty());
}

TEST(SamplerTest, DrawsFollowTheDistribution) {
  // 20000 draws with seeds 0..19999: each frequency within 4.5 sigma of its probability.
  SamplingParams p;
  p.top_k = 3;
  const std::vector<float> l = logits_of({0.1, 0.45, 0.05, 0.25, 0.15});
  const std::map<int32_t, double> want = {{1, 0.45 / 0.85}, {3, 0.25 / 0.85}, {4, 0.15 / 0.85}};
  std::map<int32_t, int> count;
  const int n = 20000;
  for (int s = 0; s < n; ++s) {
    SampleInput in;
    in.logits = l;
    in.params = &p;
    in.seed = static_cast<uint64_t>(s);
    ++count[sample(in).token];
  }
  EXPECT_EQ(count.size(), 3u);
  for (auto [tok, prob] : want) {
    const double sigma = std::sqrt(prob * (1 - prob) / n);
    EXPECT_NEAR(count[tok] / static_cast<double>(n), prob, 4.5 * sigma) << "token " << tok;
  }
}

TEST(SamplerTest, DrawDependsOnlyOnSeedAndStep) {
  SamplingParams p;
  std::vector<float> l(50);
  for (int i = 0; i < 50; ++i) l[i] = static_cast<float>(i % 7) * 0.3f;
  std::vector<int32_t> out_a(5, 1), out_b(5, 2), out_c(6, 1);
  auto draw = [&](uint64_t seed, const std::vector<int32_t>& output) {
    SampleInput in;
    in.logits = l;
    in.params = &p;
    in.seed = seed;
    in.output = output;
    return sample(in).token;
  };
  // Same seed and step: same token, whatever the output's content (no penalties).
  for (uint64_t s = 0; s < 50; ++s) EXPECT_EQ(draw(s, out_a), draw(s, out_b));
  // Different steps or seeds give different draws (some of 50 must differ).
  int differ_step = 0, differ_seed = 0;
  for (uint64_t s = 0; s < 50; ++s) {
    differ_step += draw(s, out_a) != draw(s, out_c);
    differ_seed += draw(s, out_a) != draw(s + 1000, out_a);
  }
  EXPECT_GT(differ_step, 25);
  EXPECT_GT(differ_seed, 25);
}

TEST(SamplerTest, CounterUniformIsUniform) {
  // Chi-square over 16 bins of 64000 draws (15 dof: 99.9% quantile 37.7).
  std::vector<int> bins(16, 0);
  double sum = 0.0;
  const int n = 64000;
  for (int i = 0; i < n; ++i) {
    const double u = counter_uniform(42, static_cast<uint64_t>(i));
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    ++bins[static_cast<int>(u * 16)];
    sum += u;
  }
  double chi2 = 0.0;
  for (int b : bins) chi2 += (b - n / 16.0) * (b - n / 16.0) / (n / 16.0);
  EXPECT_LT(chi2, 37.7);
  EXPECT_NEAR(sum / n, 0.5, 0.005);
  EXPECT_NE(counter_uniform(1, 0), counter_uniform(2, 0));
  EXPECT_EQ(counter_uniform(7, 3), counter_uniform(7, 3));
}

}  // namespace
}  // namespace tandem::engine

#include "scheduler/step_rates.h"

#include <gtest/gtest.h>

#include <random>

namespace tandem::scheduler {
namespace {

TEST(StepRates, NothingKnownBeforeAStep) {
  StepRates r;
  EXPECT_FALSE(r.known());
  EXPECT_EQ(r.decode_step_seconds(), 0.0);
  EXPECT_EQ(r.prefill_seconds_per_token(), 0.0);
  r.observe(0, 0, 1.0);   // an empty step
  r.observe(-1, 5, 1.0);  // nonsense
  r.observe(1, 0, -1.0);
  EXPECT_FALSE(r.known());
}

TEST(StepRates, FirstDecodeStepIsTakenAsItIsThenAveraged) {
  StepRates r(0.5);
  r.observe(4, 0, 0.100);
  EXPECT_TRUE(r.known());
  EXPECT_DOUBLE_EQ(r.decode_step_seconds(), 0.100);
  r.observe(4, 0, 0.200);
  EXPECT_DOUBLE_EQ(r.decode_step_seconds(), 0.150);
  r.observe(4, 0, 0.150);
  EXPECT_DOUBLE_EQ(r.decode_step_seconds(), 0.150);
  EXPECT_EQ(r.prefill_seconds_per_token(), 0.0);  // no prefill timed yet
}

TEST(StepRates, PrefillIsTheTimeBeyondADecodeStepPerToken) {
  StepRates r(0.5);
  r.observe(2, 0, 0.050);
  r.observe(2, 100, 0.250);                          // 0.2 s beyond the decode step for 100 tokens
  EXPECT_DOUBLE_EQ(r.decode_step_seconds(), 0.050);  // mixed steps leave a alone
  EXPECT_NEAR(r.prefill_seconds_per_token(), 0.002, 1e-12);
}

TEST(StepRates, PrefillBeforeAnyDecodeCountsTheWholeStep) {
  StepRates r;
  r.observe(0, 50, 0.5);  // an idle worker's first prompt (or a prefill-role worker)
  EXPECT_TRUE(r.known());
  EXPECT_EQ(r.decode_step_seconds(), 0.0);
  EXPECT_NEAR(r.prefill_seconds_per_token(), 0.01, 1e-12);
}

TEST(StepRates, TheFirstDecodeStepDropsAPrefillFigureTakenWithoutOne) {
  // An idle aggregated worker: its first request's prompt step (0.1 s fixed
  // + 10 tokens x 0.002 s) is timed before any decode step.
  StepRates r(0.5);
  r.observe(0, 10, 0.12);
  EXPECT_NEAR(r.prefill_seconds_per_token(), 0.012, 1e-12);  // the fixed part counted as prefill
  r.observe(1, 0, 0.1);
  EXPECT_TRUE(r.known());
  EXPECT_EQ(r.prefill_seconds_per_token(), 0.0);  // dropped, not averaged with
  r.observe(1, 10, 0.12);
  EXPECT_NEAR(r.prefill_seconds_per_token(), 0.002, 1e-12);
  r.observe(0, 10, 0.12);  // later prompt steps on an idle worker: the time beyond a
  EXPECT_NEAR(r.prefill_seconds_per_token(), 0.002, 1e-12);
}

TEST(StepRates, RecoversTheCostModelFromMixedStepsOfAnySize) {
  // Steps that follow a + b * p exactly, p from 1 to 2000: a and b come back
  // exactly, however the sizes are mixed (the prefill figure is weighted by
  // tokens, not by steps).
  const double a = 0.031, b = 0.00042;
  StepRates r;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> tokens(1, 2000), kind(0, 2);
  r.observe(8, 0, a);
  for (int i = 0; i < 500; ++i) {
    const int p = kind(rng) == 0 ? 0 : tokens(rng);
    r.observe(8, p, a + b * p);
  }
  EXPECT_NEAR(r.decode_step_seconds(), a, 1e-12);
  EXPECT_NEAR(r.prefill_seconds_per_token(), b, 1e-12);
}

TEST(StepRates, FollowsAChangeOfSpeed) {
  StepRates r;  // alpha 0.2
  for (int i = 0; i < 50; ++i) r.observe(4, 0, 0.020);
  for (int i = 0; i < 50; ++i) r.observe(4, 100, 0.020 + 100 * 0.001);
  EXPECT_NEAR(r.prefill_seconds_per_token(), 0.001, 1e-9);
  // Twice as slow (a bigger batch, a shared GPU): 30 steps later the old
  // figure's weight is 0.8^30 (0.1%).
  for (int i = 0; i < 30; ++i) r.observe(4, 0, 0.040);
  EXPECT_NEAR(r.decode_step_seconds(), 0.040, 0.0004);
  for (int i = 0; i < 30; ++i) r.observe(4, 100, 0.040 + 100 * 0.002);
  EXPECT_NEAR(r.prefill_seconds_per_token(), 0.002, 0.00002);
}

TEST(StepRates, AStepFasterThanADecodeStepGivesNoNegativePrefillTime) {
  StepRates r(1.0);
  r.observe(4, 0, 0.100);
  r.observe(4, 10, 0.080);  // noise
  EXPECT_EQ(r.prefill_seconds_per_token(), 0.0);
}

}  // namespace
}  // namespace tandem::scheduler

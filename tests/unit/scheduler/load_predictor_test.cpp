#include "scheduler/load_predictor.h"

#include <gtest/gtest.h>

#include <cmath>

namespace tandem::scheduler {
namespace {

TEST(LoadPredictor, EmptyForecastsZeroAndFirstObservationSetsTheLevel) {
  LoadPredictor p;
  EXPECT_TRUE(p.empty());
  EXPECT_EQ(p.forecast(), 0.0);
  p.observe(7);
  EXPECT_FALSE(p.empty());
  EXPECT_EQ(p.forecast(), 7.0);
  EXPECT_EQ(p.forecast(3), 7.0);  // no trend yet
}

TEST(LoadPredictor, FlatLoadStaysFlat) {
  LoadPredictor p;
  for (int i = 0; i < 50; ++i) p.observe(12.5);
  EXPECT_NEAR(p.forecast(), 12.5, 1e-9);
  EXPECT_NEAR(p.trend(), 0.0, 1e-9);
}

TEST(LoadPredictor, FollowsARampWhereAnEwmaLags) {
  // x_t = 3 + 2 t. Holt's one-step error goes to 0; an EWMA with the same
  // alpha lags by slope * (1 - alpha) / alpha (+ one step for the forecast).
  const double alpha = 0.5, slope = 2;
  LoadPredictor p(alpha, 0.3);
  double ewma = 3;
  double holt_err = 0, ewma_err = 0;
  for (int t = 0; t < 60; ++t) {
    const double x = 3 + slope * t;
    if (t >= 40) {
      holt_err = std::abs(p.forecast() - x);
      ewma_err = std::abs(ewma - x);
    }
    p.observe(x);
    ewma = t == 0 ? x : alpha * x + (1 - alpha) * ewma;
  }
  EXPECT_LT(holt_err, 0.01);
  EXPECT_NEAR(ewma_err, slope * (1 - alpha) / alpha + slope, 1e-6);
  EXPECT_NEAR(p.forecast(5), 3 + slope * 64, 0.05);  // h steps ahead along the trend
}

TEST(LoadPredictor, StepChangeIsFollowedWithinAFewIntervals) {
  LoadPredictor p;
  for (int i = 0; i < 20; ++i) p.observe(2);
  p.observe(10);
  EXPECT_GT(p.forecast(), 6.0);  // half of the jump in the next forecast, plus trend
  for (int i = 0; i < 12; ++i) p.observe(10);
  EXPECT_NEAR(p.forecast(), 10, 0.5);
}

TEST(LoadPredictor, NeverForecastsBelowZero) {
  LoadPredictor p;
  for (double x : {50.0, 40.0, 20.0, 0.0, 0.0}) p.observe(x);
  EXPECT_LT(p.trend(), 0);
  EXPECT_GE(p.forecast(), 0.0);
  EXPECT_EQ(p.forecast(10), 0.0);
}

}  // namespace
}  // namespace tandem::scheduler

#include "common/histogram_quantile.h"

#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "common/metrics.h"

namespace tandem::metrics {
namespace {

// Bounds 0.1, 0.2, 0.5, 1.0 and +Inf; the expected values are worked by hand
// from Prometheus's histogram_quantile rule (linear within the bucket).
const std::vector<double> kBounds = {0.1, 0.2, 0.5, 1.0};

TEST(HistogramQuantile, InterpolatesInsideTheBucketHoldingTheRank) {
  // 10 observations: 2 in (0, 0.1], 4 in (0.1, 0.2], 4 in (0.2, 0.5].
  const std::vector<uint64_t> counts = {2, 4, 4, 0, 0};
  // p50: rank 5, bucket (0.1, 0.2] holds ranks 3..6: 0.1 + 0.1 * (5 - 2) / 4.
  EXPECT_NEAR(*histogram_quantile(0.5, kBounds, counts), 0.175, 1e-12);
  // p10: rank 1 in the first bucket, lower bound 0: 0.1 * 1 / 2.
  EXPECT_NEAR(*histogram_quantile(0.1, kBounds, counts), 0.05, 1e-12);
  // p95: rank 9.5 in (0.2, 0.5] (ranks 7..10): 0.2 + 0.3 * 3.5 / 4.
  EXPECT_NEAR(*histogram_quantile(0.95, kBounds, counts), 0.4625, 1e-12);
  // p100: the upper bound of the last non-empty bucket.
  EXPECT_NEAR(*histogram_quantile(1.0, kBounds, counts), 0.5, 1e-12);
  // p0: the lower bound of the first non-empty bucket.
  EXPECT_NEAR(*histogram_quantile(0.0, kBounds, {0, 0, 3, 0, 0}), 0.2, 1e-12);
}

TEST(HistogramQuantile, RankInTheInfBucketGivesTheLargestFiniteBound) {
  EXPECT_EQ(*histogram_quantile(0.99, kBounds, {1, 0, 0, 0, 9}), 1.0);
  EXPECT_EQ(*histogram_quantile(0.05, kBounds, {1, 0, 0, 0, 9}), 0.1 * 0.5 / 1.0);
}

TEST(HistogramQuantile, NoObservationsOrBadInputGiveNothing) {
  EXPECT_FALSE(histogram_quantile(0.5, kBounds, {0, 0, 0, 0, 0}).has_value());
  EXPECT_FALSE(histogram_quantile(0.5, kBounds, {1, 2, 3}).has_value());  // wrong size
  EXPECT_FALSE(histogram_quantile(1.5, kBounds, {1, 0, 0, 0, 0}).has_value());
  EXPECT_FALSE(histogram_quantile(-0.1, kBounds, {1, 0, 0, 0, 0}).has_value());
  EXPECT_FALSE(histogram_quantile(std::nan(""), kBounds, {1, 0, 0, 0, 0}).has_value());
  EXPECT_FALSE(histogram_quantile(0.5, {}, {1}).has_value());
}

TEST(HistogramQuantile, NonPositiveFirstBoundIsReturnedAsIs) {
  // Prometheus: a rank in the first bucket with upper bound <= 0 gives that bound.
  EXPECT_EQ(*histogram_quantile(0.5, {-1.0, 1.0}, {4, 0, 0}), -1.0);
}

TEST(HistogramQuantile, DeltaCountsOnlyTheObservationsBetweenTwoReads) {
  const std::vector<uint64_t> before = {100, 0, 0, 0, 0};  // an old burst of fast requests
  const std::vector<uint64_t> after = {100, 0, 4, 0, 0};   // then 4 in (0.2, 0.5]
  EXPECT_EQ(bucket_delta(before, after), (std::vector<uint64_t>{0, 0, 4, 0, 0}));
  // Over the whole history the median is in the first bucket; over the
  // window it is in (0.2, 0.5]: 0.2 + 0.3 * 2 / 4.
  EXPECT_LT(*histogram_quantile(0.5, kBounds, after), 0.1);
  EXPECT_NEAR(*quantile_of_delta(0.5, kBounds, before, after), 0.35, 1e-12);
  EXPECT_FALSE(quantile_of_delta(0.5, kBounds, after, after).has_value());  // nothing new
}

TEST(HistogramQuantile, DeltaClampsBucketsThatWentDownAndRejectsMismatchedSizes) {
  EXPECT_EQ(bucket_delta({5, 3}, {4, 6}), (std::vector<uint64_t>{0, 3}));
  EXPECT_TRUE(bucket_delta({1, 2, 3}, {1, 2}).empty());
  EXPECT_FALSE(quantile_of_delta(0.5, kBounds, {1, 2, 3}, {1, 2, 3, 4, 5}).has_value());
}

TEST(HistogramQuantile, ReadsAHistogramOfTheRegistry) {
  // The estimate from a live metrics::Histogram: 10 observations spread
  // evenly in (0.2, 0.5] give a median near the middle of that bucket.
  Histogram h(kBounds);
  for (int i = 0; i < 10; ++i) h.observe(0.2 + 0.03 * (i + 0.5));
  const auto p50 = histogram_quantile(0.5, h.bounds(), h.bucket_counts());
  ASSERT_TRUE(p50.has_value());
  EXPECT_NEAR(*p50, 0.35, 1e-12);
}

}  // namespace
}  // namespace tandem::metrics

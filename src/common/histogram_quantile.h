// Quantiles of a bucketed histogram, estimated as Prometheus's
// histogram_quantile() does, and of the observations made between two reads of
// the same histogram (the dashboard's "p95 over the last 10 s", and the
// planner's latency inputs).
//
// Counts are per bucket (not cumulative), bounds.size() + 1 of them, the last
// one the +Inf bucket: the shape of metrics::Histogram::bucket_counts().
// Estimate: the rank q * total falls in some bucket; the value is interpolated
// linearly between that bucket's lower bound (0 for the first bucket, when its
// upper bound is positive) and its upper bound. A rank in the +Inf bucket
// gives the largest finite bound (the estimate cannot exceed what the buckets
// resolve).
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace tandem::metrics {

// q in [0, 1]. nullopt when there are no observations, q is outside [0, 1]
// (or NaN), or the sizes do not match (counts.size() != bounds.size() + 1).
std::optional<double> histogram_quantile(double q, const std::vector<double>& bounds,
                                         const std::vector<uint64_t>& counts);

// after - before per bucket: the observations made between two reads. A
// bucket that went down (the two reads raced an update of another bucket, or
// the histogram is not the same one) counts 0. Sizes must match; when they do
// not, the result is empty.
std::vector<uint64_t> bucket_delta(const std::vector<uint64_t>& before, const std::vector<uint64_t>& after);

// histogram_quantile over bucket_delta(before, after).
std::optional<double> quantile_of_delta(double q, const std::vector<double>& bounds,
                                        const std::vector<uint64_t>& before, const std::vector<uint64_t>& after);

}  // namespace tandem::metrics

#include "common/histogram_quantile.h"

namespace tandem::metrics {

std::optional<double> histogram_quantile(double q, const std::vector<double>& bounds,
                                         const std::vector<uint64_t>& counts) {
  if (!(q >= 0.0 && q <= 1.0) || bounds.empty() || counts.size() != bounds.size() + 1) return std::nullopt;
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return std::nullopt;
  const double rank = q * static_cast<double>(total);
  uint64_t below = 0;  // observations in the buckets before i
  for (size_t i = 0; i < counts.size(); ++i) {
    const uint64_t in_bucket = counts[i];
    // The first bucket whose cumulative count reaches the rank (q = 0: the
    // first non-empty one).
    if (in_bucket == 0 || static_cast<double>(below + in_bucket) < rank) {
      below += in_bucket;
      continue;
    }
    if (i == bounds.size()) return bounds.back();  // +Inf bucket
    const double upper = bounds[i];
    const double lower = i == 0 ? 0.0 : bounds[i - 1];
    if (i == 0 && upper <= 0.0) return upper;
    const double fraction = (rank - static_cast<double>(below)) / static_cast<double>(in_bucket);
    return lower + (upper - lower) * fraction;
  }
  return bounds.back();  // not reached: the last non-empty bucket reaches the rank
}

std::vector<uint64_t> bucket_delta(const std::vector<uint64_t>& before, const std::vector<uint64_t>& after) {
  if (before.size() != after.size()) return {};
  std::vector<uint64_t> d(after.size());
  for (size_t i = 0; i < after.size(); ++i) d[i] = after[i] > before[i] ? after[i] - before[i] : 0;
  return d;
}

std::optional<double> quantile_of_delta(double q, const std::vector<double>& bounds,
                                        const std::vector<uint64_t>& before, const std::vector<uint64_t>& after) {
  return histogram_quantile(q, bounds, bucket_delta(before, after));
}

}  // namespace tandem::metrics

#include "scheduler/round_robin_policy.h"

#include <algorithm>
#include <cstdint>

#include "common/check.h"

namespace tandem::scheduler {

size_t RoundRobinPolicy::pick(const GenerationRequest& /*request*/, std::span<const WorkerView> candidates) {
  TANDEM_CHECK(!candidates.empty());
  // Take a ticket; the candidate with the smallest index >= ticket (mod the
  // highest index + 1) wins, so a missing worker just gets skipped.
  const uint64_t ticket = next_.fetch_add(1, std::memory_order_relaxed);
  size_t max_index = 0;
  for (const WorkerView& c : candidates) max_index = std::max(max_index, c.index);
  const size_t want = static_cast<size_t>(ticket % (max_index + 1));
  size_t best = 0;
  size_t best_distance = SIZE_MAX;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const size_t d = (candidates[i].index + (max_index + 1) - want) % (max_index + 1);
    if (d < best_distance) {
      best_distance = d;
      best = i;
    }
  }
  return best;
}

}  // namespace tandem::scheduler

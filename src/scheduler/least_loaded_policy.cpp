#include "scheduler/least_loaded_policy.h"

#include <tuple>

#include "common/check.h"

namespace tandem::scheduler {

size_t LeastLoadedPolicy::pick(const GenerationRequest& /*request*/, std::span<const WorkerView> candidates) {
  TANDEM_CHECK(!candidates.empty());
  auto key = [](const WorkerView& c) {
    return std::make_tuple(c.load.load_tokens, c.load.running + c.load.waiting, c.index);
  };
  size_t best = 0;
  for (size_t i = 1; i < candidates.size(); ++i) {
    if (key(candidates[i]) < key(candidates[best])) best = i;
  }
  return best;
}

}  // namespace tandem::scheduler

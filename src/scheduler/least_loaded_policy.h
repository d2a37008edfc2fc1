// The eligible worker with the least work: fewest queued + running tokens
// (WorkerLoad::load_tokens), then fewest requests, then the lowest index.
#pragma once

#include "scheduler/routing_policy.h"

namespace tandem::scheduler {

class LeastLoadedPolicy final : public RoutingPolicy {
 public:
  const char* name() const override { return "least_loaded"; }
  size_t pick(const GenerationRequest& request, std::span<const WorkerView> candidates) override;
};

}  // namespace tandem::scheduler

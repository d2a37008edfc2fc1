// Round robin over the eligible workers, ignoring load.
#pragma once

#include <atomic>
#include <cstdint>

#include "scheduler/routing_policy.h"

namespace tandem::scheduler {

class RoundRobinPolicy final : public RoutingPolicy {
 public:
  const char* name() const override { return "round_robin"; }
  // The next worker index after the previously chosen one (by router index,
  // so unhealthy workers are skipped without disturbing the rotation).
  size_t pick(const GenerationRequest& request, std::span<const WorkerView> candidates) override;

 private:
  std::atomic<uint64_t> next_{0};
};

}  // namespace tandem::scheduler

#include "scheduler/routing_policy.h"

#include <spdlog/spdlog.h>

#include "scheduler/least_loaded_policy.h"
#include "scheduler/round_robin_policy.h"

namespace tandem::scheduler {

void RoutingPolicy::on_kv_event(size_t /*worker_index*/, const kv::KvEvent& /*event*/) {}

std::unique_ptr<RoutingPolicy> make_routing_policy(std::string_view name) {
  if (name == "round_robin") return std::make_unique<RoundRobinPolicy>();
  if (name == "least_loaded") return std::make_unique<LeastLoadedPolicy>();
  if (name == "kv") {
    spdlog::info("[router] policy 'kv' (KV-aware) is not available yet; routing with least_loaded");
    return std::make_unique<LeastLoadedPolicy>();
  }
  return nullptr;
}

}  // namespace tandem::scheduler

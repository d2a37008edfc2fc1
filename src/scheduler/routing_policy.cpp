#include "scheduler/routing_policy.h"

#include "scheduler/kv_routing_policy.h"
#include "scheduler/least_loaded_policy.h"
#include "scheduler/round_robin_policy.h"

namespace tandem::scheduler {

int RoutingPolicy::cached_tokens(const GenerationRequest&, const WorkerView&) { return 0; }

void RoutingPolicy::on_kv_event(size_t /*worker_index*/, const kv::KvEvent& /*event*/) {}

void RoutingPolicy::on_worker_removed(size_t /*worker_index*/) {}

std::unique_ptr<RoutingPolicy> make_routing_policy(std::string_view name) {
  return make_routing_policy(name, KvRoutingOptions{});
}

std::unique_ptr<RoutingPolicy> make_routing_policy(std::string_view name, const KvRoutingOptions& kv) {
  if (name == "round_robin") return std::make_unique<RoundRobinPolicy>();
  if (name == "least_loaded") return std::make_unique<LeastLoadedPolicy>();
  if (name == "kv") return std::make_unique<KvRoutingPolicy>(kv);
  return nullptr;
}

}  // namespace tandem::scheduler

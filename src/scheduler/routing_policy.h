// The router's choice of worker, as a policy object fed by worker load and KV
// events: the seam for the KV-aware policy (overlap score vs. load).
//
// Threading: pick() may be called concurrently from any submitting thread;
// on_kv_event() is called on worker threads. Implementations are thread-safe
// and never block for long (they run inside submit and inside a worker step).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kv/kv_event.h"
#include "scheduler/generation.h"
#include "scheduler/worker.h"

namespace tandem::scheduler {

// One eligible worker as a policy sees it.
struct WorkerView {
  size_t index = 0;  // the worker's index in the router
  std::string_view name;
  WorkerLoad load;
  int block_tokens = 16;  // to hash a prompt the way this worker's pool does
  uint64_t model_salt = 0;
};

class RoutingPolicy {
 public:
  virtual ~RoutingPolicy() = default;
  virtual const char* name() const = 0;
  // Returns a position in `candidates` (non-empty, healthy workers only).
  virtual size_t pick(const GenerationRequest& request, std::span<const WorkerView> candidates) = 0;
  // Prompt tokens of `request` the policy believes `worker` has cached (the
  // conditional-disaggregation rule reads it). Default: 0 (no cache view).
  virtual int cached_tokens(const GenerationRequest& request, const WorkerView& worker);
  // A KV event of worker `worker_index`. Default: ignored.
  virtual void on_kv_event(size_t worker_index, const kv::KvEvent& event);
  // Worker `worker_index` failed or left: whatever it cached is gone (its
  // later events, if any, start afresh). Default: ignored.
  virtual void on_worker_removed(size_t worker_index);
};

struct KvRoutingOptions;

// "round_robin", "least_loaded", or "kv" (KvRoutingPolicy with `kv`, default
// options when not given). Unknown names: nullptr. Throws
// std::invalid_argument on invalid KV options (start-up error).
std::unique_ptr<RoutingPolicy> make_routing_policy(std::string_view name);
std::unique_ptr<RoutingPolicy> make_routing_policy(std::string_view name, const KvRoutingOptions& kv);

}  // namespace tandem::scheduler

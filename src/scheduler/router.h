// scheduler::Router: the GenerationService over N workers (docs/design.md, step 4).
// It validates nothing the workers validate, picks a worker with its
// RoutingPolicy among the healthy ones, and remembers which worker holds each
// request id so cancel() reaches it. KV events of every worker are forwarded
// to the policy; a worker seen failed is reported once (on_worker_removed).
//
// Metrics (in the workers' registry, when they have one):
// tandem_router_decisions_total{worker} (requests a worker accepted from the
// router).
//
// Threading: submit/cancel/ready/stats are thread-safe and never wait for a
// step (workers take requests through their inboxes). shutdown() blocks until
// the worker threads have exited.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/metrics.h"
#include "scheduler/generation.h"
#include "scheduler/routing_policy.h"
#include "scheduler/worker.h"

namespace tandem::scheduler {

struct RouterOptions {
  std::string policy = "least_loaded";  // round_robin | least_loaded | kv
  int max_queue = 256;                  // requests waiting over all workers before kQueueFull
  // Policy `kv` only (KvRoutingPolicy): cost = prefill blocks * kv_overlap_weight
  // + load blocks; router_temperature > 0 samples a softmax over the costs.
  double kv_overlap_weight = 1.0;       // [scheduler] kv_overlap_weight, >= 0
  double router_temperature = 0.0;      // [scheduler] router_temperature, >= 0
  uint64_t router_seed = 0;             // softmax sampling seed; 0 = drawn at start
};

class Router final : public GenerationService {
 public:
  // Throws std::invalid_argument on an unknown policy name, invalid KV
  // routing options or no workers (start-up errors, reported once by main).
  Router(RouterOptions options, std::vector<std::unique_ptr<Worker>> workers);
  // With a policy object (the KV-aware policy, tests); options.policy is ignored.
  Router(RouterOptions options, std::vector<std::unique_ptr<Worker>> workers,
         std::unique_ptr<RoutingPolicy> policy);
  // shutdown() with no grace period if it was not called.
  ~Router() override;

  // kUnavailable (shutting down, no healthy worker), kQueueFull (max_queue
  // reached over all workers, or every healthy worker's own queue full),
  // kInvalidRequest (empty or duplicate id, and the worker's checks),
  // kContextLengthExceeded, kKvExhausted.
  Status submit(GenerationRequest request) override;
  void cancel(const std::string& id) override;
  bool ready() const override;
  ServiceStats stats() const override;

  // Stops accepting, lets in-flight requests finish for up to `grace`, then
  // cancels the rest (final kCancelled events) and joins every worker thread.
  // Idempotent.
  void shutdown(std::chrono::milliseconds grace);

  const char* policy_name() const { return policy_->name(); }
  size_t num_workers() const { return workers_.size(); }
  const Worker& worker(size_t i) const { return *workers_.at(i); }
  const RoutingPolicy& policy() const { return *policy_; }

 private:
  void forget(const std::string& id);

  RouterOptions options_;
  std::unique_ptr<RoutingPolicy> policy_;   // outlives the workers (declared first)
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<metrics::Counter*> decisions_;           // per worker; null without a registry
  std::unique_ptr<std::atomic<bool>[]> removed_;       // on_worker_removed() sent
  std::atomic<bool> accepting_{true};
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  mutable std::mutex ids_mu_;
  std::unordered_map<std::string, size_t> owner_;  // request id -> worker index
};

}  // namespace tandem::scheduler

// scheduler::Router: the GenerationService over N workers (docs/design.md, step 4).
// It validates nothing the workers validate, picks a worker with its
// RoutingPolicy among the healthy ones, and remembers which worker holds each
// request id so cancel() reaches it. KV events of every worker are forwarded
// to the policy; a worker seen failed is reported once (on_worker_removed).
//
// Roles (disaggregated serving): workers with role kPrefill take only remote
// prefills; the others (decode, aggregated) take requests as before. Per
// request the router picks a serving worker with the policy (overlap and
// load), and, when prefill workers are healthy, a prefill worker with the same
// policy over them (overlap and prefill load); the conditional rule
// (RouterOptions) decides whether the prompt is prefilled there. A remote
// prefill's Handoff (handoff.h) is delivered to the chosen serving worker,
// else to any other healthy one; if none takes it the request ends with
// kUnavailable. cancel() sets the request's shared flag, so it reaches the
// request wherever it is, in transit included. With no healthy serving worker
// left, prefill workers serve whole requests.
//
// Metrics (in the workers' registry, when they have one):
// tandem_router_decisions_total{worker} (requests a worker accepted from the
// router), tandem_disagg_prefills_total{path="remote"|"local"} (requests
// routed while prefill workers were available), tandem_role_requests_waiting{role}
// (waiting requests per role, refreshed at each submit),
// tandem_admission_expected_ttft_seconds (the expected time to first token at
// admission: on the worker that took the request, or the lowest one when it
// was refused), tandem_admission_refusals_total{reason="max_queue"|
// "worker_queue"|"ttft_budget"} (requests refused with kQueueFull, by cause).
//
// Admission: kQueueFull when max_queue requests wait over all workers, when
// every candidate worker's own queue is full, or (admission_ttft_ms > 0) when
// every candidate's expected time to first token for the request exceeds the
// budget. The prefill worker of a remote prefill is held to the budget too (if
// it is over, the decode worker prefills); the estimate uses the prompt tokens
// the policy believes cached on that worker.
//
// Threading: submit/cancel/ready/stats are thread-safe and never wait for a
// step (workers take requests through their inboxes). shutdown() blocks until
// the worker threads have exited.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
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
  double kv_overlap_weight = 1.0;   // [scheduler] kv_overlap_weight, >= 0
  double router_temperature = 0.0;  // [scheduler] router_temperature, >= 0
  uint64_t router_seed = 0;         // softmax sampling seed; 0 = drawn at start
  // Credit of one cached leading block by the tier holding it (device, host,
  // disk): [kv] device_credit, host_credit, disk_credit, each in [0, 1].
  double tier_credit[3] = {1.0, 0.75, 0.25};
  // Conditional disaggregation (with prefill-role workers): remote prefill only
  // when the prompt tokens not cached on the chosen decode worker exceed
  // max_local_prefill_tokens and fewer than max_prefill_queue requests wait at
  // the chosen prefill worker; otherwise the decode worker prefills.
  int max_local_prefill_tokens = 1000;  // [scheduler] max_local_prefill_tokens, >= 0
  int max_prefill_queue = 2;            // [scheduler] max_prefill_queue, >= 1
  // Admission by expected wait: a worker whose expected time to first token
  // for the request (Worker::expected_first_token_seconds) exceeds this is
  // skipped; when every one does the request gets kQueueFull with a retry
  // hint of (lowest estimate - budget). 0: off (max_queue alone bounds it).
  int admission_ttft_ms = 0;  // [scheduler] admission_ttft_ms, >= 0
};

class Router final : public GenerationService {
 public:
  // Throws std::invalid_argument on an unknown policy name, invalid KV
  // routing options or no workers (start-up errors, reported once by main).
  Router(RouterOptions options, std::vector<std::unique_ptr<Worker>> workers);
  // With a policy object (the KV-aware policy, tests); options.policy is ignored.
  Router(RouterOptions options, std::vector<std::unique_ptr<Worker>> workers, std::unique_ptr<RoutingPolicy> policy);
  // shutdown() with no grace period if it was not called.
  ~Router() override;

  // kUnavailable (shutting down, no healthy worker), kQueueFull (max_queue
  // reached over all workers, every healthy worker's own queue full, or every
  // one expected over the TTFT budget: then with retry_after_seconds() set),
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

  // Changes worker i's role (Worker::set_role: applied between its steps,
  // weights untouched); routing follows once it is applied. For the planner.
  void set_role(size_t i, WorkerRole role) { workers_.at(i)->set_role(role); }

  const char* policy_name() const { return policy_->name(); }
  size_t num_workers() const { return workers_.size(); }
  const Worker& worker(size_t i) const { return *workers_.at(i); }
  const RoutingPolicy& policy() const { return *policy_; }

 private:
  struct Owner {
    size_t worker = SIZE_MAX;                      // index of the worker holding it
    std::shared_ptr<std::atomic<bool>> cancelled;  // remote prefills only
  };
  void forget(const std::string& id);
  // On the prefill worker's thread: gives a finished prefill to `decode`, else
  // to another healthy worker; ends the request when none takes it.
  void deliver(size_t decode, Handoff&& handoff);
  // The worker's expected seconds to the request's first token (nullopt: not
  // measured yet), its cached prompt tokens (the policy's view) left out.
  std::optional<double> expected_ttft(const GenerationRequest& request, const WorkerView& worker) const;
  bool over_budget(std::optional<double> seconds) const;
  // Why a request got kQueueFull (tandem_admission_refusals_total{reason}).
  enum class Refusal { kMaxQueue, kWorkerQueue, kTtftBudget };
  // Counts the refusal and returns `status`.
  Status refuse(Refusal reason, Status status);

  RouterOptions options_;
  std::unique_ptr<RoutingPolicy> policy_;  // outlives the workers (declared first)
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<metrics::Counter*> decisions_;      // per worker; null without a registry
  std::unique_ptr<std::atomic<bool>[]> removed_;  // on_worker_removed() sent
  std::atomic<bool> accepting_{true};
  std::mutex shutdown_mu_;
  bool shut_down_ = false;
  mutable std::mutex ids_mu_;
  std::unordered_map<std::string, Owner> owner_;  // request id -> where it is
  metrics::Counter* remote_prefills_ = nullptr;
  metrics::Counter* local_prefills_ = nullptr;
  metrics::Gauge* role_waiting_[3] = {};  // by WorkerRole
  metrics::Histogram* expected_ttft_ = nullptr;
  metrics::Counter* refusals_[3] = {};  // by Refusal
};

}  // namespace tandem::scheduler

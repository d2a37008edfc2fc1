// Per-worker metrics (label `worker`), registered in the process registry.
// Every handle is null when the worker runs without a registry; the update
// helpers then do nothing. Updated only by the worker thread (the metric
// objects themselves are thread-safe for readers).
#pragma once

#include <string>

#include "common/metrics.h"
#include "scheduler/worker_role.h"

namespace tandem::scheduler {

//
// Process-wide KV usage: every worker adds the change of its own figures to
// tandem_kv_cache_blocks_used / tandem_kv_cache_blocks_capacity (no label) and
// then sets tandem_kv_cache_usage_perc = used / total (0..1, vLLM's
// kv_cache_usage_perc). With several workers the ratio may lag the sums by
// one worker step; a worker's share is removed when it is destroyed.
class WorkerMetrics {
 public:
  WorkerMetrics(metrics::Registry* registry, const std::string& worker);
  ~WorkerMetrics();
  WorkerMetrics(const WorkerMetrics&) = delete;
  WorkerMetrics& operator=(const WorkerMetrics&) = delete;

  void set_queue(int running, int waiting);
  // 1 while the worker accepts work, 0 once it failed (a device fault).
  void set_healthy(bool healthy);
  void set_kv(int used_blocks, int total_blocks);
  // tandem_worker_role{worker, role}: 1 for the worker's role, 0 for the others.
  void set_role(WorkerRole role);
  void add_preemption();
  // A sequence adopted with its KV from a prefill worker: bytes imported,
  // export + import seconds, leading blocks already cached here (not copied).
  void observe_transfer(size_t bytes, double seconds, int cached_blocks);
  // A move that failed here: import error or missing prefix (it recomputes here).
  void add_transfer_failure();
  // A sequence adopted with its KV reached its first step here, `seconds`
  // after the prefill worker handed it over (prefill done -> first decode step).
  void observe_handoff(double seconds);
  void observe_step(double seconds, int tokens);
  // A request's first admission: `prompt` tokens looked up, `hit` found cached.
  void add_prefix_lookup(int prompt, int hit);

 private:
  metrics::Gauge* healthy_ = nullptr;               // tandem_worker_healthy
  metrics::Gauge* roles_[3] = {};                   // tandem_worker_role, by WorkerRole value
  metrics::Gauge* running_ = nullptr;               // tandem_worker_requests_running
  metrics::Gauge* waiting_ = nullptr;               // tandem_worker_requests_waiting
  metrics::Gauge* kv_used_ = nullptr;               // tandem_kv_blocks_used
  metrics::Gauge* kv_total_ = nullptr;              // tandem_kv_blocks_capacity
  metrics::Counter* preemptions_ = nullptr;         // tandem_preemptions_total
  metrics::Histogram* step_seconds_ = nullptr;      // tandem_step_seconds
  metrics::Histogram* step_tokens_ = nullptr;       // tandem_step_tokens
  metrics::Counter* transfer_bytes_ = nullptr;      // tandem_kv_transfer_bytes_total
  metrics::Histogram* transfer_seconds_ = nullptr;  // tandem_kv_transfer_seconds
  metrics::Counter* transfer_cached_ = nullptr;     // tandem_kv_transfer_cached_blocks_total
  metrics::Counter* transfer_failures_ = nullptr;   // tandem_kv_transfer_failures_total
  metrics::Histogram* handoff_seconds_ = nullptr;   // tandem_kv_handoff_seconds
  // Process-wide (no label; vLLM aliases in metrics::vllm_alias_table()).
  metrics::Counter* all_preemptions_ = nullptr;  // tandem_num_preemptions_total
  metrics::Counter* prefix_queries_ = nullptr;   // tandem_prefix_cache_queries_total
  metrics::Counter* prefix_hits_ = nullptr;      // tandem_prefix_cache_hits_total
  metrics::Gauge* all_used_ = nullptr;           // tandem_kv_cache_blocks_used
  metrics::Gauge* all_total_ = nullptr;          // tandem_kv_cache_blocks_capacity
  metrics::Gauge* usage_perc_ = nullptr;         // tandem_kv_cache_usage_perc
  int last_used_ = 0;                            // this worker's share of the sums
  int last_total_ = 0;
};

}  // namespace tandem::scheduler

#include "scheduler/worker_metrics.h"

namespace tandem::scheduler {

WorkerMetrics::WorkerMetrics(metrics::Registry* r, const std::string& worker) {
  if (r == nullptr) return;
  const metrics::Labels labels = {{"worker", worker}};
  healthy_ =
      &r->gauge("tandem_worker_healthy",
                "1 while the worker serves, 0 after a step failed (device fault): it takes no more work.", labels);
  for (WorkerRole role : {WorkerRole::kAggregated, WorkerRole::kPrefill, WorkerRole::kDecode}) {
    roles_[static_cast<int>(role)] =
        &r->gauge("tandem_worker_role", "1 for the worker's role (aggregated, prefill, decode), 0 for the others.",
                  {{"worker", worker}, {"role", worker_role_name(role)}});
  }
  running_ = &r->gauge("tandem_worker_requests_running", "Requests in the worker's step batch.", labels);
  waiting_ =
      &r->gauge("tandem_worker_requests_waiting", "Requests queued at the worker, preempted ones included.", labels);
  kv_used_ = &r->gauge("tandem_kv_blocks_used", "KV blocks held by running requests.", labels);
  kv_total_ = &r->gauge("tandem_kv_blocks_capacity", "KV blocks in the worker's pool.", labels);
  preemptions_ =
      &r->counter("tandem_preemptions_total", "Requests preempted (blocks freed, recomputed later).", labels);
  step_seconds_ = &r->histogram("tandem_step_seconds", "Duration of one worker step.",
                                metrics::exponential_buckets(0.0005, 2.0, 16), labels);
  step_tokens_ = &r->histogram("tandem_step_tokens", "Tokens computed in one worker step.",
                               metrics::exponential_buckets(1.0, 2.0, 14), labels);
  transfer_bytes_ = &r->counter("tandem_kv_transfer_bytes_total",
                                "KV bytes imported from prefill workers (disaggregated serving).", labels);
  transfer_seconds_ = &r->histogram("tandem_kv_transfer_seconds",
                                    "Time to move one sequence's KV from a prefill worker (export + import).",
                                    metrics::exponential_buckets(0.00005, 2.0, 16), labels);
  transfer_cached_ = &r->counter("tandem_kv_transfer_cached_blocks_total",
                                 "Blocks of handed-over sequences already cached here, so not copied.", labels);
  transfer_failures_ = &r->counter("tandem_kv_transfer_failures_total",
                                   "KV moves that failed here (import error, or a leading block not sent was no "
                                   "longer cached); the sequence was prefilled here instead.",
                                   labels);
  handoff_seconds_ = &r->histogram("tandem_kv_handoff_seconds",
                                   "Time from a prefill worker handing a sequence over (prefill done, first token "
                                   "out) to the first step here that includes it (disaggregated serving).",
                                   metrics::exponential_buckets(0.00005, 1.5, 28), labels);
  all_preemptions_ = &r->counter("tandem_num_preemptions_total", "Preempted sequences, all workers.");
  prefix_queries_ = &r->counter("tandem_prefix_cache_queries_total", "Prompt tokens looked up in the prefix cache.");
  prefix_hits_ = &r->counter("tandem_prefix_cache_hits_total", "Prompt tokens found in the prefix cache.");
  all_used_ = &r->gauge("tandem_kv_cache_blocks_used", "KV blocks held by requests, all workers.");
  all_total_ = &r->gauge("tandem_kv_cache_blocks_capacity", "KV blocks in all workers' pools.");
  usage_perc_ = &r->gauge("tandem_kv_cache_usage_perc", "Fraction of all workers' KV blocks held by requests (0..1).");
}

WorkerMetrics::~WorkerMetrics() { set_kv(0, 0); }

void WorkerMetrics::set_queue(int running, int waiting) {
  if (running_) running_->set(running);
  if (waiting_) waiting_->set(waiting);
}

void WorkerMetrics::set_healthy(bool healthy) {
  if (healthy_) healthy_->set(healthy ? 1 : 0);
}

void WorkerMetrics::set_kv(int used_blocks, int total_blocks) {
  if (kv_used_) kv_used_->set(used_blocks);
  if (kv_total_) kv_total_->set(total_blocks);
  if (!all_used_) return;
  all_used_->add(used_blocks - last_used_);
  all_total_->add(total_blocks - last_total_);
  last_used_ = used_blocks;
  last_total_ = total_blocks;
  const double total = all_total_->value();
  usage_perc_->set(total > 0 ? all_used_->value() / total : 0.0);
}

void WorkerMetrics::set_role(WorkerRole role) {
  for (int i = 0; i < 3; ++i) {
    if (roles_[i]) roles_[i]->set(i == static_cast<int>(role) ? 1 : 0);
  }
}

void WorkerMetrics::observe_transfer(size_t bytes, double seconds, int cached_blocks) {
  if (transfer_bytes_) transfer_bytes_->inc(static_cast<double>(bytes));
  if (transfer_seconds_) transfer_seconds_->observe(seconds);
  if (transfer_cached_) transfer_cached_->inc(cached_blocks);
}

void WorkerMetrics::observe_handoff(double seconds) {
  if (handoff_seconds_) handoff_seconds_->observe(seconds);
}

void WorkerMetrics::add_transfer_failure() {
  if (transfer_failures_) transfer_failures_->inc();
}

void WorkerMetrics::add_preemption() {
  if (preemptions_) preemptions_->inc();
  if (all_preemptions_) all_preemptions_->inc();
}

void WorkerMetrics::add_prefix_lookup(int prompt, int hit) {
  if (prefix_queries_) prefix_queries_->inc(prompt);
  if (prefix_hits_) prefix_hits_->inc(hit);
}

void WorkerMetrics::observe_step(double seconds, int tokens) {
  if (step_seconds_) step_seconds_->observe(seconds);
  if (step_tokens_) step_tokens_->observe(tokens);
}

}  // namespace tandem::scheduler

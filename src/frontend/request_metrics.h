// frontend::RequestMetrics: the frontend's metrics (vLLM semantics, tandem_*
// names; the registry adds the vllm:* aliases) and their histogram buckets,
// all in one place.
//
//   tandem_time_to_first_token_seconds    histogram  arrival -> first token event
//   tandem_inter_token_latency_seconds    histogram  gap between token events, per token
//   tandem_e2e_request_latency_seconds    histogram  arrival -> final event, per choice
//   tandem_request_queue_time_seconds     histogram  TokenEvent::queue_seconds
//   tandem_prompt_tokens_total            counter
//   tandem_generation_tokens_total        counter
//   tandem_request_success_total{finished_reason}   counter (stop, length, abort)
//   tandem_num_requests_running / _waiting          gauges, from GenerationService::stats() at scrape
//   tandem_http_requests_total{route,status}        counter
//
// Threading: every method is thread-safe; the object lives as long as the server.
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "common/metrics.h"
#include "scheduler/generation.h"

namespace tandem::frontend {

// vLLM's bucket boundaries (seconds).
const std::vector<double>& ttft_buckets();
const std::vector<double>& inter_token_latency_buckets();
const std::vector<double>& request_latency_buckets();  // e2e and queue time

class RequestMetrics {
 public:
  explicit RequestMetrics(metrics::Registry& registry);

  metrics::Histogram& ttft;
  metrics::Histogram& inter_token_latency;
  metrics::Histogram& e2e_latency;
  metrics::Histogram& queue_time;
  metrics::Counter& prompt_tokens;
  metrics::Counter& generation_tokens;

  // finished_reason is "stop", "length" or "abort".
  void request_finished(const char* finished_reason);
  // One HTTP response; route is a fixed label such as "/v1/completions".
  void http_request(const char* route, int status);
  // Refreshes the running/waiting gauges.
  void update_service_stats(const scheduler::ServiceStats& stats);

 private:
  metrics::Registry& registry_;
  metrics::Counter& success_stop_;
  metrics::Counter& success_length_;
  metrics::Counter& success_abort_;
  metrics::Gauge& running_;
  metrics::Gauge& waiting_;
  std::mutex mu_;
  std::map<std::pair<const char*, int>, metrics::Counter*> http_;
};

}  // namespace tandem::frontend

// frontend::RequestMetrics: the frontend's metrics (vLLM semantics, tandem_*
// names; the registry adds the vllm:* aliases) and their histogram buckets,
// all in one place.
//
//   tandem_time_to_first_token_seconds    histogram  arrival -> first token event
//   tandem_inter_token_latency_seconds    histogram  gap between token events, per token
//   tandem_e2e_request_latency_seconds    histogram  arrival -> final event, per choice
//   tandem_request_queue_time_seconds     histogram  TokenEvent::queue_seconds
//   tandem_request_prefill_time_seconds   histogram  arrival -> first token, less the queue time, per choice
//   tandem_request_decode_time_seconds    histogram  first token -> final event, per choice
//   tandem_request_prompt_tokens          histogram  prompt tokens, per choice
//   tandem_request_generation_tokens      histogram  generated tokens, per choice
//   tandem_request_max_num_generation_tokens  histogram  the choice's max_tokens (after defaults)
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
const std::vector<double>& request_latency_buckets();  // e2e, queue, prefill and decode time
// Token counts: 1, 2, 5, 10, 20, 50, ... up to 1M (vLLM's 1-2-5 series).
const std::vector<double>& token_count_buckets();

class RequestMetrics {
 public:
  explicit RequestMetrics(metrics::Registry& registry);

  metrics::Histogram& ttft;
  metrics::Histogram& inter_token_latency;
  metrics::Histogram& e2e_latency;
  metrics::Histogram& queue_time;
  metrics::Histogram& prefill_time;
  metrics::Histogram& decode_time;
  metrics::Histogram& request_prompt_tokens;
  metrics::Histogram& request_generation_tokens;
  metrics::Histogram& request_max_tokens;
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

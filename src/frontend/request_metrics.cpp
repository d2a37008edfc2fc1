#include "frontend/request_metrics.h"

#include <cstring>

namespace tandem::frontend {

const std::vector<double>& ttft_buckets() {
  static const std::vector<double> k = {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1,  0.25,  0.5,   0.75,
                                        1.0,   2.5,   5.0,  7.5,  10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0};
  return k;
}

const std::vector<double>& inter_token_latency_buckets() {
  static const std::vector<double> k = {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
                                        0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
  return k;
}

const std::vector<double>& request_latency_buckets() {
  static const std::vector<double> k = {0.3,  0.5,  0.8,  1.0,  1.5,   2.0,   2.5,   5.0,   10.0,   15.0,  20.0,
                                        30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0};
  return k;
}

const std::vector<double>& token_count_buckets() {
  static const std::vector<double> k = [] {
    std::vector<double> b;
    for (double decade = 1; decade <= 1e6; decade *= 10) {
      for (double m : {1.0, 2.0, 5.0}) {
        if (m * decade <= 1e6) b.push_back(m * decade);
      }
    }
    return b;
  }();
  return k;
}

namespace {
constexpr const char* kSuccessHelp = "Count of successfully processed requests, by finish reason.";
}  // namespace

RequestMetrics::RequestMetrics(metrics::Registry& registry)
    : ttft(registry.histogram("tandem_time_to_first_token_seconds", "Histogram of time to first token in seconds.",
                              ttft_buckets())),
      inter_token_latency(registry.histogram("tandem_inter_token_latency_seconds",
                                             "Histogram of inter-token latency in seconds.",
                                             inter_token_latency_buckets())),
      e2e_latency(registry.histogram("tandem_e2e_request_latency_seconds",
                                     "Histogram of end-to-end request latency in seconds.", request_latency_buckets())),
      queue_time(registry.histogram("tandem_request_queue_time_seconds",
                                    "Histogram of time spent waiting in the queue in seconds.",
                                    request_latency_buckets())),
      prefill_time(registry.histogram("tandem_request_prefill_time_seconds",
                                      "Histogram of time spent in the prefill phase in seconds.",
                                      request_latency_buckets())),
      decode_time(registry.histogram("tandem_request_decode_time_seconds",
                                     "Histogram of time spent in the decode phase in seconds.",
                                     request_latency_buckets())),
      request_prompt_tokens(registry.histogram("tandem_request_prompt_tokens",
                                               "Histogram of the number of prompt tokens per request.",
                                               token_count_buckets())),
      request_generation_tokens(registry.histogram("tandem_request_generation_tokens",
                                                   "Histogram of the number of generated tokens per request.",
                                                   token_count_buckets())),
      request_max_tokens(registry.histogram("tandem_request_max_num_generation_tokens",
                                            "Histogram of the maximum number of requested generation tokens.",
                                            token_count_buckets())),
      prompt_tokens(registry.counter("tandem_prompt_tokens_total", "Number of prefill tokens processed.")),
      generation_tokens(registry.counter("tandem_generation_tokens_total", "Number of generation tokens processed.")),
      registry_(registry),
      success_stop_(registry.counter("tandem_request_success_total", kSuccessHelp, {{"finished_reason", "stop"}})),
      success_length_(registry.counter("tandem_request_success_total", kSuccessHelp, {{"finished_reason", "length"}})),
      success_abort_(registry.counter("tandem_request_success_total", kSuccessHelp, {{"finished_reason", "abort"}})),
      running_(registry.gauge("tandem_num_requests_running", "Number of requests being generated.")),
      waiting_(registry.gauge("tandem_num_requests_waiting", "Number of requests waiting to be scheduled.")) {}

void RequestMetrics::request_finished(const char* finished_reason) {
  if (std::strcmp(finished_reason, "stop") == 0) {
    success_stop_.inc();
  } else if (std::strcmp(finished_reason, "length") == 0) {
    success_length_.inc();
  } else {
    success_abort_.inc();
  }
}

void RequestMetrics::http_request(const char* route, int status) {
  metrics::Counter* c = nullptr;
  {
    std::lock_guard lock(mu_);
    auto& slot = http_[{route, status}];
    if (slot == nullptr) {
      slot = &registry_.counter("tandem_http_requests_total", "HTTP responses by route and status.",
                                {{"route", route}, {"status", std::to_string(status)}});
    }
    c = slot;
  }
  c->inc();
}

void RequestMetrics::update_service_stats(const scheduler::ServiceStats& stats) {
  running_.set(stats.running);
  waiting_.set(stats.waiting);
}

}  // namespace tandem::frontend

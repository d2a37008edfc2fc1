// main::StatsLine: the periodic operator line of `tandem serve` (like vLLM's
// "Avg prompt throughput ..." line), for terminal and container users who do
// not scrape /metrics:
//   [stats] prompt 812.0 tok/s, generation 95.3 tok/s, running 4, waiting 0, KV cache 12.5%,
//   prefix cache hits 37.0%
// Throughputs and the hit rate are over the last interval; running, waiting
// and KV use are the values now. Read from the metrics registry, the same
// numbers Prometheus scrapes.
//
// Threading: one caller (serve's main loop); the registry is thread-safe.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "common/metrics.h"

namespace tandem::main {

class StatsLine {
 public:
  using Clock = std::chrono::steady_clock;

  // interval > 0. The registry must outlive this object.
  StatsLine(const metrics::Registry& registry, std::chrono::milliseconds interval, Clock::time_point now);

  // The line, once `interval` has passed since the last one, when something
  // happened in the interval or requests are running or waiting; nullopt
  // otherwise (an idle server writes nothing).
  std::optional<std::string> tick(Clock::time_point now);

 private:
  struct Sample {
    double prompt_tokens = 0;
    double generation_tokens = 0;
    double prefix_queries = 0;
    double prefix_hits = 0;
  };
  Sample sample() const;

  const metrics::Registry& registry_;
  std::chrono::milliseconds interval_;
  Clock::time_point last_;
  Sample last_sample_;
};

}  // namespace tandem::main

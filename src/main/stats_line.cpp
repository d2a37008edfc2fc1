#include "main/stats_line.h"

#include <spdlog/fmt/fmt.h>

namespace tandem::main {

StatsLine::StatsLine(const metrics::Registry& registry, std::chrono::milliseconds interval, Clock::time_point now)
    : registry_(registry), interval_(interval), last_(now), last_sample_(sample()) {}

StatsLine::Sample StatsLine::sample() const {
  Sample s;
  s.prompt_tokens = registry_.total("tandem_prompt_tokens_total");
  s.generation_tokens = registry_.total("tandem_generation_tokens_total");
  s.prefix_queries = registry_.total("tandem_prefix_cache_queries_total");
  s.prefix_hits = registry_.total("tandem_prefix_cache_hits_total");
  return s;
}

std::optional<std::string> StatsLine::tick(Clock::time_point now) {
  if (now - last_ < interval_) return std::nullopt;
  const double seconds = std::chrono::duration<double>(now - last_).count();
  const Sample cur = sample();
  const Sample prev = last_sample_;
  last_ = now;
  last_sample_ = cur;
  const double running = registry_.total("tandem_worker_requests_running");
  const double waiting = registry_.total("tandem_worker_requests_waiting");
  const double prompt = cur.prompt_tokens - prev.prompt_tokens;
  const double generated = cur.generation_tokens - prev.generation_tokens;
  if (prompt == 0 && generated == 0 && running == 0 && waiting == 0) return std::nullopt;
  const double queries = cur.prefix_queries - prev.prefix_queries;
  const double hits = cur.prefix_hits - prev.prefix_hits;
  return fmt::format(
      "prompt {:.1f} tok/s, generation {:.1f} tok/s, running {:.0f}, waiting {:.0f}, KV cache {:.1f}%, "
      "prefix cache hits {:.1f}%",
      prompt / seconds, generated / seconds, running, waiting, 100.0 * registry_.total("tandem_kv_cache_usage_perc"),
      queries > 0 ? 100.0 * hits / queries : 0.0);
}

}  // namespace tandem::main

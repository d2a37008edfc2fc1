#include "main/stats_line.h"

#include <gtest/gtest.h>

#include <chrono>

namespace tandem::main {
namespace {

using namespace std::chrono_literals;

struct Rig {
  metrics::Registry registry;
  metrics::Counter& prompt = registry.counter("tandem_prompt_tokens_total", "h");
  metrics::Counter& generated = registry.counter("tandem_generation_tokens_total", "h");
  metrics::Counter& queries = registry.counter("tandem_prefix_cache_queries_total", "h");
  metrics::Counter& hits = registry.counter("tandem_prefix_cache_hits_total", "h");
  metrics::Gauge& running0 = registry.gauge("tandem_worker_requests_running", "h", {{"worker", "w0"}});
  metrics::Gauge& running1 = registry.gauge("tandem_worker_requests_running", "h", {{"worker", "w1"}});
  metrics::Gauge& waiting = registry.gauge("tandem_worker_requests_waiting", "h", {{"worker", "w0"}});
  metrics::Gauge& kv = registry.gauge("tandem_kv_cache_usage_perc", "h");
  StatsLine::Clock::time_point t0{};
};

TEST(StatsLine, ReportsTheIntervalsRatesAndTheCurrentQueue) {
  Rig r;
  r.prompt.inc(100);  // before the line started: not in any interval
  StatsLine line(r.registry, 10s, r.t0);
  r.prompt.inc(8000);
  r.generated.inc(500);
  r.queries.inc(4000);
  r.hits.inc(1000);
  r.running0.set(3);
  r.running1.set(1);
  r.waiting.set(2);
  r.kv.set(0.125);
  EXPECT_FALSE(line.tick(r.t0 + 9s).has_value()) << "before the interval has passed";
  auto text = line.tick(r.t0 + 10s);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(*text,
            "prompt 800.0 tok/s, generation 50.0 tok/s, running 4, waiting 2, KV cache 12.5%, prefix cache hits 25.0%");
}

TEST(StatsLine, AnIdleServerWritesNothingAndTheNextLineCountsOnlyItsOwnInterval) {
  Rig r;
  StatsLine line(r.registry, 10s, r.t0);
  EXPECT_FALSE(line.tick(r.t0 + 10s).has_value()) << "nothing happened and nothing is queued";
  r.generated.inc(30);
  auto text = line.tick(r.t0 + 25s);
  ASSERT_TRUE(text.has_value());
  EXPECT_NE(text->find("generation 2.0 tok/s"), std::string::npos) << *text;
  EXPECT_NE(text->find("prefix cache hits 0.0%"), std::string::npos) << *text;
  EXPECT_FALSE(line.tick(r.t0 + 40s).has_value()) << "the tokens were counted in the previous line";
}

}  // namespace
}  // namespace tandem::main

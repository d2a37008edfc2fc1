#include "main/planner_tick.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

namespace tandem::main {
namespace {

using namespace std::chrono_literals;
using scheduler::WorkerRole;

// The registry as serve fills it (the router's, the frontend's series), four
// workers whose roles the hooks keep, and what the tick did.
struct Rig {
  metrics::Registry registry;
  metrics::Counter& accepted = registry.counter("tandem_router_decisions_total", "h", {{"worker", "cpu0"}});
  metrics::Histogram& prompt = registry.histogram("tandem_request_prompt_tokens", "h", {100, 1000, 10000});
  metrics::Histogram& output = registry.histogram("tandem_request_generation_tokens", "h", {100, 1000, 10000});
  metrics::Histogram& ttft = registry.histogram("tandem_time_to_first_token_seconds", "h", {0.1, 0.5, 1.0, 5.0});
  metrics::Histogram& itl = registry.histogram("tandem_inter_token_latency_seconds", "h", {0.01, 0.05, 0.1});
  std::vector<WorkerRole> roles = std::vector<WorkerRole>(4, WorkerRole::kAggregated);
  std::vector<std::pair<size_t, WorkerRole>> set;
  std::vector<PlannerDecision> recorded;
  PlannerTick::Clock::time_point t0{};

  PlannerTick make(int interval_s = 5) {
    auto profile =
        scheduler::load_planner_profile(std::string(TANDEM_SOURCE_DIR) + "/bench/planner/synthetic_profile.json");
    EXPECT_TRUE(profile.ok()) << profile.status().message();
    scheduler::PlannerOptions o;
    o.interval_s = interval_s;
    PlannerTick::Hooks h;
    h.workers = [this] {
      std::vector<scheduler::PlannerWorker> w;
      for (WorkerRole r : roles) w.push_back({r, 0});
      return w;
    };
    h.set_role = [this](size_t i, WorkerRole r) {
      set.push_back({i, r});
      roles[i] = r;
    };
    h.worker_name = [](size_t i) { return "cpu" + std::to_string(i); };
    h.record = [this](PlannerDecision d) { recorded.push_back(std::move(d)); };
    return PlannerTick(registry, o, profile->shapes.front(), std::move(h), t0);
  }

  // n requests of `p` prompt and `o` output tokens, accepted and finished.
  void serve(int n, double p, double o, double ttft_s) {
    for (int i = 0; i < n; ++i) {
      accepted.inc();
      prompt.observe(p);
      output.observe(o);
      ttft.observe(ttft_s);
      itl.observe(0.02);
    }
  }
  double value(const std::string& name, const metrics::Labels& labels = {}) {
    for (const auto& s : registry.series(name)) {
      if (s.labels == labels) return s.value;
    }
    return -1;
  }
};

TEST(PlannerTick, DecidesOncePerIntervalFromTheRegistryDeltas) {
  Rig rig;
  rig.serve(500, 300, 400, 0.2);  // before the planner starts: not counted
  PlannerTick tick = rig.make();
  EXPECT_FALSE(tick.tick(rig.t0 + 4s, 4000).has_value());  // interval not over
  // 5 s of long prompts at 14 req/s: all-aggregated cannot meet the TTFT target.
  rig.serve(70, 3000, 80, 0.3);
  auto d = tick.tick(rig.t0 + 5s, 5000);
  ASSERT_TRUE(d.has_value());
  EXPECT_NEAR(d->predicted_rps, 14, 1e-9);
  EXPECT_NEAR(d->predicted_prompt_tps, 14 * 3000, 1e-6);
  EXPECT_NEAR(d->predicted_output_tps, 14 * 80, 1e-6);
  ASSERT_FALSE(d->changes.empty()) << d->reason;
  // The changes went to the workers, the metrics and the dashboard.
  EXPECT_EQ(rig.set.size(), d->changes.size());
  int prefill = 0;
  for (WorkerRole r : rig.roles) prefill += r == WorkerRole::kPrefill;
  EXPECT_EQ(prefill, d->plan.prefill);
  EXPECT_EQ(rig.value("tandem_planner_decisions_total", {{"action", "role_change"}}),
            static_cast<double>(d->changes.size()));
  EXPECT_EQ(rig.value("tandem_planner_decisions_total", {{"action", "keep"}}), 0);
  EXPECT_NEAR(rig.value("tandem_planner_predicted_rps"), 14, 1e-9);
  EXPECT_EQ(rig.value("tandem_planner_prefill_workers"), d->plan.prefill);
  ASSERT_EQ(rig.recorded.size(), d->changes.size());
  EXPECT_EQ(rig.recorded[0].action, "role");
  EXPECT_EQ(rig.recorded[0].unix_ms, 5000);
  EXPECT_EQ(rig.recorded[0].worker, "cpu" + std::to_string(d->changes[0].worker));
  EXPECT_EQ(rig.recorded[0].from, "aggregated");
  EXPECT_EQ(rig.recorded[0].reason, d->reason);

  // A quiet interval right after: nothing arrives, nothing changes (hysteresis), one keep.
  EXPECT_FALSE(tick.tick(rig.t0 + 7s, 7000).has_value());
  d = tick.tick(rig.t0 + 10s, 10000);
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(d->changes.empty()) << d->reason;
  EXPECT_EQ(rig.value("tandem_planner_decisions_total", {{"action", "keep"}}), 1);
}

TEST(PlannerTick, MeasuresTheIntervalsLatencies) {
  Rig rig;
  PlannerTick tick = rig.make(1);
  rig.serve(10, 300, 100, 3.0);  // every TTFT in (1, 5]
  auto d = tick.tick(rig.t0 + 1s, 1000);
  ASSERT_TRUE(d.has_value());
  EXPECT_NE(d->reason.find("measured/target 4.80"), std::string::npos) << d->reason;  // p95 4.8 s of 1 s
  rig.serve(10, 300, 100, 0.05);
  d = tick.tick(rig.t0 + 2s, 2000);
  ASSERT_TRUE(d.has_value());
  // Only this interval's observations: TTFT p95 in (0, 0.1] -> 0.095 s of 1 s; ITL p95 in (0.01, 0.05]
  // -> 0.048 s of 0.05 s: the larger ratio, 0.96, is shown.
  EXPECT_NE(d->reason.find("measured/target 0.96"), std::string::npos) << d->reason;
}

}  // namespace
}  // namespace tandem::main

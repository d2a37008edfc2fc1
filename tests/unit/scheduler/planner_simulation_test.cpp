// The SLA planner in the discrete-event model (scheduler/planner_simulation.h):
// the model's timings against the profile, and the planner against every
// static split on the bursty trace (issue #26's goal). The figures are in
// docs/benchmarks.md (bench/planner/planner_sim prints them).
#include "scheduler/planner_simulation.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

namespace tandem::scheduler {
namespace {

PlannerShape bench_shape() {
  auto p = load_planner_profile(std::string(TANDEM_SOURCE_DIR) + "/bench/planner/synthetic_profile.json");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? p->shapes.front() : PlannerShape{};
}

SimOptions statics(int workers, int prefill, bool admission) {
  SimOptions o;
  o.workers = workers;
  o.static_prefill = prefill;
  o.admission = admission;
  return o;
}

TEST(PlannerSimulation, OneRequestTakesTheProfileTimes) {
  const PlannerShape shape = bench_shape();
  const std::vector<SimRequest> one = {{0.5, 1000, 11}};
  const SimResult agg = simulate_planner(one, shape, statics(1, 0, false));
  EXPECT_EQ(agg.violations, 0);
  EXPECT_DOUBLE_EQ(agg.ttft_p95_s, shape.prefill_seconds(1000));
  double decode = 0;  // ten steps of batch 1 at context 1001 .. 1010
  for (int ctx = 1001; ctx <= 1010; ++ctx) decode += shape.decode_seconds(1, ctx);
  EXPECT_NEAR(agg.tpot_p95_s, decode / 10, 1e-12);
  EXPECT_NEAR(agg.end_s, 0.5 + shape.prefill_seconds(1000) + decode, 1e-9);
  EXPECT_NEAR(agg.busy_gpu_seconds, shape.prefill_seconds(1000) + decode, 1e-9);

  // 1 prefill + 1 decode: the same, plus the hand-off delay in the first gap.
  SimOptions o = statics(2, 1, false);
  o.handoff_s = 0.01;
  const SimResult pd = simulate_planner(one, shape, o);
  EXPECT_DOUBLE_EQ(pd.ttft_p95_s, shape.prefill_seconds(1000));
  EXPECT_NEAR(pd.tpot_p95_s, (decode + 0.01) / 10, 1e-12);
  EXPECT_NEAR(pd.gpu_seconds, 2 * pd.end_s, 1e-9);
}

TEST(PlannerSimulation, ConditionalDisaggregationKeepsShortPromptsLocal) {
  const PlannerShape shape = bench_shape();
  SimOptions o = statics(2, 1, false);
  o.handoff_s = 0.01;
  o.max_local_prefill_tokens = 1000;
  o.max_prefill_queue = 2;
  double decode = 0;  // ten steps of batch 1 at context 501 .. 510
  for (int ctx = 501; ctx <= 510; ++ctx) decode += shape.decode_seconds(1, ctx);
  // 500 tokens: prefilled by the decode worker itself, no hand-off in the first gap.
  const SimResult local = simulate_planner({{0.0, 500, 11}}, shape, o);
  EXPECT_DOUBLE_EQ(local.ttft_p95_s, shape.prefill_seconds(500));
  EXPECT_NEAR(local.tpot_p95_s, decode / 10, 1e-12);
  // 1500 tokens: remote, so the hand-off delay is in the first gap.
  const SimResult remote = simulate_planner({{0.0, 1500, 11}}, shape, o);
  double decode2 = 0;
  for (int ctx = 1501; ctx <= 1510; ++ctx) decode2 += shape.decode_seconds(1, ctx);
  EXPECT_NEAR(remote.tpot_p95_s, (decode2 + 0.01) / 10, 1e-12);
  // Three long prompts at once with max_prefill_queue 2: the third is prefilled locally, in parallel.
  const SimResult three = simulate_planner({{0.0, 1500, 2}, {0.0, 1500, 2}, {0.0, 1500, 2}}, shape, o);
  // All three remote would end after ~0.31 s of prefill steps (4500 tokens in chunks of 2048) + hand-off + decode.
  EXPECT_LT(three.end_s, 2 * shape.prefill_seconds(1500) + 0.01 + shape.decode_seconds(2, 1501) + 0.03);
  EXPECT_GT(shape.prefill_seconds(2048) * 2 + shape.prefill_seconds(404),
            2 * shape.prefill_seconds(1500) + shape.decode_seconds(2, 1501) + 0.04);  // the two cases differ
}

TEST(PlannerSimulation, LightLoadMeetsTheTargetsEverywhere) {
  TraceOptions t;
  t.knots = {{0, 1, 0.3}, {120, 1, 0.3}};
  const auto trace = make_trace(t);
  ASSERT_GT(trace.size(), 60u);
  const PlannerShape shape = bench_shape();
  for (int p = 0; p < 4; ++p) {
    const SimResult r = simulate_planner(trace, shape, statics(4, p, false));
    EXPECT_EQ(r.requests, static_cast<int>(trace.size()));
    EXPECT_EQ(r.violations, 0) << p;
    EXPECT_LE(r.busy_gpu_seconds, r.gpu_seconds);
  }
  SimOptions o = statics(4, 0, true);
  o.use_planner = true;
  EXPECT_EQ(simulate_planner(trace, shape, o).violations, 0);
}

TEST(PlannerSimulation, TraceHasItsRampsAndSpikes) {
  const auto trace = make_trace(bursty_trace_options(1));
  auto rate = [&](double from, double to) {
    return std::count_if(trace.begin(), trace.end(),
                         [&](const SimRequest& r) { return r.arrival_s >= from && r.arrival_s < to; }) /
           (to - from);
  };
  EXPECT_NEAR(rate(0, 60), 2, 0.6);
  EXPECT_NEAR(rate(241, 260), 18, 3);  // the document spike
  EXPECT_NEAR(rate(421, 440), 16, 3);  // the chat spike
  EXPECT_NEAR(rate(441, 600), 6, 0.8);
  EXPECT_EQ(make_trace(bursty_trace_options(1)).size(), trace.size());  // seeded
  EXPECT_NE(make_trace(bursty_trace_options(2)).size(), trace.size());
}

TEST(PlannerSimulation, IsDeterministic) {
  const auto trace = make_trace(bursty_trace_options(1));
  SimOptions o = statics(4, 0, true);
  o.use_planner = true;
  const SimResult a = simulate_planner(trace, bench_shape(), o), b = simulate_planner(trace, bench_shape(), o);
  EXPECT_EQ(a.violations, b.violations);
  EXPECT_EQ(a.role_changes, b.role_changes);
  EXPECT_EQ(a.busy_gpu_seconds, b.busy_gpu_seconds);
  EXPECT_EQ(a.log, b.log);
}

// Issue #26's goal: at most half the SLA violations of the best static split
// with the same number of workers. The static splits run as serve does today
// (no admission limits); the planner sets roles and admission limits.
TEST(PlannerSimulation, PlannerHalvesTheViolationsOfTheBestStaticSplit) {
  const PlannerShape shape = bench_shape();
  const auto trace = make_trace(bursty_trace_options(1));
  int best = -1;
  double static_gpu_s = 0;
  for (int p = 0; p < 4; ++p) {
    const SimResult r = simulate_planner(trace, shape, statics(4, p, false));
    if (best < 0 || r.violations < best) {
      best = r.violations;
      static_gpu_s = r.gpu_seconds;
    }
  }
  SimOptions o = statics(4, 0, true);
  o.use_planner = true;
  const SimResult planned = simulate_planner(trace, shape, o);
  EXPECT_EQ(planned.requests, static_cast<int>(trace.size()));  // every request accounted for
  EXPECT_GT(planned.role_changes, 0);  // it did flip workers with work in flight, and lost nothing
  EXPECT_GT(best, 0);
  EXPECT_LE(2 * planned.violations, best) << planned.violations << " vs " << best;
  EXPECT_LE(planned.gpu_seconds, 1.01 * static_gpu_s);  // equal GPUs, no longer held
}

// With the planner's admission rule given to the static splits too, the
// planner still does no worse than the best of them, summed over three seeds
// (on seed 1 alone they are within one request: docs/benchmarks.md).
TEST(PlannerSimulation, PlannerMatchesStaticSplitsWithTheSameAdmission) {
  const PlannerShape shape = bench_shape();
  int planner = 0, best_static = 0;
  for (uint64_t seed : {1, 2, 3}) {
    const auto trace = make_trace(bursty_trace_options(seed));
    int best = -1;
    for (int p = 0; p < 4; ++p) {
      const SimResult r = simulate_planner(trace, shape, statics(4, p, true));
      if (best < 0 || r.violations < best) best = r.violations;
    }
    SimOptions o = statics(4, 0, true);
    o.use_planner = true;
    planner += simulate_planner(trace, shape, o).violations;
    best_static += best;
  }
  EXPECT_LE(planner, best_static);
}

}  // namespace
}  // namespace tandem::scheduler

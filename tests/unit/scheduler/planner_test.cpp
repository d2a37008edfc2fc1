#include "scheduler/planner.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tandem::scheduler {
namespace {

PlannerShape bench_shape() {
  auto p = load_planner_profile(std::string(TANDEM_SOURCE_DIR) + "/bench/planner/synthetic_profile.json");
  EXPECT_TRUE(p.ok()) << p.status().message();
  return p.ok() ? p->shapes.front() : PlannerShape{};
}

// One interval of `rps` requests/s with the given lengths, at steady state.
PlannerObservation steady(double rps, double prompt, double output, double interval = 5) {
  PlannerObservation o;
  o.interval_s = interval;
  o.arrivals = rps * interval;
  o.prompt_tokens = o.arrivals * prompt;
  o.finished = o.arrivals;
  o.output_tokens = o.finished * output;
  return o;
}

std::vector<PlannerWorker> split(int p, int n) {
  std::vector<PlannerWorker> w(n);
  for (int i = 0; i < n; ++i) {
    w[i].role = p == 0 ? WorkerRole::kAggregated : (i < p ? WorkerRole::kPrefill : WorkerRole::kDecode);
  }
  return w;
}

void apply_changes(std::vector<PlannerWorker>& w, const PlanDecision& d) {
  for (const auto& c : d.changes) {
    EXPECT_EQ(w[c.worker].role, c.from);
    w[c.worker].role = c.to;
  }
}

TEST(Planner, SidesScaleWithTheirDemand) {
  Planner p({}, bench_shape());
  p.step(steady(5, 1500, 200), split(0, 4));  // sets the mean lengths
  // More prefill workers: prefill utilisation falls, decode utilisation rises.
  const Plan p1 = p.evaluate(1, 4, 20000, 2000), p2 = p.evaluate(2, 4, 20000, 2000), p3 = p.evaluate(3, 4, 20000, 2000);
  EXPECT_GT(p1.u_prefill, p2.u_prefill);
  EXPECT_GT(p2.u_prefill, p3.u_prefill);
  EXPECT_LT(p1.u_decode, p2.u_decode);
  EXPECT_LT(p2.u_decode, p3.u_decode);
  EXPECT_NEAR(p1.u_prefill, 2 * p2.u_prefill, 1e-9);  // linear in the workers given
  // Utilisation is linear in demand.
  EXPECT_NEAR(p.evaluate(2, 4, 40000, 4000).u_prefill, 2 * p2.u_prefill, 1e-9);
  EXPECT_NEAR(p.evaluate(2, 4, 40000, 4000).u_decode, 2 * p2.u_decode, 1e-9);
  EXPECT_GE(p2.decode_max_running, 1);
  EXPECT_LE(p2.decode_max_running, 64);
  EXPECT_GT(p2.max_prefill_queue_tokens, 0);
}

// The disaggregated split the model scores best at a demand (1..n-1).
int best_disaggregated(const Planner& p, int n, double prompt_tps, double output_tps) {
  int best = 1;
  for (int k = 2; k < n; ++k) {
    if (p.evaluate(k, n, prompt_tps, output_tps).score < p.evaluate(best, n, prompt_tps, output_tps).score) best = k;
  }
  return best;
}

TEST(Planner, LongPromptsGetPrefillWorkersLongOutputsDecodeWorkers) {
  Planner docs({}, bench_shape());
  docs.step(steady(8, 3000, 80), split(0, 4));
  EXPECT_EQ(best_disaggregated(docs, 4, 8 * 3000, 8 * 80), 3);
  Planner chat({}, bench_shape());
  chat.step(steady(12, 300, 400), split(0, 4));
  EXPECT_EQ(best_disaggregated(chat, 4, 12 * 300, 12 * 400), 1);

  // Started prefill-heavy under chat load, the planner leaves at once (the
  // split violates) for one that meets the targets with fewer prefill workers.
  std::vector<PlannerWorker> w = split(3, 4);
  Planner p({}, bench_shape());
  const PlanDecision d = p.step(steady(12, 300, 400), w);
  apply_changes(w, d);
  EXPECT_LE(prefill_count(w), 1) << d.reason;
  EXPECT_LT(d.plan.score, 1) << d.reason;
}

TEST(Planner, UnreachableTargetScoresInfeasible) {
  PlannerOptions o;
  o.ttft_p95_s = 0.05;  // a lone 3000-token prompt takes ~0.2 s on this profile
  Planner p(o, bench_shape());
  p.step(steady(1, 3000, 80), split(0, 4));
  for (int k = 0; k < 4; ++k) EXPECT_GE(p.evaluate(k, 4, 100, 10).score, 100) << k;
  PlannerOptions i;
  i.itl_p95_s = 0.005;  // below one decode step of batch 1
  Planner q(i, bench_shape());
  q.step(steady(1, 300, 400), split(0, 4));
  for (int k = 0; k < 4; ++k) EXPECT_GE(q.evaluate(k, 4, 100, 10).score, 100) << k;
}

TEST(Planner, WaitsForConfirmationUnlessTheSplitViolates) {
  // Find a load where the current split (1 prefill + 3 decode) meets the
  // targets but another split is clearly better.
  const PlannerShape shape = bench_shape();
  double rps = 0;
  for (double r = 1; r < 30 && rps == 0; r += 0.5) {
    Planner probe({}, shape);
    probe.step(steady(r, 3000, 80), split(1, 4));
    const double cur = probe.evaluate(1, 4, r * 3000, r * 80).score;
    double best = cur;
    for (int k : {0, 2, 3}) best = std::min(best, probe.evaluate(k, 4, r * 3000, r * 80).score);
    if (cur > 0.5 && cur < 0.95 && best < 0.8 * cur) rps = r;
  }
  ASSERT_GT(rps, 0);
  Planner p({}, shape);
  std::vector<PlannerWorker> w = split(1, 4);
  PlanDecision d = p.step(steady(rps, 3000, 80), w);
  EXPECT_TRUE(d.changes.empty()) << d.reason;
  EXPECT_NE(d.reason.find("waiting"), std::string::npos) << d.reason;
  EXPECT_EQ(d.plan.prefill, 1);
  d = p.step(steady(rps, 3000, 80), w);
  EXPECT_FALSE(d.changes.empty()) << d.reason;
  EXPECT_NE(d.plan.prefill, 1);
  EXPECT_LT(d.plan.score, 0.85 * p.evaluate(1, 4, rps * 3000, rps * 80).score);

  // Twice the load: the current split scores > 1 and is left at once.
  Planner q({}, shape);
  w = split(1, 4);
  d = q.step(steady(3 * rps, 3000, 80), w);
  ASSERT_GT(q.evaluate(1, 4, 3 * rps * 3000, 3 * rps * 80).score, 1);
  EXPECT_FALSE(d.changes.empty()) << d.reason;
}

TEST(Planner, MeasuredViolationMovesOffASplitTheModelLikes) {
  const PlannerShape shape = bench_shape();
  Planner p({}, shape);
  std::vector<PlannerWorker> w = split(0, 4);
  PlannerObservation o = steady(4, 3000, 80);
  PlanDecision d = p.step(o, w);
  ASSERT_TRUE(d.changes.empty()) << d.reason;  // the model's favourite
  ASSERT_LT(d.plan.score, 1);
  o.ttft_p95_s = 4.0;  // 4x the 1 s target, measured
  d = p.step(o, w);
  EXPECT_FALSE(d.changes.empty()) << d.reason;
  EXPECT_NE(d.reason.find("measured/target 4.00"), std::string::npos) << d.reason;
}

TEST(Planner, DoesNotFlapBetweenNearEqualSplits) {
  // Loads alternating +-10% around a level every interval.
  Planner p({}, bench_shape());
  std::vector<PlannerWorker> w = split(0, 4);
  int changes = 0;
  for (int i = 0; i < 60; ++i) {
    const double rps = i % 2 ? 9.0 : 11.0;
    PlanDecision d = p.step(steady(rps, 1600, 240), w);
    changes += !d.changes.empty();
    apply_changes(w, d);
  }
  EXPECT_LE(changes, 1);
}

TEST(Planner, FlipsTheLeastBusyWorkers) {
  // 14 requests/s of long prompts: all-aggregated violates, 3 prefill + 1 decode is best.
  Planner p({}, bench_shape());
  std::vector<PlannerWorker> w = split(0, 4);
  w[0].work = 30;
  w[1].work = 2;
  w[2].work = 40;
  w[3].work = 1;
  PlanDecision d = p.step(steady(14, 3000, 80), w);
  ASSERT_EQ(d.plan.prefill, 3) << d.reason;
  EXPECT_EQ(d.changes.size(), 4u);
  apply_changes(w, d);
  EXPECT_EQ(w[2].role, WorkerRole::kDecode);  // the busiest keeps serving
  for (int i : {0, 1, 3}) EXPECT_EQ(w[i].role, WorkerRole::kPrefill) << i;

  // From 1 prefill + 3 decode: the prefill worker stays, the two least busy decode ones flip.
  Planner q({}, bench_shape());
  w = split(1, 4);
  w[0].work = 50;  // the prefill worker
  w[1].work = 9;
  w[2].work = 3;
  w[3].work = 7;
  d = q.step(steady(14, 3000, 80), w);
  ASSERT_EQ(d.plan.prefill, 3) << d.reason;
  ASSERT_EQ(d.changes.size(), 2u);
  EXPECT_EQ(d.changes[0].worker, 2u);
  EXPECT_EQ(d.changes[1].worker, 3u);
  for (const auto& c : d.changes) {
    EXPECT_EQ(c.from, WorkerRole::kDecode);
    EXPECT_EQ(c.to, WorkerRole::kPrefill);
  }
}

TEST(Planner, OneWorkerNeverChanges) {
  Planner p({}, bench_shape());
  for (double rps : {1.0, 20.0, 50.0}) {
    const PlanDecision d = p.step(steady(rps, 3000, 80), split(0, 1));
    EXPECT_TRUE(d.changes.empty());
    EXPECT_EQ(d.plan.prefill, 0);
  }
}

TEST(Planner, SameInputsSameDecisions) {
  Planner a({}, bench_shape()), b({}, bench_shape());
  std::vector<PlannerWorker> wa = split(0, 4), wb = split(0, 4);
  for (int i = 0; i < 40; ++i) {
    const PlannerObservation o = steady(2 + (i * 7) % 13, i % 3 ? 3000 : 300, i % 3 ? 80 : 400);
    const PlanDecision da = a.step(o, wa), db = b.step(o, wb);
    EXPECT_EQ(da.reason, db.reason);
    EXPECT_EQ(da.changes.size(), db.changes.size());
    apply_changes(wa, da);
    apply_changes(wb, db);
  }
}

TEST(Planner, ForecastsTheLargerOfTrendAndLastInterval) {
  Planner p({}, bench_shape());
  PlanDecision d;
  for (double rps : {2.0, 4.0, 6.0, 8.0, 10.0}) d = p.step(steady(rps, 1000, 100), split(0, 4));
  EXPECT_GT(d.predicted_rps, 10.0);  // a ramp: the trend leads the last value
  d = p.step(steady(1, 1000, 100), split(0, 4));
  EXPECT_GE(d.predicted_rps, 1.0);  // after a drop: never below what was just seen
  EXPECT_NEAR(d.predicted_prompt_tps, d.predicted_rps * 1000, 1e-6 * d.predicted_prompt_tps + 1e-6);
}

}  // namespace
}  // namespace tandem::scheduler

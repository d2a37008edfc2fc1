// Admission by expected wait ([scheduler] admission_ttft_ms) through the real
// Router and Workers, with fake runners whose steps take a modelled time on a
// fake clock: a = 0.1 s per step plus b = 0.001 s per prefill token. The
// workers measure those timings (StepRates) exactly as they would real ones,
// so every estimate below is an exact figure.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "fake_runner.h"
#include "scheduler/router.h"
#include "scheduler/worker.h"

namespace tandem::scheduler {
namespace {

using testing::Collector;
using testing::eventually;
using testing::FakeRunner;
using testing::Gate;
using testing::make_prompt;
using testing::test_sample;
using Clock = std::chrono::steady_clock;

constexpr int kVocab = 40;
constexpr int kContext = 512;
constexpr double kStep = 0.1;        // seconds per step
constexpr double kPerToken = 0.001;  // seconds per prefill token

// A clock that moves only when a fake step says so.
struct FakeClock {
  std::atomic<int64_t> ns{0};
  Clock::time_point now() const { return Clock::time_point(std::chrono::nanoseconds(ns.load())); }
  void advance(double seconds) { ns.fetch_add(static_cast<int64_t>(seconds * 1e9 + 0.5)); }
};

// Always picks the worker with index `target` (when it is a candidate).
class PinnedPolicy final : public RoutingPolicy {
 public:
  const char* name() const override { return "pinned"; }
  size_t pick(const GenerationRequest&, std::span<const WorkerView> candidates) override {
    for (size_t i = 0; i < candidates.size(); ++i) {
      if (candidates[i].index == target.load()) return i;
    }
    return 0;
  }
  std::atomic<size_t> target{0};
};

struct Fleet {
  metrics::Registry registry;
  std::vector<std::unique_ptr<FakeClock>> clocks;
  std::vector<FakeRunner*> runners;
  std::vector<std::unique_ptr<Gate>> gates;
  PinnedPolicy* policy = nullptr;
  std::unique_ptr<Router> router;
  std::vector<std::unique_ptr<Collector>> collectors;

  // One worker per role; max_running sequences per step each.
  Fleet(std::vector<WorkerRole> roles, int max_running, RouterOptions ro) {
    std::vector<std::unique_ptr<Worker>> ws;
    for (size_t i = 0; i < roles.size(); ++i) {
      clocks.push_back(std::make_unique<FakeClock>());
      gates.push_back(std::make_unique<Gate>());
      auto runner = std::make_unique<FakeRunner>(kVocab, kContext, 4, 256);
      runners.push_back(runner.get());
      runner->gate = [g = gates.back().get()] { g->pass(); };
      runner->on_batch = [c = clocks.back().get()](const engine::StepBatch& batch) {
        int prefill = 0;
        for (const auto& s : batch.seqs) prefill += s.tokens.size() > 1 ? static_cast<int>(s.tokens.size()) : 0;
        c->advance(kStep + kPerToken * prefill);
      };
      WorkerOptions o;
      o.name = "w" + std::to_string(i);
      o.role = roles[i];
      o.max_running = max_running;
      o.sampler = test_sample;
      o.step_clock = [c = clocks.back().get()] { return c->now(); };
      ws.push_back(Worker::start(o, std::move(runner), &registry));
    }
    auto p = std::make_unique<PinnedPolicy>();
    policy = p.get();
    router = std::make_unique<Router>(ro, std::move(ws), std::move(p));
  }
  ~Fleet() {
    for (auto& g : gates) g->open();
    router->shutdown(std::chrono::seconds(2));
  }

  Status submit(const std::string& id, int prompt, int max_tokens) {
    GenerationRequest r;
    r.id = id;
    r.prompt = make_prompt(prompt, static_cast<int32_t>(collectors.size()) + 1, kVocab);
    r.stop.max_tokens = max_tokens;
    r.stop.ignore_eos = true;
    r.sampling.seed = 1;
    collectors.push_back(std::make_unique<Collector>());
    r.sink = collectors.back()->sink();
    return router->submit(std::move(r));
  }
  Collector& last() { return *collectors.back(); }

  double refusals(const char* reason) {
    return registry.counter("tandem_admission_refusals_total", "", {{"reason", reason}}).value();
  }
  metrics::Histogram& expected() { return registry.histogram("tandem_admission_expected_ttft_seconds", "", {}); }
};

RouterOptions options(int budget_ms) {
  RouterOptions ro;
  ro.max_queue = 64;
  ro.admission_ttft_ms = budget_ms;
  ro.max_local_prefill_tokens = 0;
  ro.max_prefill_queue = 1000;
  return ro;
}

// Runs two 8-token, 2-token-output requests on worker `w`, one after the
// other, so it has timed a decode step (a = 0.1 s) and a prompt step after
// one (b = (0.108 - 0.1) / 8 = 0.001 s per token).
void warm(Fleet& f, size_t w) {
  f.policy->target = w;
  const Worker& worker = f.router->worker(w);
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(f.submit("warm" + std::to_string(w) + "_" + std::to_string(i), 8, 2).ok());
    ASSERT_TRUE(f.last().wait_final());
    // Published after the step: a = 0.1 s, then b = 0 (the first prompt step
    // counted the fixed part too: dropped), then b = 0.001.
    const double expected = kStep + (i == 0 ? 0.0 : 8 * kPerToken);
    ASSERT_TRUE(eventually([&] {
      const auto e = worker.expected_first_token_seconds(8);
      return e && std::abs(*e - expected) < 1e-9;
    }));
  }
}

constexpr double kB = kPerToken;  // the warmed workers' prefill seconds per token

TEST(Admission, RefusedOverTheBudgetWithARetryHintAdmittedUnderIt) {
  Fleet f({WorkerRole::kAggregated}, 1, options(2500));
  const Worker& w = f.router->worker(0);
  EXPECT_FALSE(w.expected_first_token_seconds(8).has_value());  // nothing timed: no estimate, admitted
  warm(f, 0);
  const uint64_t count0 = f.expected().count();
  const double sum0 = f.expected().sum();
  f.gates[0]->close();
  ASSERT_TRUE(f.submit("r1", 8, 20).ok());  // runs (its step blocked in the gate)
  ASSERT_TRUE(eventually([&] { return f.runners[0]->entered.load() == 5; }));
  // r1 holds the only slot for 20 steps; then 8 + 8 prefill tokens and a step.
  EXPECT_NEAR(*w.expected_first_token_seconds(8), 20 * kStep + 16 * kB + kStep, 1e-9);
  ASSERT_TRUE(f.submit("r2", 8, 20).ok());  // 2.116 s <= 2.5 s
  // r2 now waits for that slot and holds it 20 steps more.
  EXPECT_NEAR(*w.expected_first_token_seconds(8), 40 * kStep + 24 * kB + kStep, 1e-9);
  const Status refused = f.submit("r3", 8, 20);  // 4.124 s > 2.5 s
  EXPECT_EQ(refused.kind(), ErrorKind::kQueueFull);
  EXPECT_EQ(refused.retry_after_seconds(), 2);  // ceil(4.124 - 2.5)
  EXPECT_NE(refused.message().find("admission_ttft_ms"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("4.12 s"), std::string::npos) << refused.message();
  EXPECT_EQ(f.last().num_final(), 0);
  EXPECT_EQ(f.refusals("ttft_budget"), 1);
  EXPECT_EQ(f.refusals("max_queue"), 0);
  EXPECT_EQ(f.refusals("worker_queue"), 0);
  // Observed after the warm-up: r1 (idle: 0.108 s), r2 (2.116 s), r3 refused (4.124 s).
  EXPECT_EQ(f.expected().count() - count0, 3u);
  EXPECT_NEAR(f.expected().sum() - sum0, 0.108 + 2.116 + 4.124, 1e-9);

  // Once the backlog is gone the same request is admitted.
  f.gates[0]->open();
  ASSERT_TRUE(f.collectors[1]->wait_final());
  ASSERT_TRUE(f.collectors[2]->wait_final());
  ASSERT_TRUE(eventually([&] { return w.load().running == 0; }));
  EXPECT_TRUE(f.submit("r3", 8, 20).ok());
  EXPECT_TRUE(f.last().wait_final());
}

TEST(Admission, OffByDefaultButStillMeasured) {
  EXPECT_EQ(RouterOptions{}.admission_ttft_ms, 0);
  Fleet f({WorkerRole::kAggregated}, 1, options(0));
  warm(f, 0);
  const uint64_t count0 = f.expected().count();
  const double sum0 = f.expected().sum();
  f.gates[0]->close();
  ASSERT_TRUE(f.submit("r1", 8, 300).ok());
  ASSERT_TRUE(eventually([&] { return f.runners[0]->entered.load() == 5; }));
  EXPECT_TRUE(f.submit("r2", 8, 20).ok());  // 30.116 s expected, no budget
  EXPECT_EQ(f.refusals("ttft_budget"), 0);
  EXPECT_EQ(f.expected().count() - count0, 2u);
  EXPECT_NEAR(f.expected().sum() - sum0, 0.108 + 300 * kStep + 16 * kB + kStep, 1e-9);
}

TEST(Admission, AWorkerOverTheBudgetIsPassedOverForOneUnderIt) {
  Fleet f({WorkerRole::kAggregated, WorkerRole::kAggregated}, 1, options(1000));
  warm(f, 0);
  warm(f, 1);
  f.gates[0]->close();
  f.policy->target = 0;
  ASSERT_TRUE(f.submit("long", 8, 100).ok());  // w0 busy for 100 steps
  ASSERT_TRUE(eventually([&] { return f.runners[0]->entered.load() == 5; }));
  ASSERT_TRUE(f.submit("r", 8, 4).ok());  // the policy says w0 (10.116 s); w1 (0.108 s) takes it
  ASSERT_TRUE(f.last().wait_final());
  EXPECT_EQ(f.last().events().front().worker, "w1");
  // With both busy past the budget it is refused, with the lower estimate's hint.
  ASSERT_TRUE(eventually([&] { return f.router->worker(1).load().running == 0; }));
  f.gates[1]->close();
  f.policy->target = 1;
  const int stepped = f.runners[1]->entered.load();
  ASSERT_TRUE(f.submit("long1", 8, 30).ok());  // on w1 (0.108 s)
  ASSERT_TRUE(eventually([&] { return f.runners[1]->entered.load() == stepped + 1; }));
  const Status st = f.submit("r2", 8, 4);  // w0: 10.116 s, w1: 3.116 s
  EXPECT_EQ(st.kind(), ErrorKind::kQueueFull);
  EXPECT_EQ(st.retry_after_seconds(), 3);  // ceil(3.116 - 1)
  EXPECT_EQ(f.refusals("ttft_budget"), 1);
}

TEST(Admission, APrefillWorkerOverTheBudgetLeavesThePromptToTheDecodeWorker) {
  // Prefill worker w0, decode worker w1. Remote prefill whenever possible
  // (max_local_prefill_tokens 0) unless w0's expected wait is over budget.
  Fleet f({WorkerRole::kPrefill, WorkerRole::kDecode}, 4, options(500));
  f.policy->target = 0;  // pick() over prefill workers and over serving workers each see one candidate
  ASSERT_TRUE(f.submit("warm", 40, 2).ok());  // prefilled on w0 (0.14 s: b = 0.0035, a = 0), decoded on w1
  ASSERT_TRUE(f.last().wait_final());
  EXPECT_EQ(f.last().events().front().worker, "w0");
  const Worker& p = f.router->worker(0);
  ASSERT_TRUE(eventually([&] {
    const auto e = p.expected_first_token_seconds(40);
    return e && std::abs(*e - 40 * 0.0035) < 1e-9;
  }));
  f.gates[0]->close();
  // 0.14 s, 0.28 s, 0.42 s: each prefilled remotely.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(f.submit("q" + std::to_string(i), 40, 2).ok());
  // w0 holds 3 x 40 prompt tokens: a fourth 40-token prompt expects
  // 160 x 0.0035 = 0.56 s there, over 0.5 s; w1 has a free slot.
  EXPECT_NEAR(*p.expected_first_token_seconds(40), 0.56, 1e-9);
  ASSERT_TRUE(f.submit("local", 40, 2).ok());
  ASSERT_TRUE(f.last().wait_final());
  EXPECT_EQ(f.last().events().front().worker, "w1");
  EXPECT_EQ(f.refusals("ttft_budget"), 0);
  EXPECT_EQ(f.registry.counter("tandem_disagg_prefills_total", "", {{"path", "local"}}).value(), 1);
}

}  // namespace
}  // namespace tandem::scheduler

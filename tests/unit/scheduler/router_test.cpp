#include "scheduler/router.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <stdexcept>

#include "fake_runner.h"
#include "scheduler/least_loaded_policy.h"
#include "scheduler/round_robin_policy.h"

namespace tandem::scheduler {
namespace {

using testing::Collector;
using testing::eventually;
using testing::FakeRunner;
using testing::Gate;
using testing::make_prompt;
using testing::reference_generate;
using testing::test_sample;
using Clock = std::chrono::steady_clock;

constexpr int kVocab = 40;
constexpr int kContext = 512;

GenerationRequest request(const std::string& id, int prompt_len, int max_tokens, int32_t prompt_seed) {
  GenerationRequest r;
  r.id = id;
  r.prompt = make_prompt(prompt_len, prompt_seed, kVocab);
  r.stop.max_tokens = max_tokens;
  r.sampling.seed = 3;
  return r;
}

struct WorkerSpec {
  std::function<void()> before_step;
  int fail_at_step = 0;
  int max_queue = 64;
};

std::vector<std::unique_ptr<Worker>> make_workers(const std::vector<WorkerSpec>& specs) {
  std::vector<std::unique_ptr<Worker>> ws;
  for (size_t i = 0; i < specs.size(); ++i) {
    auto runner = std::make_unique<FakeRunner>(kVocab, kContext, 4, 128);
    runner->gate = specs[i].before_step;
    runner->fail_at_step = specs[i].fail_at_step;
    WorkerOptions o;
    o.name = "w" + std::to_string(i);
    o.max_queue = specs[i].max_queue;
    o.sampler = test_sample;
    ws.push_back(Worker::start(o, std::move(runner), nullptr));
  }
  return ws;
}

WorkerView view(size_t index, int64_t load_tokens, int running = 0, int waiting = 0) {
  WorkerView v;
  v.index = index;
  v.load.healthy = true;
  v.load.load_tokens = load_tokens;
  v.load.running = running;
  v.load.waiting = waiting;
  return v;
}

TEST(RoutingPolicy, RoundRobinRotatesAndSkipsMissingWorkers) {
  RoundRobinPolicy p;
  GenerationRequest r;
  std::vector<WorkerView> all = {view(0, 0), view(1, 0), view(2, 0)};
  std::vector<size_t> picks;
  for (int i = 0; i < 6; ++i) picks.push_back(all[p.pick(r, all)].index);
  EXPECT_EQ(picks, (std::vector<size_t>{0, 1, 2, 0, 1, 2}));
  // Worker 1 is unhealthy: it is skipped, the others still alternate.
  std::vector<WorkerView> some = {view(0, 0), view(2, 0)};
  std::map<size_t, int> counts;
  for (int i = 0; i < 30; ++i) ++counts[some[p.pick(r, some)].index];
  EXPECT_EQ(counts.size(), 2u);
  EXPECT_GE(counts[0], 10);
  EXPECT_GE(counts[2], 10);
}

TEST(RoutingPolicy, LeastLoadedPicksFewestTokensThenFewestRequests) {
  LeastLoadedPolicy p;
  GenerationRequest r;
  std::vector<WorkerView> v = {view(0, 500), view(1, 20), view(2, 300)};
  EXPECT_EQ(v[p.pick(r, v)].index, 1u);
  v = {view(0, 20, 3, 0), view(1, 20, 1, 1), view(2, 20, 2, 2)};
  EXPECT_EQ(v[p.pick(r, v)].index, 1u);
  v = {view(3, 0), view(4, 0)};
  EXPECT_EQ(v[p.pick(r, v)].index, 3u);
}

TEST(RoutingPolicy, Names) {
  EXPECT_STREQ(make_routing_policy("round_robin")->name(), "round_robin");
  EXPECT_STREQ(make_routing_policy("least_loaded")->name(), "least_loaded");
  EXPECT_STREQ(make_routing_policy("kv")->name(), "kv");
  EXPECT_EQ(make_routing_policy("random"), nullptr);
  EXPECT_THROW(Router(RouterOptions{"random", 10}, make_workers({{}})), std::invalid_argument);
}

TEST(Router, RoundRobinSpreadsRequestsAndOutputsMatch) {
  Router router(RouterOptions{"round_robin", 64}, make_workers({{}, {}, {}}));
  EXPECT_TRUE(router.ready());
  EXPECT_STREQ(router.policy_name(), "round_robin");
  std::vector<std::unique_ptr<Collector>> cs;
  std::vector<GenerationRequest> reqs;
  for (int i = 0; i < 6; ++i) {
    GenerationRequest r = request("r" + std::to_string(i), 5 + i, 6, i);
    cs.push_back(std::make_unique<Collector>());
    r.sink = cs.back()->sink();
    reqs.push_back(r);
    ASSERT_TRUE(router.submit(std::move(r)).ok());
  }
  std::vector<std::string> served;
  for (size_t i = 0; i < cs.size(); ++i) {
    ASSERT_TRUE(cs[i]->wait_final());
    served.push_back(cs[i]->events().front().worker);
    EXPECT_EQ(cs[i]->tokens(), reference_generate(reqs[i], 3, kVocab, kContext, test_sample).tokens);
  }
  EXPECT_EQ(served, (std::vector<std::string>{"w0", "w1", "w2", "w0", "w1", "w2"}));
  router.shutdown(std::chrono::seconds(1));
}

TEST(Router, LeastLoadedAvoidsTheBusyWorker) {
  Gate gate;
  gate.close();
  std::vector<std::unique_ptr<Worker>> ws = make_workers({{[&] { gate.pass(); }}, {}});
  Router router(RouterOptions{"least_loaded", 64}, std::move(ws));
  Collector busy;
  GenerationRequest big = request("big", 200, 10, 1);
  big.sink = busy.sink();
  ASSERT_TRUE(router.submit(std::move(big)).ok());  // both idle: w0 (lowest index)
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 3; ++i) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request("small" + std::to_string(i), 5, 3, i);
    r.sink = cs.back()->sink();
    ASSERT_TRUE(router.submit(std::move(r)).ok());
  }
  for (auto& c : cs) {
    ASSERT_TRUE(c->wait_final());
    EXPECT_EQ(c->events().front().worker, "w1");
  }
  gate.open();
  ASSERT_TRUE(busy.wait_final());
  EXPECT_EQ(busy.events().front().worker, "w0");
  router.shutdown(std::chrono::seconds(1));
}

TEST(Router, CancelReachesTheOwningWorker) {
  auto slow = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); };
  Router router(RouterOptions{"round_robin", 64}, make_workers({{slow}, {slow}}));
  Collector a, b;
  GenerationRequest ra = request("a", 5, 400, 1);
  ra.sink = a.sink();
  GenerationRequest rb = request("b", 5, 400, 2);
  rb.sink = b.sink();
  ASSERT_TRUE(router.submit(std::move(ra)).ok());
  ASSERT_TRUE(router.submit(std::move(rb)).ok());
  ASSERT_TRUE(eventually([&] { return b.tokens().size() >= 2; }));
  router.cancel("b");
  router.cancel("nobody");
  ASSERT_TRUE(b.wait_final());
  EXPECT_EQ(b.finish(), FinishReason::kCancelled);
  EXPECT_EQ(b.events().front().worker, "w1");
  EXPECT_EQ(a.finish(), FinishReason::kNone);
  router.cancel("a");
  ASSERT_TRUE(a.wait_final());
  EXPECT_EQ(a.finish(), FinishReason::kCancelled);
  // Ids are free again after their final event.
  Collector again;
  GenerationRequest r = request("b", 5, 2, 2);
  r.sink = again.sink();
  EXPECT_TRUE(router.submit(std::move(r)).ok());
  EXPECT_TRUE(again.wait_final());
}

TEST(Router, DuplicateIdsAndBadRequestsAreRefused) {
  Gate gate;
  gate.close();
  Router router(RouterOptions{"round_robin", 64}, make_workers({{[&] { gate.pass(); }}}));
  Collector a, b;
  GenerationRequest r1 = request("x", 5, 5, 1);
  r1.sink = a.sink();
  ASSERT_TRUE(router.submit(std::move(r1)).ok());
  GenerationRequest r2 = request("x", 5, 5, 1);
  r2.sink = b.sink();
  EXPECT_EQ(router.submit(std::move(r2)).kind(), ErrorKind::kInvalidRequest);
  GenerationRequest r3 = request("y", 5, 100000, 1);
  r3.sink = b.sink();
  EXPECT_EQ(router.submit(std::move(r3)).kind(), ErrorKind::kContextLengthExceeded);
  GenerationRequest r4 = request("", 5, 5, 1);
  r4.sink = b.sink();
  EXPECT_EQ(router.submit(std::move(r4)).kind(), ErrorKind::kInvalidRequest);
  GenerationRequest r5 = request("z", 5, 5, 1);
  EXPECT_EQ(router.submit(std::move(r5)).kind(), ErrorKind::kInvalidRequest);  // no sink
  gate.open();
  EXPECT_TRUE(a.wait_final());
  EXPECT_EQ(b.num_final(), 0);
  router.shutdown(std::chrono::seconds(1));
}

TEST(Router, QueueFullOverAllWorkers) {
  Gate gate;
  gate.close();
  auto pass = [&] { gate.pass(); };
  Router router(RouterOptions{"round_robin", 3}, make_workers({{pass}, {pass}}));
  std::vector<std::unique_ptr<Collector>> cs;
  auto submit = [&](int i) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request("r" + std::to_string(i), 5, 2, i);
    r.sink = cs.back()->sink();
    return router.submit(std::move(r));
  };
  // Each worker takes one request into its (blocked) first step; then the
  // waiting ones count against max_queue = 3.
  ASSERT_TRUE(submit(0).ok());
  ASSERT_TRUE(submit(1).ok());
  ASSERT_TRUE(eventually([&] { return router.stats().running == 2; }));
  EXPECT_TRUE(submit(2).ok());
  EXPECT_TRUE(submit(3).ok());
  EXPECT_TRUE(submit(4).ok());
  EXPECT_EQ(router.stats().waiting, 3);
  EXPECT_EQ(submit(5).kind(), ErrorKind::kQueueFull);
  gate.open();
  for (size_t i = 0; i < 5; ++i) EXPECT_TRUE(cs[i]->wait_final());
  router.shutdown(std::chrono::seconds(1));
}

TEST(Router, WorkerQueueFullFallsBackToAnotherWorker) {
  Gate gate;
  gate.close();
  auto pass = [&] { gate.pass(); };
  Router router(RouterOptions{"round_robin", 64}, make_workers({{pass, 0, 1}, {pass, 0, 2}}));
  std::vector<std::unique_ptr<Collector>> cs;
  auto submit = [&](int i) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request("r" + std::to_string(i), 5, 2, i);
    r.sink = cs.back()->sink();
    return router.submit(std::move(r));
  };
  ASSERT_TRUE(submit(0).ok());  // w0, running
  ASSERT_TRUE(submit(1).ok());  // w1, running
  ASSERT_TRUE(eventually([&] { return router.stats().running == 2; }));
  ASSERT_TRUE(submit(2).ok());                         // w0 waits 1 of 1
  ASSERT_TRUE(submit(3).ok());                         // w1 waits 1 of 2
  ASSERT_TRUE(submit(4).ok());                         // round robin says w0, which is full: w1 takes it
  EXPECT_EQ(submit(5).kind(), ErrorKind::kQueueFull);  // both full
  gate.open();
  for (size_t i = 0; i < 5; ++i) EXPECT_TRUE(cs[i]->wait_final());
  EXPECT_EQ(cs[4]->events().front().worker, "w1");
  EXPECT_EQ(cs[5]->num_final(), 0);
  router.shutdown(std::chrono::seconds(1));
}

TEST(Router, NotReadyWhenEveryWorkerFailed) {
  Router router(RouterOptions{"least_loaded", 64}, make_workers({{nullptr, 1}, {nullptr, 1}}));
  EXPECT_TRUE(router.ready());
  ASSERT_EQ(router.stats().workers.size(), 2u);
  EXPECT_EQ(router.stats().workers[0].state, "running");
  EXPECT_TRUE(router.stats().workers[1].healthy);
  for (int i = 0; i < 2; ++i) {
    Collector c;
    GenerationRequest r = request("r" + std::to_string(i), 5, 5, i);
    r.sink = c.sink();
    ASSERT_TRUE(router.submit(std::move(r)).ok());
    ASSERT_TRUE(c.wait_final());
    EXPECT_EQ(c.finish(), FinishReason::kError);
    EXPECT_EQ(c.events().back().error.kind(), ErrorKind::kDevice);
  }
  EXPECT_FALSE(router.ready());
  for (const WorkerStatus& w : router.stats().workers) {
    EXPECT_EQ(w.state, "failed");
    EXPECT_FALSE(w.healthy);
  }
  Collector c;
  GenerationRequest r = request("late", 5, 5, 9);
  r.sink = c.sink();
  Status st = router.submit(std::move(r));
  EXPECT_EQ(st.kind(), ErrorKind::kUnavailable);
  EXPECT_EQ(c.num_final(), 0);
}

TEST(Router, ShutdownWithWorkInFlightDoesNotHang) {
  auto slow = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); };
  auto router = std::make_unique<Router>(RouterOptions{"round_robin", 64}, make_workers({{slow}, {slow}}));
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 6; ++i) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request("r" + std::to_string(i), 8, 400, i);
    r.sink = cs.back()->sink();
    ASSERT_TRUE(router->submit(std::move(r)).ok());
  }
  auto done = std::async(std::launch::async, [&] { router->shutdown(std::chrono::milliseconds(20)); });
  ASSERT_EQ(done.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  for (auto& c : cs) {
    EXPECT_EQ(c->num_final(), 1);
    EXPECT_EQ(c->finish(), FinishReason::kCancelled);
  }
  EXPECT_FALSE(router->ready());
  Collector c;
  GenerationRequest r = request("after", 5, 5, 1);
  r.sink = c.sink();
  EXPECT_EQ(router->submit(std::move(r)).kind(), ErrorKind::kUnavailable);
  router->shutdown(std::chrono::milliseconds(0));  // idempotent
  router.reset();
}

// A policy that records KV events and always picks the last candidate.
class RecordingPolicy final : public RoutingPolicy {
 public:
  const char* name() const override { return "recording"; }
  size_t pick(const GenerationRequest&, std::span<const WorkerView> c) override { return c.size() - 1; }
  void on_kv_event(size_t worker, const kv::KvEvent& e) override {
    std::lock_guard<std::mutex> lock(mu);
    events.emplace_back(worker, e);
  }
  std::mutex mu;
  std::vector<std::pair<size_t, kv::KvEvent>> events;
};

TEST(Router, KvEventsReachThePolicyWithTheWorkerIndex) {
  auto policy = std::make_unique<RecordingPolicy>();
  RecordingPolicy* p = policy.get();
  Router router(RouterOptions{"ignored", 64}, make_workers({{}, {}}), std::move(policy));
  EXPECT_STREQ(router.policy_name(), "recording");
  Collector c;
  GenerationRequest r = request("r", 9, 3, 1);  // 9 + 2 = 11 positions: 2 full blocks
  r.sink = c.sink();
  ASSERT_TRUE(router.submit(std::move(r)).ok());
  ASSERT_TRUE(c.wait_final());
  EXPECT_EQ(c.events().front().worker, "w1");
  router.shutdown(std::chrono::seconds(1));
  std::lock_guard<std::mutex> lock(p->mu);
  ASSERT_EQ(p->events.size(), 2u);
  EXPECT_EQ(p->events[0].first, 1u);
  EXPECT_EQ(p->events[0].second.worker, "w1");
  EXPECT_EQ(p->events[0].second.kind, kv::KvEventKind::kStored);
  EXPECT_EQ(p->events[1].second.parent_hash, p->events[0].second.block_hash);
}

}  // namespace
}  // namespace tandem::scheduler

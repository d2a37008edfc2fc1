#include "scheduler/worker.h"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <set>

#include "common/metrics.h"
#include "engine/sampling.h"
#include "fake_runner.h"

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
constexpr int kContext = 256;

struct Started {
  Started() = default;
  Started(Started&&) = default;
  // A failed assertion must not leave the worker blocked behind a closed gate.
  ~Started() {
    if (gate) gate->open();
    worker.reset();
  }
  std::unique_ptr<Worker> worker;
  FakeRunner* runner = nullptr;  // owned by the worker
  Gate* gate = nullptr;
};

void slow_step() { std::this_thread::sleep_for(std::chrono::milliseconds(1)); }

Started start_worker(WorkerOptions o, int num_blocks, int block_tokens = 4, metrics::Registry* registry = nullptr,
                     Gate* gate = nullptr, int fail_at_step = 0, std::function<void()> before_step = nullptr) {
  auto runner = std::make_unique<FakeRunner>(kVocab, kContext, block_tokens, num_blocks);
  FakeRunner* raw = runner.get();
  if (gate) raw->gate = [gate] { gate->pass(); };
  if (before_step) raw->gate = std::move(before_step);
  raw->fail_at_step = fail_at_step;
  Started s;
  s.worker = Worker::start(std::move(o), std::move(runner), registry);
  s.runner = raw;
  s.gate = gate;
  return s;
}

GenerationRequest request(const std::string& id, int prompt_len, int max_tokens, int32_t prompt_seed,
                          std::optional<uint64_t> seed = 1) {
  GenerationRequest r;
  r.id = id;
  r.prompt = make_prompt(prompt_len, prompt_seed, kVocab);
  r.stop.max_tokens = max_tokens;
  r.sampling.seed = seed;
  return r;
}

WorkerOptions options(int max_queue = 64) {
  WorkerOptions o;
  o.name = "w0";
  o.max_batch_tokens = 32;
  o.max_running = 16;
  o.max_queue = max_queue;
  o.sampler = test_sample;
  return o;
}

// Joins on another thread so a hang fails the test instead of blocking it.
bool join_within(Worker& w, std::chrono::seconds timeout) {
  auto f = std::async(std::launch::async, [&w] { w.join(); });
  return f.wait_for(timeout) == std::future_status::ready;
}

TEST(Worker, SixteenConcurrentGiveWhatEachGivesAlone) {
  // The real sampler (engine::sample) with temperature, top-k/top-p and
  // penalties: a seeded request's tokens must not depend on its batch.
  WorkerOptions o = options();
  o.sampler = nullptr;  // engine::sample
  o.max_batch_tokens = 48;
  Gate gate;
  gate.close();  // let all 16 queue up, then run them together
  auto s = start_worker(o, 200, 4, nullptr, &gate);
  std::vector<GenerationRequest> reqs;
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 16; ++i) {
    GenerationRequest r = request("r" + std::to_string(i), 3 + i * 2, 10 + i, 100 + i, 1000 + i);
    r.sampling.temperature = 0.7f + 0.05f * static_cast<float>(i % 5);
    r.sampling.top_k = i % 2 ? 8 : 0;
    r.sampling.top_p = i % 3 ? 0.9f : 1.0f;
    r.sampling.frequency_penalty = i % 4 ? 0.5f : 0.0f;
    cs.push_back(std::make_unique<Collector>());
    r.sink = cs.back()->sink();
    reqs.push_back(r);
    ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  }
  gate.open();
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(cs[static_cast<size_t>(i)]->wait_final());
    auto ref = reference_generate(reqs[static_cast<size_t>(i)], 1000 + static_cast<uint64_t>(i), kVocab, kContext,
                                  &engine::sample);
    EXPECT_EQ(cs[static_cast<size_t>(i)]->tokens(), ref.tokens) << "request " << i;
    EXPECT_EQ(cs[static_cast<size_t>(i)]->finish(), ref.finish);
  }
  s.worker->begin_shutdown(Clock::now());
  ASSERT_TRUE(join_within(*s.worker, std::chrono::seconds(5)));
  // Requests really were batched together.
  int max_seqs = 0;
  for (int n : s.runner->batch_seqs) max_seqs = std::max(max_seqs, n);
  EXPECT_GE(max_seqs, 8);
}

TEST(Worker, RejectsRequestsThatCanNeverFit) {
  auto s = start_worker(options(), /*num_blocks=*/8, /*block_tokens=*/4);  // 32 positions
  Collector c;
  GenerationRequest big = request("big", 20, 20, 1);  // 39 KV positions > 32
  big.sink = c.sink();
  Status st = s.worker->submit(std::move(big));
  EXPECT_EQ(st.kind(), ErrorKind::kKvExhausted);
  EXPECT_NE(st.message().find("KV blocks"), std::string::npos) << st.message();

  GenerationRequest fits = request("fits", 20, 13, 1);  // 32 positions: fits exactly
  fits.sink = c.sink();
  EXPECT_TRUE(s.worker->submit(std::move(fits)).ok());

  GenerationRequest ctx = request("ctx", 200, 100, 1);
  ctx.sink = c.sink();
  st = s.worker->submit(std::move(ctx));
  EXPECT_EQ(st.kind(), ErrorKind::kContextLengthExceeded);
  EXPECT_NE(st.message().find("256"), std::string::npos) << st.message();

  GenerationRequest bad = request("bad", 5, 5, 1);
  bad.prompt[2] = kVocab;
  bad.sink = c.sink();
  st = s.worker->submit(std::move(bad));
  EXPECT_EQ(st.kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(st.param(), "prompt");

  GenerationRequest empty = request("empty", 0, 5, 1);
  empty.sink = c.sink();
  EXPECT_EQ(s.worker->submit(std::move(empty)).kind(), ErrorKind::kInvalidRequest);

  GenerationRequest zero = request("zero", 5, 0, 1);
  zero.sink = c.sink();
  EXPECT_EQ(s.worker->submit(std::move(zero)).param(), "max_tokens");

  GenerationRequest nosink = request("nosink", 5, 5, 1);
  EXPECT_EQ(s.worker->submit(std::move(nosink)).kind(), ErrorKind::kInvalidRequest);
  EXPECT_TRUE(c.wait_final());
  EXPECT_EQ(c.num_final(), 1);  // only "fits" ever reached the sink
}

TEST(Worker, DuplicateIdInFlightIsRefused) {
  Gate gate;
  gate.close();
  auto s = start_worker(options(), 64, 4, nullptr, &gate);
  Collector a, b;
  GenerationRequest r1 = request("same", 5, 5, 1);
  r1.sink = a.sink();
  ASSERT_TRUE(s.worker->submit(std::move(r1)).ok());
  GenerationRequest r2 = request("same", 5, 5, 1);
  r2.sink = b.sink();
  Status st = s.worker->submit(std::move(r2));
  EXPECT_EQ(st.kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(st.param(), "id");
  gate.open();
  ASSERT_TRUE(a.wait_final());
  // Once finished, the id may be used again.
  GenerationRequest r3 = request("same", 5, 5, 1);
  r3.sink = b.sink();
  EXPECT_TRUE(eventually([&] {
    GenerationRequest copy = r3;
    return s.worker->submit(std::move(copy)).ok();
  }));
  EXPECT_TRUE(b.wait_final());
}

TEST(Worker, QueueFull) {
  Gate gate;
  gate.close();
  auto s = start_worker(options(/*max_queue=*/2), 64, 4, nullptr, &gate);
  std::vector<std::unique_ptr<Collector>> cs;
  auto submit = [&](const std::string& id) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request(id, 5, 3, 1);
    r.sink = cs.back()->sink();
    return s.worker->submit(std::move(r));
  };
  ASSERT_TRUE(submit("running").ok());
  // Wait until "running" is inside a (blocked) step, so it no longer waits.
  ASSERT_TRUE(eventually([&] { return s.runner->entered.load() >= 1; }));
  EXPECT_TRUE(submit("q1").ok());
  EXPECT_TRUE(submit("q2").ok());
  Status st = submit("q3");
  EXPECT_EQ(st.kind(), ErrorKind::kQueueFull);
  EXPECT_EQ(s.worker->load().waiting, 2);
  gate.open();
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(cs[i]->wait_final());
  EXPECT_EQ(cs[3]->num_final(), 0);
  EXPECT_TRUE(eventually([&] { return s.worker->load().waiting == 0; }));
  EXPECT_TRUE(submit("later").ok());
  EXPECT_TRUE(cs[4]->wait_final());
}

TEST(Worker, CancelFreesBlocks) {
  auto s = start_worker(options(), 64, 4, nullptr, nullptr, 0, slow_step);
  Collector c;
  GenerationRequest r = request("long", 10, 200, 1);
  r.sink = c.sink();
  ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  ASSERT_TRUE(eventually([&] { return c.tokens().size() >= 3; }));
  EXPECT_GT(s.worker->load().kv_blocks_used, 0);
  s.worker->cancel("long");
  s.worker->cancel("unknown");
  ASSERT_TRUE(c.wait_final());
  EXPECT_EQ(c.finish(), FinishReason::kCancelled);
  EXPECT_LT(c.tokens().size(), 200u);
  EXPECT_TRUE(eventually([&] {
    WorkerLoad l = s.worker->load();
    return l.kv_blocks_used == 0 && l.running == 0 && l.waiting == 0;
  }));
  EXPECT_TRUE(s.worker->healthy());
}

TEST(Worker, DeadlineEndsAsLength) {
  auto s = start_worker(options(), 64, 4, nullptr, nullptr, 0, slow_step);
  Collector c;
  GenerationRequest r = request("deadline", 10, 240, 1);
  r.deadline = Clock::now() + std::chrono::milliseconds(20);
  r.sink = c.sink();
  ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  ASSERT_TRUE(c.wait_final());
  EXPECT_EQ(c.finish(), FinishReason::kLength);
  EXPECT_LT(c.tokens().size(), 240u);
}

TEST(Worker, RunnerFailureMarksUnhealthyAndFailsRequests) {
  Gate gate;
  gate.close();
  metrics::Registry registry;
  auto s = start_worker(options(), 64, 4, &registry, &gate, /*fail_at_step=*/3);
  const std::string healthy_line = "tandem_worker_healthy{worker=\"" + s.worker->name() + "\"} ";
  EXPECT_NE(registry.render().find(healthy_line + "1"), std::string::npos) << registry.render();
  Collector a, b;
  GenerationRequest ra = request("a", 5, 50, 1);
  ra.sink = a.sink();
  GenerationRequest rb = request("b", 5, 50, 2);
  rb.sink = b.sink();
  ASSERT_TRUE(s.worker->submit(std::move(ra)).ok());
  ASSERT_TRUE(s.worker->submit(std::move(rb)).ok());
  EXPECT_TRUE(s.worker->healthy());
  gate.open();
  ASSERT_TRUE(a.wait_final());
  ASSERT_TRUE(b.wait_final());
  EXPECT_EQ(a.finish(), FinishReason::kError);
  EXPECT_EQ(b.finish(), FinishReason::kError);
  // Whichever requests were in the failing step carry the runner's error.
  const bool any_device =
      a.events().back().error.kind() == ErrorKind::kDevice || b.events().back().error.kind() == ErrorKind::kDevice;
  EXPECT_TRUE(any_device);
  EXPECT_FALSE(s.worker->healthy());
  EXPECT_EQ(s.worker->state(), WorkerState::kFailed);
  EXPECT_NE(registry.render().find(healthy_line + "0"), std::string::npos) << registry.render();
  Collector c;
  GenerationRequest rc = request("c", 5, 5, 3);
  rc.sink = c.sink();
  EXPECT_EQ(s.worker->submit(std::move(rc)).kind(), ErrorKind::kUnavailable);
  s.worker->begin_shutdown(Clock::now());
  EXPECT_TRUE(join_within(*s.worker, std::chrono::seconds(5)));
  EXPECT_EQ(s.worker->state(), WorkerState::kStopped);
}

TEST(Worker, ShutdownCancelsWorkInFlightWithoutHanging) {
  auto s = start_worker(options(), 256, 4, nullptr, nullptr, 0, slow_step);
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 6; ++i) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request("r" + std::to_string(i), 8, 240, i);
    r.sink = cs.back()->sink();
    ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  }
  s.worker->begin_shutdown(Clock::now() + std::chrono::milliseconds(30));
  Collector late;
  GenerationRequest r = request("late", 5, 5, 1);
  r.sink = late.sink();
  EXPECT_EQ(s.worker->submit(std::move(r)).kind(), ErrorKind::kUnavailable);
  ASSERT_TRUE(join_within(*s.worker, std::chrono::seconds(5)));
  for (auto& c : cs) {
    EXPECT_EQ(c->num_final(), 1);
    EXPECT_EQ(c->finish(), FinishReason::kCancelled);
  }
  EXPECT_EQ(s.worker->state(), WorkerState::kStopped);
}

TEST(Worker, GracefulShutdownLetsRequestsFinish) {
  auto s = start_worker(options(), 256);
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 4; ++i) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request("r" + std::to_string(i), 8, 20, i);
    r.sink = cs.back()->sink();
    ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  }
  s.worker->begin_shutdown(Clock::now() + std::chrono::seconds(30));
  ASSERT_TRUE(join_within(*s.worker, std::chrono::seconds(5)));
  for (auto& c : cs) {
    EXPECT_EQ(c->finish(), FinishReason::kLength);
    EXPECT_EQ(c->tokens().size(), 20u);
  }
}

TEST(Worker, PreemptionMetricsAndOutputs) {
  metrics::Registry registry;
  WorkerOptions o = options();
  o.max_batch_tokens = 64;
  Gate gate;
  gate.close();  // queue all six first, so they compete for the 12 blocks (no timing luck)
  auto s = start_worker(o, /*num_blocks=*/12, 4, &registry, &gate);
  std::vector<GenerationRequest> reqs;
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 6; ++i) {
    GenerationRequest r = request("r" + std::to_string(i), 6, 30, 50 + i, 7 + i);
    cs.push_back(std::make_unique<Collector>());
    r.sink = cs.back()->sink();
    reqs.push_back(r);
    ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  }
  gate.open();
  for (size_t i = 0; i < cs.size(); ++i) {
    ASSERT_TRUE(cs[i]->wait_final());
    auto ref = reference_generate(reqs[i], 7 + i, kVocab, kContext, test_sample);
    EXPECT_EQ(cs[i]->tokens(), ref.tokens) << i;
  }
  s.worker->begin_shutdown(Clock::now());
  ASSERT_TRUE(join_within(*s.worker, std::chrono::seconds(5)));
  const std::string text = registry.render();
  EXPECT_NE(text.find("tandem_kv_blocks_capacity{worker=\"w0\"} 12"), std::string::npos) << text;
  EXPECT_NE(text.find("tandem_kv_blocks_used{worker=\"w0\"} 0"), std::string::npos);
  EXPECT_NE(text.find("tandem_worker_requests_running{worker=\"w0\"} 0"), std::string::npos);
  EXPECT_NE(text.find("tandem_worker_requests_waiting{worker=\"w0\"} 0"), std::string::npos);
  EXPECT_NE(text.find("tandem_step_seconds_count{worker=\"w0\"}"), std::string::npos);
  EXPECT_NE(text.find("tandem_step_tokens_count{worker=\"w0\"}"), std::string::npos);
  auto& preempt = registry.counter("tandem_preemptions_total", "", {{"worker", "w0"}});
  EXPECT_GT(preempt.value(), 0.0);
  EXPECT_EQ(registry.counter("tandem_num_preemptions_total", "").value(), preempt.value());
  // Six 6-token prompts looked up once each at first admission; different prompts: no hits.
  EXPECT_EQ(registry.counter("tandem_prefix_cache_queries_total", "").value(), 36.0);
  EXPECT_EQ(registry.counter("tandem_prefix_cache_hits_total", "").value(), 0.0);
  auto& steps = registry.histogram("tandem_step_tokens", "", {}, {{"worker", "w0"}});
  EXPECT_EQ(static_cast<int>(steps.count()), s.runner->steps.load());
}

TEST(Worker, DrawsASeedWhenNoneIsGiven) {
  auto s = start_worker(options(), 256);
  std::vector<std::unique_ptr<Collector>> cs;
  for (int i = 0; i < 6; ++i) {
    cs.push_back(std::make_unique<Collector>());
    GenerationRequest r = request("r" + std::to_string(i), 8, 12, /*prompt_seed=*/5, std::nullopt);
    r.sink = cs.back()->sink();
    ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  }
  std::set<std::vector<int32_t>> distinct;
  for (auto& c : cs) {
    ASSERT_TRUE(c->wait_final());
    distinct.insert(c->tokens());
  }
  // Same prompt, temperature 1, 3 choices per token over 12 tokens: equal
  // seeds would give one output.
  EXPECT_GT(distinct.size(), 1u);
}

TEST(Worker, KvEventsReachTheSink) {
  auto s = start_worker(options(), 64, 4);
  std::mutex mu;
  std::vector<kv::KvEvent> events;
  s.worker->set_kv_event_sink([&](const kv::KvEvent& e) {
    std::lock_guard<std::mutex> lock(mu);
    events.push_back(e);
  });
  Collector c;
  GenerationRequest r = request("r", 12, 5, 3);
  r.sink = c.sink();
  ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  ASSERT_TRUE(c.wait_final());
  s.worker->begin_shutdown(Clock::now());
  ASSERT_TRUE(join_within(*s.worker, std::chrono::seconds(5)));
  // 12 prompt + 4 fed-back tokens = 16 computed positions = 4 full blocks.
  ASSERT_EQ(events.size(), 4u);
  const kv::BlockHash root = kv::root_hash(0, "");
  const auto prompt = make_prompt(12, 3, kVocab);
  EXPECT_EQ(events[0].parent_hash, root);
  EXPECT_EQ(events[0].worker, "w0");
  EXPECT_EQ(events[0].tokens, std::vector<int32_t>(prompt.begin(), prompt.begin() + 4));
  EXPECT_EQ(events[0].block_hash, kv::chain_hash(root, events[0].tokens));
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_EQ(events[i].parent_hash, events[i - 1].block_hash);
    EXPECT_EQ(events[i].seq_no, i);
    EXPECT_EQ(events[i].kind, kv::KvEventKind::kStored);
  }
}

}  // namespace
}  // namespace tandem::scheduler

namespace tandem::scheduler {
namespace {

TEST(Worker, RoleChangesBetweenStepsWithoutStoppingWork) {
  metrics::Registry registry;
  WorkerOptions o = options();
  o.role = WorkerRole::kPrefill;
  Started s = start_worker(o, 64, 4, &registry);
  auto role_gauge = [&](const char* role) {
    return registry.gauge("tandem_worker_role", "", {{"worker", "w0"}, {"role", role}}).value();
  };
  EXPECT_EQ(s.worker->role(), WorkerRole::kPrefill);
  EXPECT_EQ(role_gauge("prefill"), 1);
  EXPECT_EQ(role_gauge("decode"), 0);
  Collector c;
  GenerationRequest r = request("a", 9, 12, 3);
  r.sink = c.sink();
  const testing::Expected expected = reference_generate(r, 1, kVocab, kContext, test_sample);
  ASSERT_TRUE(s.worker->submit(std::move(r)).ok());
  s.worker->set_role(WorkerRole::kDecode);
  EXPECT_TRUE(eventually([&] { return s.worker->role() == WorkerRole::kDecode; }));
  EXPECT_EQ(role_gauge("decode"), 1);
  EXPECT_EQ(role_gauge("prefill"), 0);
  ASSERT_TRUE(c.wait_final());
  EXPECT_EQ(c.tokens(), expected.tokens);
  s.worker->set_role(WorkerRole::kAggregated);
  EXPECT_TRUE(eventually([&] { return s.worker->role() == WorkerRole::kAggregated; }));
  EXPECT_EQ(std::string(worker_role_name(WorkerRole::kAggregated)), "aggregated");
  EXPECT_EQ(worker_role_from_name("prefill"), WorkerRole::kPrefill);
  EXPECT_FALSE(worker_role_from_name("both").has_value());
}

}  // namespace
}  // namespace tandem::scheduler

// Disaggregated serving with fake runners: a prefill worker computes the
// prompt and the first token, the decode worker continues on the moved KV.
// Outputs must equal the scheduler-free reference whatever happens on the
// way (export/import faults, a failing prefill worker, cancellations), every
// request gets exactly one final event, and no block stays held.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
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
using testing::make_prompt;
using testing::reference_generate;
using testing::test_sample;

constexpr int kVocab = 40;
constexpr int kContext = 512;
constexpr int kBlockTokens = 4;

struct Pair {
  std::unique_ptr<Router> router;
  FakeRunner* prefill = nullptr;
  FakeRunner* decode = nullptr;
};

struct Faults {
  int fail_exports = 0;
  int fail_imports = 0;
  int prefill_fail_at_step = 0;
  std::function<void()> decode_step;
  bool borrow = false;  // the prefill runner lends its blocks (KvBlob::borrows_source)
};

Pair make_pair(metrics::Registry* registry, int max_local_prefill_tokens, Faults f = {}, int max_prefill_queue = 1000) {
  Pair p;
  std::vector<std::unique_ptr<Worker>> ws;
  for (WorkerRole role : {WorkerRole::kPrefill, WorkerRole::kDecode}) {
    auto runner = std::make_unique<FakeRunner>(kVocab, kContext, kBlockTokens, 256);
    (role == WorkerRole::kPrefill ? p.prefill : p.decode) = runner.get();
    if (role == WorkerRole::kPrefill) {
      runner->fail_exports = f.fail_exports;
      runner->fail_at_step = f.prefill_fail_at_step;
      runner->borrow_blobs = f.borrow;
    } else {
      runner->fail_imports = f.fail_imports;
      runner->gate = f.decode_step;
    }
    WorkerOptions o;
    o.name = role == WorkerRole::kPrefill ? "p0" : "d0";
    o.role = role;
    o.max_batch_tokens = 64;
    o.sampler = test_sample;
    ws.push_back(Worker::start(o, std::move(runner), registry));
  }
  RouterOptions ro;
  ro.policy = "kv";
  ro.max_local_prefill_tokens = max_local_prefill_tokens;
  ro.max_prefill_queue = max_prefill_queue;
  p.router = std::make_unique<Router>(ro, std::move(ws));
  return p;
}

// Prompts sharing a few prefixes (so the decode worker's cache already holds
// some of the blocks a hand-off brings).
GenerationRequest request(int i, int max_tokens) {
  GenerationRequest r;
  r.id = "r" + std::to_string(i);
  r.prompt = make_prompt(8 + 4 * (i % 3), 100 + i % 4, kVocab);
  const std::vector<int32_t> tail = make_prompt(3 + i % 5, 1000 + i, kVocab);
  r.prompt.insert(r.prompt.end(), tail.begin(), tail.end());
  r.stop.max_tokens = max_tokens;
  r.sampling.seed = 7 + static_cast<uint64_t>(i);
  if (i % 2 == 1) r.sampling.temperature = 0.8f;
  return r;
}

struct Submitted {
  std::vector<std::unique_ptr<Collector>> collectors;
  std::vector<GenerationRequest> requests;
};

// Requests first .. first + n - 1.
Submitted submit_all_from(Router& router, int first, int n, int max_tokens) {
  Submitted run;
  for (int i = first; i < first + n; ++i) {
    GenerationRequest r = request(i, max_tokens);
    run.collectors.push_back(std::make_unique<Collector>());
    r.sink = run.collectors.back()->sink();
    run.requests.push_back(r);
    EXPECT_TRUE(router.submit(std::move(r)).ok());
  }
  return run;
}

Submitted submit_all(Router& router, int n, int max_tokens) { return submit_all_from(router, 0, n, max_tokens); }

void expect_reference_outputs(const Submitted& run) {
  for (size_t i = 0; i < run.collectors.size(); ++i) {
    const Collector& c = *run.collectors[i];
    ASSERT_TRUE(const_cast<Collector&>(c).wait_final()) << i;
    EXPECT_EQ(c.num_final(), 1) << i;
    const auto expected =
        reference_generate(run.requests[i], *run.requests[i].sampling.seed, kVocab, kContext, test_sample);
    EXPECT_EQ(c.tokens(), expected.tokens) << i;
    EXPECT_EQ(c.finish(), expected.finish) << i;
    EXPECT_EQ(c.events().front().prompt_tokens, static_cast<int>(run.requests[i].prompt.size())) << i;
  }
}

void expect_no_block_held(const Router& router) {
  for (size_t w = 0; w < router.num_workers(); ++w) {
    EXPECT_TRUE(eventually([&] { return router.worker(w).load().kv_blocks_used == 0; })) << w;
  }
}

double value(metrics::Registry& r, const std::string& name, const metrics::Labels& labels) {
  return r.counter(name, "", labels).value();
}

TEST(Disaggregation, RemotePrefillThenDecodeGivesTheReferenceOutputs) {
  metrics::Registry registry;
  Pair p = make_pair(&registry, 0);
  const Submitted run = submit_all(*p.router, 32, 12);
  expect_reference_outputs(run);
  for (const auto& c : run.collectors) {
    // The first token comes from the prefill worker, alone, the rest from the decode worker.
    const auto events = c->events();
    EXPECT_EQ(events.front().worker, "p0");
    EXPECT_EQ(events.front().tokens.size(), 1u);
  }
  EXPECT_EQ(value(registry, "tandem_disagg_prefills_total", {{"path", "remote"}}), 32);
  EXPECT_EQ(value(registry, "tandem_disagg_prefills_total", {{"path", "local"}}), 0);
  EXPECT_GT(value(registry, "tandem_kv_transfer_bytes_total", {{"worker", "d0"}}), 0);
  // Shared prefixes already on the decode worker were not copied again.
  EXPECT_GT(value(registry, "tandem_kv_transfer_cached_blocks_total", {{"worker", "d0"}}), 0);
  EXPECT_GT(p.decode->imported_blocks.load(), 0);
  expect_no_block_held(*p.router);
  p.router->shutdown(std::chrono::seconds(1));
}

// Borrowed KV (the CUDA runner's one-copy move): the decode worker reads the
// prefill worker's blocks in place, which the prefill worker holds until the
// lease comes back through its inbox; with every third import failing too.
TEST(Disaggregation, BorrowedKvGivesTheReferenceOutputsAndEveryBlockBack) {
  metrics::Registry registry;
  Pair p = make_pair(&registry, 0, Faults{.fail_imports = 3, .borrow = true});
  const Submitted run = submit_all(*p.router, 32, 12);
  expect_reference_outputs(run);
  EXPECT_EQ(value(registry, "tandem_disagg_prefills_total", {{"path", "remote"}}), 32);
  EXPECT_GT(value(registry, "tandem_kv_transfer_bytes_total", {{"worker", "d0"}}), 0);
  EXPECT_GT(value(registry, "tandem_kv_transfer_failures_total", {{"worker", "d0"}}), 0);
  EXPECT_GE(p.prefill->borrowed.load(), 1);  // blobs were views of the prefill worker's cache
  expect_no_block_held(*p.router);
  p.router->shutdown(std::chrono::seconds(1));
}

TEST(Disaggregation, ShortUncachedPromptsArePrefilledOnTheDecodeWorker) {
  metrics::Registry registry;
  Pair p = make_pair(&registry, 1000);
  const Submitted run = submit_all(*p.router, 8, 6);
  expect_reference_outputs(run);
  for (const auto& c : run.collectors) EXPECT_EQ(c->events().front().worker, "d0");
  EXPECT_EQ(value(registry, "tandem_disagg_prefills_total", {{"path", "local"}}), 8);
  EXPECT_EQ(p.prefill->steps.load(), 0);
  p.router->shutdown(std::chrono::seconds(1));
}

TEST(Disaggregation, FailedTransfersFallBackToLocalPrefill) {
  metrics::Registry registry;
  Pair p = make_pair(&registry, 0, Faults{.fail_exports = 5, .fail_imports = 3});
  const Submitted run = submit_all(*p.router, 32, 10);
  expect_reference_outputs(run);
  EXPECT_GT(value(registry, "tandem_kv_transfer_failures_total", {{"worker", "d0"}}), 0);
  expect_no_block_held(*p.router);
  p.router->shutdown(std::chrono::seconds(1));
}

TEST(Disaggregation, AFailingPrefillWorkerLosesNoRequest) {
  metrics::Registry registry;
  Pair p = make_pair(&registry, 0, Faults{.prefill_fail_at_step = 4});
  const Submitted run = submit_all(*p.router, 24, 8);
  expect_reference_outputs(run);
  EXPECT_FALSE(p.router->worker(0).healthy());
  // New requests go to the decode worker alone.
  Collector c;
  GenerationRequest r = request(99, 5);
  r.sink = c.sink();
  const auto expected = reference_generate(r, *r.sampling.seed, kVocab, kContext, test_sample);
  ASSERT_TRUE(p.router->submit(std::move(r)).ok());
  ASSERT_TRUE(c.wait_final());
  EXPECT_EQ(c.tokens(), expected.tokens);
  p.router->shutdown(std::chrono::seconds(1));
}

TEST(Disaggregation, CancelAtAnyPhaseFreesEverything) {
  metrics::Registry registry;
  auto slow = [] { std::this_thread::sleep_for(std::chrono::milliseconds(1)); };
  Pair p = make_pair(&registry, 0, Faults{.decode_step = slow});
  Submitted run = submit_all(*p.router, 24, 200);
  // Cancel some at once (queued or prefilling), some in transit or decoding.
  for (int i = 0; i < 24; i += 3) p.router->cancel("r" + std::to_string(i));
  ASSERT_TRUE(eventually([&] { return run.collectors[1]->tokens().size() >= 2; }));
  for (int i = 1; i < 24; i += 3) p.router->cancel("r" + std::to_string(i));
  for (int i = 0; i < 24; ++i) {
    Collector& c = *run.collectors[static_cast<size_t>(i)];
    ASSERT_TRUE(c.wait_final(std::chrono::seconds(20))) << i;
    EXPECT_EQ(c.num_final(), 1) << i;
    const auto expected =
        reference_generate(run.requests[static_cast<size_t>(i)], *run.requests[static_cast<size_t>(i)].sampling.seed,
                           kVocab, kContext, test_sample);
    const std::vector<int32_t> got = c.tokens();
    if (i % 3 == 2) {
      EXPECT_EQ(got, expected.tokens) << i;
    } else {
      EXPECT_EQ(c.finish(), FinishReason::kCancelled) << i;
      // Whatever was streamed is a prefix of the reference: nothing duplicated or lost.
      ASSERT_LE(got.size(), expected.tokens.size()) << i;
      EXPECT_TRUE(std::equal(got.begin(), got.end(), expected.tokens.begin())) << i;
    }
  }
  expect_no_block_held(*p.router);
  p.router->shutdown(std::chrono::seconds(1));
}

TEST(Disaggregation, RolesChangeAtRunTime) {
  metrics::Registry registry;
  Pair p = make_pair(&registry, 0);
  // The prefill worker becomes a decode worker: everything is served locally.
  p.router->set_role(0, WorkerRole::kDecode);
  ASSERT_TRUE(eventually([&] { return p.router->worker(0).role() == WorkerRole::kDecode; }));
  const Submitted run = submit_all(*p.router, 6, 5);
  expect_reference_outputs(run);
  EXPECT_EQ(value(registry, "tandem_disagg_prefills_total", {{"path", "remote"}}), 0);
  const ServiceStats s = p.router->stats();
  EXPECT_EQ(s.workers[0].role, "decode");
  p.router->shutdown(std::chrono::seconds(1));
}

// What the SLA planner relies on (scheduler/planner.h): flipping roles while
// remote prefills and decodes are in flight loses and repeats nothing. The
// prefill worker becomes a decode worker and the decode worker a prefill
// worker right after the submits; every request still gets the reference
// output and exactly one final event, and no block stays held.
TEST(Disaggregation, RolesFlipWithWorkInFlight) {
  metrics::Registry registry;
  Pair p = make_pair(&registry, 0);
  const Submitted run = submit_all(*p.router, 12, 6);
  p.router->set_role(0, WorkerRole::kDecode);
  p.router->set_role(1, WorkerRole::kPrefill);
  expect_reference_outputs(run);
  EXPECT_GT(value(registry, "tandem_disagg_prefills_total", {{"path", "remote"}}), 0);
  EXPECT_TRUE(eventually([&] { return p.router->worker(0).role() == WorkerRole::kDecode; }));
  EXPECT_TRUE(eventually([&] { return p.router->worker(1).role() == WorkerRole::kPrefill; }));
  // Routing follows the new roles: the next requests are prefilled on worker 1.
  const double remote_before = value(registry, "tandem_disagg_prefills_total", {{"path", "remote"}});
  const Submitted after = submit_all_from(*p.router, 100, 4, 5);
  expect_reference_outputs(after);
  EXPECT_EQ(value(registry, "tandem_disagg_prefills_total", {{"path", "remote"}}), remote_before + 4);
  expect_no_block_held(*p.router);
  p.router->shutdown(std::chrono::seconds(1));
}

}  // namespace
}  // namespace tandem::scheduler

#include "scheduler/first_token_estimate.h"

#include <gtest/gtest.h>

namespace tandem::scheduler {
namespace {

// Rates a = 0.1 s per decode step, b = 0.001 s per prefill token.
StepRates rates() {
  StepRates r(1.0);
  r.observe(4, 0, 0.1);
  r.observe(4, 1000, 1.1);
  EXPECT_DOUBLE_EQ(r.decode_step_seconds(), 0.1);
  EXPECT_DOUBLE_EQ(r.prefill_seconds_per_token(), 0.001);
  return r;
}

constexpr double kA = 0.1;
constexpr double kB = 0.001;

TEST(FirstTokenEstimate, UnknownUntilAStepWasTimed) {
  WorkerBacklog b;
  b.max_running = 4;
  EXPECT_FALSE(estimate_first_token_seconds(b, StepRates(), 100).has_value());
}

TEST(FirstTokenEstimate, IdleWorkerIsItsOwnPrefillAndOneStep) {
  WorkerBacklog b;
  b.max_running = 4;
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 200), 200 * kB + kA);
}

TEST(FirstTokenEstimate, AFreeSlotWaitsOnlyForThePrefillsAhead) {
  WorkerBacklog b;
  b.max_running = 4;
  b.running = {{0, 500}, {300, 40}};  // one decoding, one still prefilling 300 tokens
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 200), (300 + 200) * kB + kA);
}

TEST(FirstTokenEstimate, FullWorkerWaitsForTheFirstSlotToFree) {
  WorkerBacklog b;
  b.max_running = 4;
  b.running = {{0, 10}, {0, 20}, {0, 5}, {0, 30}};
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 50), 5 * kA + 50 * kB + kA);
}

TEST(FirstTokenEstimate, WaitingRequestsTakeTheSlotsFirstInQueueOrder) {
  WorkerBacklog b;
  b.max_running = 4;
  b.running = {{0, 10}, {0, 20}, {0, 5}, {0, 30}};
  // The first waiting one starts at 5a and holds its slot until 13a; the
  // second takes the slot freeing at 10a; the new request the one at 13a.
  b.waiting = {{60, 8}, {40, 100}};
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 50), 13 * kA + (60 + 40 + 50) * kB + kA);
  // Queue order matters: the long one first holds the 5a slot until 105a.
  b.waiting = {{40, 100}, {60, 8}};
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 50), 18 * kA + (60 + 40 + 50) * kB + kA);
}

TEST(FirstTokenEstimate, RemotePrefillsHoldNoDecodeSlot) {
  // A prefill-role worker: its sequences leave after their first token, so
  // only prompt tokens stand between a new request and its first token.
  WorkerBacklog b;
  b.max_running = 2;
  b.running = {{2000, 0}, {1500, 0}};
  b.waiting = {{3000, 0}};
  StepRates r;
  r.observe(0, 1000, 0.5);  // such a worker never runs a decode-only step
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, r, 700), (2000 + 1500 + 3000 + 700) * 0.0005);
}

TEST(FirstTokenEstimate, MoreWorkNeverShortensTheWait) {
  WorkerBacklog b;
  b.max_running = 3;
  double last = *estimate_first_token_seconds(b, rates(), 10);
  for (int i = 0; i < 40; ++i) {
    (i % 2 ? b.waiting : b.running).push_back({7 * i % 50, 13 * i % 90});
    const double now = *estimate_first_token_seconds(b, rates(), 10);
    EXPECT_GE(now, last) << i;
    last = now;
  }
}

TEST(FirstTokenEstimate, AStepInProgressEndsFirstAndYieldsATokenOfEach) {
  WorkerBacklog b;
  b.max_running = 4;
  b.running = {{0, 500}, {0, 40}};
  b.step_elapsed = 0.04;  // a free slot, but the step running since 40 ms ends first
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 50), (kA - 0.04) + 50 * kB + kA);
  b.running = {{0, 10}, {0, 20}, {0, 5}, {0, 30}};
  b.step_elapsed = 0.03;  // full: the third frees after this step and 4 more
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 50), (kA - 0.03) + 4 * kA + 50 * kB + kA);
  b.step_elapsed = 0.25;  // a long step (prefill chunks): no rest expected beyond a
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 50), 4 * kA + 50 * kB + kA);
  b.step_elapsed = 0.0;  // just started: the same as before it (5 steps)
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 50), 5 * kA + 50 * kB + kA);
}

TEST(FirstTokenEstimate, MoreRunningThanSlotsFreeAsTheCountDrops) {
  WorkerBacklog b;
  b.max_running = 2;
  b.running = {{0, 1}, {0, 4}, {0, 9}};  // the slot frees when the second one ends
  EXPECT_DOUBLE_EQ(*estimate_first_token_seconds(b, rates(), 1), 4 * kA + kB + kA);
}

}  // namespace
}  // namespace tandem::scheduler

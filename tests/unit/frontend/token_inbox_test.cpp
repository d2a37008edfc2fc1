#include "frontend/token_inbox.h"

#include <atomic>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace tandem::frontend {
namespace {

TEST(TokenInboxTest, WakesOncePerBatch) {
  int wakes = 0;
  auto inbox = std::make_shared<TokenInbox>([&] { ++wakes; });
  auto sink = inbox->sink(1);
  sink(scheduler::TokenEvent{});
  sink(scheduler::TokenEvent{});
  EXPECT_EQ(wakes, 1);
  std::vector<TokenInbox::Item> items;
  inbox->take(items);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].choice, 1);
  sink(scheduler::TokenEvent{});
  EXPECT_EQ(wakes, 2);
}

TEST(TokenInboxTest, ConcurrentProducersLoseNothing) {
  std::atomic<int> wakes{0};
  auto inbox = std::make_shared<TokenInbox>([&] { wakes.fetch_add(1); });
  constexpr int kPerThread = 5000;
  std::vector<std::thread> producers;
  for (int t = 0; t < 3; ++t) {
    producers.emplace_back([&, t] {
      auto sink = inbox->sink(t);
      for (int i = 0; i < kPerThread; ++i) sink(scheduler::TokenEvent{});
    });
  }
  size_t total = 0;
  std::vector<TokenInbox::Item> items;
  while (total < 3u * kPerThread) {
    inbox->take(items);
    total += items.size();
  }
  for (auto& p : producers) p.join();
  inbox->take(items);
  total += items.size();
  EXPECT_EQ(total, 3u * kPerThread);
  EXPECT_GE(wakes.load(), 1);
}

}  // namespace
}  // namespace tandem::frontend

// PreparePool: runs tasks off the caller's thread, refuses beyond its bound
// and after stop().
#include "frontend/prepare_pool.h"

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

#include <gtest/gtest.h>

namespace tandem::frontend {
namespace {

TEST(PreparePool, RunsTasksOnItsThreads) {
  PreparePool pool(2, 8);
  std::promise<std::thread::id> ran;
  ASSERT_TRUE(pool.post([&] { ran.set_value(std::this_thread::get_id()); }));
  auto f = ran.get_future();
  ASSERT_EQ(f.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_NE(f.get(), std::this_thread::get_id());
}

TEST(PreparePool, RefusesBeyondItsBoundAndAfterStop) {
  PreparePool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  std::atomic<int> ran{0};
  ASSERT_TRUE(pool.post([&] {
    started.set_value();
    gate.wait();
    ++ran;
  }));
  started.get_future().wait();  // the only thread is busy from here on
  EXPECT_TRUE(pool.post([&] { ++ran; }));
  EXPECT_TRUE(pool.post([&] { ++ran; }));
  EXPECT_FALSE(pool.post([&] { ++ran; }));  // two already wait
  release.set_value();
  pool.stop();
  EXPECT_GE(ran.load(), 1);  // the running task finished (queued ones may have run or been dropped)
  EXPECT_FALSE(pool.post([&] { ++ran; }));
}

}  // namespace
}  // namespace tandem::frontend

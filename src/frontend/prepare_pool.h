// frontend::PreparePool: the few threads that prepare requests (parse the
// body, render the chat template, tokenize) so that the HTTP I/O threads
// never wait behind an 8 MB prompt: health checks and stream writes stay
// prompt while large requests are prepared.
//
// Bounded: at most `max_queued` tasks wait; post() refuses more (the caller
// answers 429). A task must not block on the network; it posts its result
// back to the connection's strand.
//
// Threading: post() and stop() may be called from any thread except a pool
// thread (stop() joins them). Tasks still queued at stop() are destroyed on
// the calling thread without running.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tandem::frontend {

class PreparePool {
 public:
  // threads >= 1, max_queued >= 1.
  PreparePool(int threads, size_t max_queued);
  ~PreparePool();
  PreparePool(const PreparePool&) = delete;
  PreparePool& operator=(const PreparePool&) = delete;

  // Queues `task`; false (task dropped) when max_queued tasks wait or the
  // pool has stopped.
  bool post(std::function<void()> task);
  // Runs no further task, waits for running ones, joins. Idempotent.
  void stop();

 private:
  void run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;
  bool stopped_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tandem::frontend

#include "frontend/prepare_pool.h"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace tandem::frontend {

PreparePool::PreparePool(int threads, size_t max_queued) : max_queued_(max_queued) {
  threads_.reserve(static_cast<size_t>(threads));
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { run(); });
}

PreparePool::~PreparePool() { stop(); }

bool PreparePool::post(std::function<void()> task) {
  {
    std::lock_guard lock(mu_);
    if (stopped_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
  }
  cv_.notify_one();
  return true;
}

void PreparePool::stop() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mu_);
    stopped_ = true;
    dropped.swap(queue_);
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
  threads_.clear();
  dropped.clear();
}

void PreparePool::run() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopped_ || !queue_.empty(); });
      if (stopped_) return;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      task();
    } catch (const std::exception& e) {
      spdlog::error("prepare thread: unexpected exception: {}", e.what());
    }
  }
}

}  // namespace tandem::frontend

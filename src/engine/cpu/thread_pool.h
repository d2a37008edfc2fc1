// A small persistent thread pool for the CPU runner's parallel loops.
//
// Threads: the pool owns `size() - 1` worker threads; the thread that calls
// parallel_for() takes part as thread 0 and returns when every task is done.
// Only one thread may call parallel_for() at a time (the runner's worker
// thread); the pool is not re-entrant (a task must not call parallel_for()).
//
// Determinism: which thread runs which task is unspecified, so a task's
// result must depend only on its task index (callers split work so that each
// output element is computed by exactly one task, in a fixed order).
//
// Idle workers spin briefly after a job (steps issue many short jobs
// back to back), then sleep on a futex (std::atomic::wait). The caller waits
// only for workers that actually joined the job: when the machine is
// oversubscribed and a worker is not scheduled in time, the caller runs the
// remaining tasks itself and closes the job instead of waiting for it.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

namespace tandem::engine::cpu {

class ThreadPool {
 public:
  // threads: total threads including the caller; values < 1 mean 1.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(task, thread) for every task in [0, n_tasks), thread in [0, size()).
  template <class Fn>
  void parallel_for(int n_tasks, Fn&& fn) {
    using F = std::remove_reference_t<Fn>;
    run(
        n_tasks, [](void* ctx, int task, int thread) { (*static_cast<F*>(ctx))(task, thread); },
        const_cast<void*>(static_cast<const void*>(&fn)));
  }

 private:
  using TaskFn = void (*)(void* ctx, int task, int thread);

  void run(int n_tasks, TaskFn fn, void* ctx);
  void work(int thread);
  void worker_main(int thread);

  std::vector<std::thread> workers_;
  // Current job, published by bumping generation_ (release) and read by
  // workers after they observe the bump (acquire).
  TaskFn fn_ = nullptr;
  void* ctx_ = nullptr;
  int n_tasks_ = 0;
  std::atomic<int> next_task_{0};
  std::atomic<bool> job_open_{false};   // workers may join the current job
  std::atomic<int> active_workers_{0};  // workers inside the current job
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace tandem::engine::cpu

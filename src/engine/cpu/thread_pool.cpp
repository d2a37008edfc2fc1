#include "engine/cpu/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace tandem::engine::cpu {
namespace {

// Some tens of microseconds of spinning before sleeping: long enough to bridge
// the gap between two jobs of one step, short enough not to steal a core from
// other processes between steps.
constexpr int kSpinIterations = 4000;

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  _mm_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int threads) {
  const int n = threads < 1 ? 1 : threads;
  workers_.reserve(n - 1);
  for (int t = 1; t < n; ++t) workers_.emplace_back([this, t] { worker_main(t); });
}

ThreadPool::~ThreadPool() {
  stop_.store(true, std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  for (std::thread& w : workers_) w.join();
}

void ThreadPool::run(int n_tasks, TaskFn fn, void* ctx) {
  if (n_tasks <= 0) return;
  if (workers_.empty() || n_tasks == 1) {
    for (int i = 0; i < n_tasks; ++i) fn(ctx, i, 0);
    return;
  }
  // No worker is inside a job here (the previous run() waited them out), so
  // the job fields can be written; job_open_ (seq_cst) publishes them.
  fn_ = fn;
  ctx_ = ctx;
  n_tasks_ = n_tasks;
  next_task_.store(0, std::memory_order_relaxed);
  job_open_.store(true);
  generation_.fetch_add(1, std::memory_order_release);
  generation_.notify_all();
  work(0);
  // All tasks are claimed. Close the job, then wait for the workers that
  // joined it (Dekker-style with the worker's increment-then-check).
  job_open_.store(false);
  for (int spin = 0;; ++spin) {
    const int active = active_workers_.load();
    if (active == 0) break;
    if (spin < kSpinIterations) {
      cpu_relax();
    } else {
      active_workers_.wait(active);
    }
  }
}

void ThreadPool::work(int thread) {
  for (;;) {
    const int task = next_task_.fetch_add(1, std::memory_order_relaxed);
    if (task >= n_tasks_) return;
    fn_(ctx_, task, thread);
  }
}

void ThreadPool::worker_main(int thread) {
  uint64_t seen = 0;
  for (;;) {
    uint64_t gen = generation_.load(std::memory_order_acquire);
    for (int spin = 0; gen == seen; ++spin) {
      if (spin < kSpinIterations) {
        cpu_relax();
      } else {
        generation_.wait(seen, std::memory_order_acquire);
      }
      gen = generation_.load(std::memory_order_acquire);
    }
    seen = gen;
    if (stop_.load(std::memory_order_relaxed)) return;
    active_workers_.fetch_add(1);
    if (job_open_.load()) work(thread);
    if (active_workers_.fetch_sub(1) == 1) active_workers_.notify_all();
  }
}

}  // namespace tandem::engine::cpu

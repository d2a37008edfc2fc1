// scheduler::Worker: one thread that owns one engine::Runner and one
// kv::BlockPool and runs the continuous-batching loop (StepScheduler) over
// them (docs/design.md, step 5).
//
// Threads: the worker thread is the only one touching the runner, the pool
// and the scheduler; its one job is the step loop. Every public method is
// thread-safe and never blocks on a step: submit() and cancel() push to an
// inbox (a mutex-guarded queue) that the loop drains before each step.
// Token sinks and the KV event sink are called on the worker thread.
//
// Worker lifecycle (WorkerState):
//   kRunning  -> kDraining   shutdown(): no new submits; in-flight work goes on
//   kRunning, kDraining -> kFailed   a Runner step failed: every request gets
//                                    kError, new submits get kUnavailable
//   kDraining -> kStopped    nothing left (or cancel_at passed: the rest were
//                            cancelled); the thread has exited
//   kFailed   -> kStopped    on shutdown
// healthy() is true only in kRunning.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <variant>

#include "common/metrics.h"
#include "common/status.h"
#include "engine/runner.h"
#include "kv/block_pool.h"
#include "kv/kv_event.h"
#include "kv/tier_cache.h"
#include "scheduler/first_token_estimate.h"
#include "scheduler/generation.h"
#include "scheduler/handoff.h"
#include "scheduler/request_limits.h"
#include "scheduler/step_rates.h"
#include "scheduler/step_scheduler.h"
#include "scheduler/worker_metrics.h"
#include "scheduler/worker_role.h"

namespace tandem::scheduler {

struct WorkerOptions {
  std::string name = "w0";                    // metrics label, logs, KV events, TokenEvent::worker
  WorkerRole role = WorkerRole::kAggregated;  // the role at start (set_role changes it)
  int max_batch_tokens = 2048;                // tokens per step (prefill chunks + decodes), >= 1
  int max_running = 64;                       // sequences per step, >= 1
  int max_queue = 256;                        // queued (not yet running) requests before kQueueFull, >= 1
  bool enable_prefix_caching = true;
  uint64_t model_salt = 0;  // separates prefix caches of different models/weights
  int max_context = 0;      // 0: the runner's spec().max_position
  Sampler sampler;          // empty: the runner samples (Runner::step_and_sample)
  // KV tiers under the pool (kv/tier_cache.h), opened with this worker's
  // runner's host memory and block size; null: none. Needs prefix caching.
  // The worker emits their KV events, updates their metrics after each step
  // and flushes the host tier to disk when its thread exits.
  std::shared_ptr<kv::TierCache> tiers;
  // Times the runner's steps for StepRates and the step metrics; empty:
  // steady_clock::now. Tests inject a fake clock (deterministic timings).
  std::function<std::chrono::steady_clock::time_point()> step_clock;
};

enum class WorkerState {
  kRunning,
  kDraining,
  kFailed,
  kStopped,
};

const char* worker_state_name(WorkerState state);

// What makes a submit a remote prefill (disaggregated serving): after the
// first token the sequence leaves through `handoff` (called on this worker's
// thread, see handoff.h); `cancelled` is the router's cancel flag, checked at
// every step by whichever worker holds the request.
struct RemotePrefill {
  HandoffFn handoff;
  std::shared_ptr<std::atomic<bool>> cancelled;
  int skip_blocks = 0;  // leading prompt blocks the decode worker caches: not exported
};

// Load figures the router reads (refreshed after every step and on submit).
struct WorkerLoad {
  bool healthy = false;
  int running = 0;
  int waiting = 0;          // inbox + queue (preempted included)
  int64_t load_tokens = 0;  // queued + running tokens
  int kv_blocks_used = 0;
  int kv_blocks_total = 0;
};

class Worker {
 public:
  using Clock = std::chrono::steady_clock;

  // Starts the worker thread. Options are checked with TANDEM_CHECK (they come
  // from validated config). `metrics` may be null and must outlive the worker.
  static std::unique_ptr<Worker> start(WorkerOptions options, std::unique_ptr<engine::Runner> runner,
                                       metrics::Registry* metrics);

  // Cancels whatever is left and joins the thread.
  ~Worker();

  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // GenerationService::submit semantics: check_request errors, kInvalidRequest
  // for an id already in flight here, kQueueFull, kUnavailable when failed or
  // draining. Draws a seed when the request has none. Moves from `request`
  // only when it returns ok, so a caller may offer it to another worker.
  // With `remote.handoff` set the request is a remote prefill: it leaves this
  // worker after its first token, or, should this worker fail first, without
  // its KV (the id then leaves this worker's in-flight set).
  Status submit(GenerationRequest&& request, RemotePrefill remote = {});
  void cancel(const std::string& id);

  // Takes a sequence handed over by a prefill worker (see handoff.h) into the
  // inbox; the loop adopts it before its next step. kUnavailable when failed
  // or stopped (a draining worker still adopts: the request was accepted),
  // kInvalidRequest for an id in flight here; `handoff` is moved from only on
  // success. Transfer metrics are this worker's.
  Status adopt(Handoff& handoff);

  // Stops accepting work and lets the loop finish what it has; at cancel_at
  // whatever is left gets kCancelled. Does not wait (see join()).
  void begin_shutdown(Clock::time_point cancel_at);
  // Waits for the thread to exit (begin_shutdown first, or it waits forever).
  void join();

  // Where KV events go from now on (replaces the previous sink; empty drops).
  void set_kv_event_sink(kv::KvEventSink sink);

  // Changes the worker's role without touching its weights or its work: the
  // loop applies it before its next step (role() then reports it, the
  // tandem_worker_role gauge and the log follow). Sequences already here
  // finish as they started; the router routes by role() from then on.
  void set_role(WorkerRole role);
  // The role the loop last applied.
  WorkerRole role() const { return role_.load(); }

  const std::string& name() const { return options_.name; }
  bool healthy() const { return state() == WorkerState::kRunning; }
  WorkerState state() const;
  WorkerLoad load() const;
  // Seconds until a request with `prefill_tokens` uncached prompt tokens,
  // submitted here now, would get its first token (first_token_estimate.h),
  // from the work queued and running after the last step plus the inbox, and
  // the measured step speed. nullopt before the worker has timed a step.
  std::optional<double> expected_first_token_seconds(int prefill_tokens) const;
  const RequestLimits& limits() const { return limits_; }
  int block_tokens() const { return limits_.block_tokens; }
  uint64_t model_salt() const { return options_.model_salt; }
  // The registry given to start() (null when none); the router adds its own
  // metrics there.
  metrics::Registry* metrics_registry() const { return registry_; }

 private:
  struct Cancel {
    std::string id;
  };
  struct GivenBack {  // blocks a BlockLease brought back (handoff.h)
    std::vector<int32_t> blocks;
  };
  using Command = std::variant<std::unique_ptr<Sequence>, Cancel, Handoff, GivenBack>;
  // Where this worker's BlockLeases give blocks back; outlives the worker
  // while leases do (the worker is cleared from it when it is destroyed).
  struct LeaseReturn {
    std::mutex mu;
    Worker* worker = nullptr;
  };

  Worker(WorkerOptions options, std::unique_ptr<engine::Runner> runner, metrics::Registry* metrics);
  void run();     // the thread body
  Status step();  // one iteration (worker thread)
  void mark_failed(const Status& cause);
  bool healthy_locked_view();        // state_ != kFailed, under mu_
  void fail_remaining();             // every queued/running request -> kError
  bool drain_inbox();                // false when the loop should exit
  void apply_role(WorkerRole role);  // worker thread, between steps
  // `stepping`: a step is about to run (its start is recorded for the
  // estimate); false after it.
  void publish_load(bool stepping = false);
  Clock::time_point step_now() const { return options_.step_clock ? options_.step_clock() : Clock::now(); }
  void on_final_event(const std::string& id);
  // The sink a request has here: `inner`, then the id leaves in_flight_ with
  // the final event.
  TokenSink wrap_sink(const std::string& id, TokenSink inner);
  // Sends every Handoff the scheduler built (worker thread, mu_ not held).
  void dispatch_handoffs();
  void emit_kv_event(const kv::KvEvent& e);

  WorkerOptions options_;
  std::unique_ptr<engine::Runner> runner_;
  RequestLimits limits_;
  metrics::Registry* registry_;
  WorkerMetrics metrics_;
  std::unique_ptr<kv::BlockPool> pool_;
  std::shared_ptr<kv::TierCache> tiers_;  // options_.tiers, released before the runner
  std::unique_ptr<StepScheduler> scheduler_;

  mutable std::mutex mu_;  // guards everything below up to the thread
  std::condition_variable wake_;
  std::deque<Command> inbox_;
  std::unordered_set<std::string> in_flight_;  // ids submitted and not yet finished
  WorkerState state_ = WorkerState::kRunning;
  Status failure_;  // why the worker failed (kFailed only)
  bool shutdown_requested_ = false;
  bool exiting_ = false;  // the loop decided to exit (nothing left after shutdown)
  Clock::time_point cancel_at_ = Clock::time_point::max();
  std::mt19937_64 seed_rng_;
  int inbox_requests_ = 0;
  int64_t inbox_tokens_ = 0;
  WorkerLoad published_;                           // the loop's figures after its last step
  WorkerBacklog published_backlog_;                // the scheduler's backlog after its last step
  StepRates published_rates_;                      // its step speed after its last step
  std::optional<Clock::time_point> step_started_;  // on the step clock, while a step runs
  std::vector<PendingWork> inbox_work_;            // the inbox's requests, in order
  std::optional<WorkerRole> pending_role_;         // set_role() not yet applied
  std::atomic<WorkerRole> role_;                   // written by the worker thread only (and the constructor)

  std::mutex kv_sink_mu_;
  kv::KvEventSink kv_sink_;
  std::shared_ptr<LeaseReturn> lease_return_;

  WorkerBacklog backlog_scratch_;  // worker thread: filled, then swapped with published_backlog_

  std::thread thread_;
};

}  // namespace tandem::scheduler

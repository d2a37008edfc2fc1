// scheduler::StepScheduler: the continuous-batching logic of one worker,
// without threads, so every part is testable with plain data. One iteration is
//   reap (cancel / deadline) -> schedule (capacity, running, admit; preempt
//   when blocks run out) -> build_batch -> Runner::step_and_sample (or
//   Runner::step + the injected Sampler) -> apply (advance, cache full
//   blocks, append the sampled token, stop checks) or fail -> publish
//   (events, free)
// Structured output (GenerationRequest::constraint, token_constraint.h): the
// allowed-token masks of a step are filled by the runner's before_sampling
// hook (fill_masks, on the CPU while the device runs the forward pass), the
// runner samples from masked logits, and apply() accepts each sampled token
// into its constraint, ends the sequence with kStop when the constraint is
// finished, and with kError when no token was allowed.
// and iterate() runs exactly that chain. Without an injected Sampler the
// runner samples (on the device for CUDA), so logits never reach the host.
//
// Scheduling policy (like vLLM's): a step holds at most max_batch_tokens
// tokens. Running decodes go first (1 token each, oldest first), then running
// prefills (chunks of what is left of the budget, oldest first), then waiting
// requests are admitted in FIFO order while the budget, free blocks and
// max_running allow, each reusing its longest cached prefix (whole blocks,
// never the last prompt token) and taking a first chunk. When a running
// sequence cannot get a block, the youngest running sequence is preempted
// (its blocks released, it goes to the front of the queue and later recomputes
// prompt + generated tokens); no admission happens in a step that preempted.
// A request that fits the pool alone (checked at submit) therefore always
// makes progress: the oldest one is never preempted by a younger one.
//
// Threading: used by one thread (the worker's). Sinks are called from
// publish() and fail_all(), on that thread.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "engine/runner.h"
#include "engine/sampling.h"
#include "kv/block_pool.h"
#include "kv/tier_cache.h"
#include "scheduler/first_token_estimate.h"
#include "scheduler/handoff.h"
#include "scheduler/sequence.h"
#include "scheduler/step_plan.h"
#include "scheduler/step_rates.h"
#include "scheduler/worker_metrics.h"

namespace tandem::scheduler {

// engine::sample, or a stand-in with the same contract (pure in its inputs).
// Empty: the runner samples (Runner::step_and_sample, engine::sample semantics).
using Sampler = std::function<SampledToken(const engine::SampleInput&)>;

struct SchedulerOptions {
  std::string worker;           // name, put into TokenEvent::worker
  int max_batch_tokens = 2048;  // >= 1
  int max_running = 64;         // >= 1
  int max_context = 0;          // >= 1, positions; a sequence reaching it finishes with kLength
  int vocab = 0;                // >= 1, width of a logits row
  // Times the runner's steps (StepRates, metrics); empty: Clock::now. Tests
  // inject a fake clock to get deterministic step timings.
  std::function<std::chrono::steady_clock::time_point()> step_clock;
};

class StepScheduler {
 public:
  using Clock = std::chrono::steady_clock;

  // `pool` and `metrics` must outlive the scheduler; an empty `sampler` means
  // Runner::step_and_sample samples.
  StepScheduler(SchedulerOptions options, kv::BlockPool& pool, Sampler sampler, WorkerMetrics* metrics);
  ~StepScheduler();

  StepScheduler(const StepScheduler&) = delete;
  StepScheduler& operator=(const StepScheduler&) = delete;

  // Queues a sequence (state kWaiting) at the back. Its request was checked
  // (check_request) by the caller; ids must be unique among queued/running.
  void enqueue(std::unique_ptr<Sequence> seq);
  // Marks a queued or running sequence for cancellation at the next reap().
  // Unknown ids are ignored.
  void request_cancel(const std::string& id);

  // ---- One iteration, in order --------------------------------------------
  // Finishes (kCancelled) sequences marked for cancellation or past their
  // deadline, freeing their blocks.
  void reap(Clock::time_point now);
  // Plans the step (see the policy above); allocates the blocks it needs and
  // may preempt. An empty plan means there is nothing to run.
  StepPlan schedule(Clock::time_point now);
  // The Runner's view of a plan; spans point into the sequences (valid until
  // apply/fail).
  static engine::StepBatch build_batch(const StepPlan& plan);
  // After a successful Runner::step: `logits` holds one [vocab] row per chunk
  // with want_logits, in plan order. Advances num_computed, stores newly full
  // blocks in the prefix cache, samples, appends, checks stop conditions.
  void apply(const StepPlan& plan, std::span<const float> logits);
  // The same with tokens already sampled (Runner::step_and_sample): one per
  // chunk with want_logits, in plan order; they are moved from.
  void apply(const StepPlan& plan, std::span<SampledToken> tokens);
  // The runner's sampling inputs for a plan (one row per want_logits chunk,
  // plan order); spans point into the sequences, into `suppressed`, which
  // receives each row's suppressed ids, and into `masks`, which is sized to
  // hold one (vocab + 31) / 32-word mask per constrained row (a row of a
  // sequence with a TokenConstraint gets its `allowed` span there, filled
  // later by fill_masks); both must outlive the rows' use.
  static std::vector<engine::SampleRow> sample_rows(const StepPlan& plan, int vocab,
                                                    std::vector<std::vector<int32_t>>& suppressed,
                                                    std::vector<uint32_t>& masks);
  // Fills the masks behind `rows` (from sample_rows(plan, ...)) from each
  // constrained sequence's TokenConstraint; no_token[i] is set when row i's
  // constraint allows no token (apply() then ends it with kError). The
  // before_sampling hook of Runner::step_and_sample: it runs while the device
  // computes the step.
  static void fill_masks(const StepPlan& plan, std::span<const engine::SampleRow> rows, std::vector<uint32_t>& masks,
                         std::vector<uint8_t>& no_token);
  // After a failed Runner::step: every sequence of the plan finishes with
  // kError carrying `error`.
  void fail(const StepPlan& plan, const Status& error);
  // Delivers one event per sequence with new tokens or a finish, then drops
  // finished sequences.
  void publish();
  // After publish(): every running sequence with a `handoff` that has its
  // first token leaves as a Handoff (see handoff.h): the KV of its computed
  // positions exported from `runner` (a failed export sends none), its
  // blocks released here. Collect them with take_handoffs().
  void hand_off(engine::Runner& runner);
  // Lets hand_off() ask the runner for borrowing blobs (BlobMode::kBorrow):
  // the sequence's blocks then stay held here under a BlockLease whose
  // `give_back` must bring them back to release_lent() on this scheduler's
  // thread. Unset (the default): blobs are copies and blocks are released at once.
  void set_block_lease(BlockLease::GiveBack give_back) { give_back_ = std::move(give_back); }
  // Releases blocks a lease gave back.
  void release_lent(const std::vector<int32_t>& blocks);
  int num_lent_blocks() const { return lent_blocks_; }
  // The Handoffs built since the last call: by hand_off(), and by finish()
  // for a `handoff` sequence that failed (kError) before its first token,
  // which leaves without KV instead of finishing.
  std::vector<Handoff> take_handoffs();

  // What adopt() did, for the transfer metrics.
  struct AdoptResult {
    bool with_kv = false;         // runs as decoding on the moved KV
    bool import_failed = false;   // Runner::import_blocks failed: recomputes
    bool no_room = false;         // the pool could not take the blocks: recomputes
    bool missing_prefix = false;  // a leading block not sent is no longer cached here: recomputes
    int imported_blocks = 0;      // blocks copied into this pool
    int cached_blocks = 0;        // leading blocks this pool's prefix cache already held (not copied)
    size_t bytes = 0;             // bytes imported
    double seconds = 0.0;         // export + import time
  };
  // Takes a sequence handed over by a prefill worker (state kMigrating).
  // With KV: one plan for the cached leading blocks (reused; they must
  // cover the kv_first_block blocks not sent) plus fresh blocks for the
  // rest, committed, then the rest imported; the sequence
  // runs as decoding from the next step. Without KV, without room, or when
  // the import fails (its blocks are released again) it is queued at the
  // front as preempted and recomputes prompt + generated tokens. Its
  // `handoff` is cleared: here it is an ordinary sequence.
  AdoptResult adopt(Handoff&& handoff, engine::Runner& runner);

  // build_batch + runner.step + apply (or fail) for a non-empty plan, with the
  // step metrics. Returns the runner's status (non-ok: the plan's sequences
  // finished with kError, to be published).
  Status run(const StepPlan& plan, engine::Runner& runner);

  // What the owner of the scheduler does between iterate()'s steps; either may
  // be empty. `planned` runs once the step is planned (admitted requests are no
  // longer waiting), `failed` after a failed run and before the failed
  // sequences' events are published.
  struct IterationHooks {
    std::function<void()> planned;
    std::function<void(const Status&)> failed;
  };
  // The whole iteration: reap, schedule, run, publish.
  Status iterate(engine::Runner& runner, Clock::time_point now, const IterationHooks& hooks = {});

  // Finishes every sequence (queued and running) with `reason` (kCancelled,
  // or kError with `error`) and publishes the final events.
  void finish_all(FinishReason reason, const Status& error);

  // KV tiers under the pool (kv/tier_cache.h) and the runner whose
  // export_blocks/import_blocks move blocks to and from them; both must
  // outlive the scheduler. From then on every block the pool stores is
  // written through to the tiers, and admission extends a request's device
  // prefix hit with the blocks that follow it in the tiers, loading them into
  // fresh device blocks before its first chunk (a block that fails to load
  // ends the hit there: the rest is computed). Needs prefix caching.
  void attach_tiers(kv::TierCache* tiers, engine::Runner* runner);

  bool has_work() const { return !running_.empty() || !waiting_.empty(); }
  int num_running() const { return static_cast<int>(running_.size()); }
  int num_waiting() const { return static_cast<int>(waiting_.size()); }
  // Tokens of queued sequences still to compute plus positions of running ones.
  int64_t load_tokens() const;
  uint64_t num_preemptions() const { return preemptions_; }
  // The measured step speed (every step run() timed).
  const StepRates& rates() const { return rates_; }
  // Fills `out` (its vectors reused) with the work queued and running here,
  // for estimate_first_token_seconds.
  void backlog(WorkerBacklog& out) const;
  const kv::BlockPool& pool() const { return pool_; }
  // Running sequences in admission order (oldest first); for tests.
  std::vector<const Sequence*> running() const;
  std::vector<const Sequence*> waiting() const;

 private:
  // Grows seq's table to cover `positions` (plan-then-commit); false when the
  // pool cannot supply the blocks (nothing changed then).
  bool grow_blocks(Sequence& seq, int positions);
  // Releases the youngest running sequence's blocks and requeues it at the
  // front; drops its chunk from `plan` if it had one. Returns it.
  Sequence* preempt_youngest(StepPlan& plan, int& budget);
  // Takes the front waiting sequence into the running set with a first chunk
  // of at most `budget` tokens; false when its blocks do not fit.
  bool admit_front(StepPlan& plan, int& budget, Clock::time_point now);
  void store_full_blocks(Sequence& seq);
  // Structured output: accepts `tok` into seq's constraint. False when the
  // sequence ended with kError instead (no token was allowed at `row`, or the
  // constraint refused the token); nothing is appended then.
  bool accept_constrained(Sequence& seq, const SampledToken& tok, size_t row);
  // apply()'s common part; `next_token(seq, row)` gives the token of the
  // row-th want_logits chunk.
  template <class NextToken>
  size_t apply_rows(const StepPlan& plan, NextToken&& next_token);
  void finish(Sequence& seq, FinishReason reason, Status error, std::optional<int32_t> stop_token);
  // Releases seq's blocks (unless `keep_blocks`: a lease holds them) and
  // takes it out of this scheduler as kMigrating.
  std::unique_ptr<Sequence> detach(Sequence& seq, bool keep_blocks = false);
  void update_metrics();

  SchedulerOptions options_;
  kv::BlockPool& pool_;
  Sampler sampler_;
  WorkerMetrics* metrics_;
  std::deque<std::unique_ptr<Sequence>> waiting_;    // front = next admitted
  std::vector<std::unique_ptr<Sequence>> running_;   // admission order
  std::vector<std::unique_ptr<Sequence>> finished_;  // until publish()
  std::vector<Handoff> handoffs_;                    // until take_handoffs()
  BlockLease::GiveBack give_back_;                   // set: borrow blobs, lease the blocks
  int lent_blocks_ = 0;                              // held by leases not yet given back
  std::unordered_map<std::string, Sequence*> by_id_;
  uint64_t next_admit_order_ = 0;
  uint64_t preemptions_ = 0;
  StepRates rates_;
  std::vector<float> logits_;                     // reused by run() (injected sampler)
  std::vector<SampledToken> sampled_;             // reused by run() (runner samples)
  std::vector<std::vector<int32_t>> suppressed_;  // reused by run(): rows' suppressed ids
  kv::TierCache* tiers_ = nullptr;                // attach_tiers()
  engine::Runner* tier_runner_ = nullptr;
  std::vector<uint32_t> masks_;    // reused: constrained rows' allowed-token masks
  std::vector<uint8_t> no_token_;  // per row of the step: its constraint allowed no token
};

}  // namespace tandem::scheduler

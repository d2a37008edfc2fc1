// scheduler::Sequence: one request's state inside a worker — its tokens (prompt
// then generated), how many positions have KV in the cache, its block table,
// and its lifecycle. Restartable (docs/design.md): prompt + generated tokens and the
// sampling position are all a preempted or migrated request needs to resume
// with the same output.
//
// Threading: owned by one worker thread once submitted.
//
// Lifecycle (SequenceState); any other transition is a bug (TANDEM_CHECK):
//   kWaiting    -> kPrefilling   admitted: blocks for its first chunk allocated
//   kPrefilling -> kPrefilling   next chunk of a long prompt
//   kPrefilling -> kDecoding     last prompt chunk computed, first token sampled
//   kDecoding   -> kDecoding     one more token
//   kPrefilling, kDecoding -> kPreempted   blocks freed, requeued at the front
//   kPreempted  -> kPrefilling   readmitted: recomputes prompt + generated tokens
//   kDecoding   -> kMigrating    remote prefill done: first token published, the
//                                prefill worker exported its KV and released its
//                                blocks; the sequence travels to a decode worker
//   kWaiting, kPrefilling, kPreempted -> kMigrating   the prefill worker failed
//                                before the first token: it travels without KV
//   kMigrating  -> kDecoding     adopted by the decode worker with its KV
//   kMigrating  -> kPreempted    adopted without KV (none sent, no room, or the
//                                import failed): recomputes like a preempted one
//   any but kFinished -> kFinished   stop/length, cancel, deadline, error, shutdown
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "kv/block_hash.h"
#include "kv/block_pool.h"
#include "scheduler/generation.h"

namespace tandem::scheduler {

enum class SequenceState {
  kWaiting,
  kPrefilling,
  kDecoding,
  kPreempted,
  kMigrating,
  kFinished,
};

struct Handoff;
// Called on the prefill worker's thread with a sequence leaving it (Router).
using HandoffFn = std::function<void(Handoff&&)>;

const char* sequence_state_name(SequenceState state);
bool sequence_transition_allowed(SequenceState from, SequenceState to);

struct Sequence {
  using Clock = std::chrono::steady_clock;

  Sequence(GenerationRequest request, uint64_t seed, kv::BlockHash root, Clock::time_point submitted);

  GenerationRequest request;    // as submitted (prompt, params, stop, deadline, sink)
  uint64_t seed = 0;            // request.sampling.seed or drawn at submit
  kv::BlockHash root = 0;       // prefix-cache chain root (model salt + cache_salt)
  std::vector<int32_t> tokens;  // prompt, then every generated token
  int num_prompt = 0;
  int num_computed = 0;               // positions [0, num_computed) have KV in `blocks`
  std::vector<kv::BlockId> blocks;    // block table; covers at least num_computed positions
  std::vector<kv::BlockHash> hashes;  // hashes of blocks[0 .. hashes.size()), all full and stored
  SequenceState state = SequenceState::kWaiting;

  // Reporting.
  Clock::time_point submitted;
  bool scheduled_once = false;  // first admission happened (queue time measured)
  double queue_seconds = 0.0;
  int cached_tokens = 0;  // prefix-cache hit of the first admission
  bool first_event_sent = false;
  std::vector<SampledToken> pending;  // sampled, not yet published
  uint64_t admit_order = 0;           // larger = admitted later (preemption picks the largest)
  bool cancel_requested = false;
  FinishReason finish = FinishReason::kNone;  // set with kFinished
  Status error;                               // non-ok iff finish == kError
  std::optional<int32_t> stop_token;          // the EOS/stop id when finish == kStop

  // Disaggregated serving (empty for aggregated requests).
  HandoffFn handoff;            // set: remote prefill; hand the sequence over after its first token
  int handoff_skip_blocks = 0;  // leading blocks the decode worker caches (router's view): not exported
  // Adopted with its KV: when the prefill worker handed it over, until the
  // first step here that includes it (tandem_kv_handoff_seconds).
  std::optional<Clock::time_point> handed_over_at;
  std::shared_ptr<std::atomic<bool>> cancelled;  // the router's cancel flag, seen by whichever worker holds it
  TokenSink client_sink;                         // the sink as the router gave it (each worker wraps its own)

  const std::string& id() const { return request.id; }
  int num_tokens() const { return static_cast<int>(tokens.size()); }
  int num_output() const { return num_tokens() - num_prompt; }
  int num_uncomputed() const { return num_tokens() - num_computed; }
  std::span<const int32_t> prompt() const { return {tokens.data(), static_cast<size_t>(num_prompt)}; }
  std::span<const int32_t> output() const { return {tokens.data() + num_prompt, static_cast<size_t>(num_output())}; }
  bool cancel_seen() const { return cancel_requested || (cancelled && cancelled->load()); }
  bool is_running() const { return state == SequenceState::kPrefilling || state == SequenceState::kDecoding; }

  // Moves to `to`; a transition not listed above is a bug (TANDEM_CHECK).
  void set_state(SequenceState to);
};

}  // namespace tandem::scheduler

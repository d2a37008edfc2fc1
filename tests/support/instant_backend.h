// Test fixture: a scheduler::GenerationService that answers at once from its
// own thread, for frontend tests and the frontend benchmark. Never served by
// `tandem serve`.
//
// Output: token i of a sequence is script[i % script.size()] when a script is
// set, else prompt[i % prompt.size()] (the prompt, cycled). It honours
// max_tokens (finish kLength), eos_token_ids unless ignore_eos and
// stop_token_ids (finish kStop, the id reported as stop_token), min_tokens
// (ids that would stop earlier are skipped, as the engine suppresses them),
// logprobs (deterministic fake values: the chosen token's logprob is
// -0.25 * (i % 8) and the top-k list is the chosen id then the next ids), the
// deadline (final kLength event) and cancel() (final kCancelled event).
//
// Each step emits one token to every running sequence, then waits
// `token_delay` (zero: steps back to back). A queue limit makes submit()
// return kQueueFull once that many requests are in flight; set_available(false)
// makes ready() false and submit() return kUnavailable.
//
// Threading: every public method is thread-safe; sinks are called on the
// backend's own thread. The destructor stops the thread; sequences still
// running get a final kCancelled event.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include "scheduler/generation.h"

namespace tandem::metrics {
class Registry;
class Counter;
}  // namespace tandem::metrics

namespace tandem::test {

struct InstantBackendOptions {
  std::vector<int32_t> script;               // empty: cycle the prompt
  std::chrono::microseconds token_delay{0};  // pause between steps
  int queue_limit = 0;                       // max in flight, 0 = unlimited
  int cached_tokens = 0;                     // reported as prompt cache hits (clamped to prompt)
};

struct InstantBackendStats {
  uint64_t submitted = 0;
  uint64_t cancel_calls = 0;  // cancel() calls for ids that were in flight
  uint64_t cancelled = 0;     // sequences that ended with kCancelled
  uint64_t finished = 0;      // sequences that ended any way
  uint64_t rejected = 0;      // submit() refusals
};

class InstantBackend : public scheduler::GenerationService {
 public:
  // With a registry, the counts of InstantBackendStats are also exported as
  // tandem_test_backend_{submitted,cancel_calls,cancelled,finished,rejected}_total.
  explicit InstantBackend(InstantBackendOptions options, metrics::Registry* registry = nullptr);
  ~InstantBackend() override;
  InstantBackend(const InstantBackend&) = delete;
  InstantBackend& operator=(const InstantBackend&) = delete;

  Status submit(scheduler::GenerationRequest request) override;
  void cancel(const std::string& id) override;
  bool ready() const override;
  scheduler::ServiceStats stats() const override;

  void set_available(bool available);
  InstantBackendStats counts() const;

 private:
  struct Sequence {
    scheduler::GenerationRequest request;
    int generated = 0;
    size_t cursor = 0;  // position in the script / prompt cycle
    bool first = true;
    bool cancelled = false;
  };

  void run();
  // Emits one token (or the final event) for `seq`; returns true when finished.
  bool step(Sequence& seq);
  void count(metrics::Counter* counter, uint64_t& field);

  const InstantBackendOptions options_;
  std::atomic<bool> available_{true};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Sequence> incoming_;
  std::unordered_set<std::string> cancels_;
  std::unordered_set<std::string> in_flight_;
  int running_ = 0;
  bool stopping_ = false;
  InstantBackendStats stats_;

  metrics::Counter* submitted_total_ = nullptr;
  metrics::Counter* cancel_calls_total_ = nullptr;
  metrics::Counter* cancelled_total_ = nullptr;
  metrics::Counter* finished_total_ = nullptr;
  metrics::Counter* rejected_total_ = nullptr;

  std::thread thread_;
};

}  // namespace tandem::test

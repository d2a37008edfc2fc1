// The contract between the frontend and the engine side (docs/design.md, step 4).
// The frontend submits GenerationRequests and receives TokenEvents through the
// request's sink; it never sees workers, blocks or devices. Implementations:
// scheduler::Router (the real service) and the frontend's instant test backend.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "engine/sampling.h"
#include "scheduler/token_constraint.h"

namespace tandem::scheduler {

using engine::SampledToken;
using engine::SamplingParams;
using engine::TokenLogprob;

// Token-level stop conditions, checked by the worker after each sampled token.
// Text-level stop strings are matched by the frontend's detokenizer, which then
// cancels the request.
struct StopCriteria {
  int max_tokens = 16;                  // >= 1: tokens to generate at most
  int min_tokens = 0;                   // EOS and stop tokens are suppressed before this many
  std::vector<int32_t> eos_token_ids;   // from the model; ignored when ignore_eos
  std::vector<int32_t> stop_token_ids;  // always honoured (after min_tokens)
  bool ignore_eos = false;
};

enum class FinishReason {
  kNone,       // not finished (intermediate event)
  kStop,       // EOS or stop token id
  kLength,     // max_tokens, the model's context or the request's deadline reached
  kCancelled,  // cancel() or the worker stopping; the frontend decides what to report
  kError,      // TokenEvent::error says why
};

const char* finish_reason_name(FinishReason reason);  // "stop", "length", "cancelled", "error"

// What a worker reports for one request. Events of one request arrive in
// order; exactly one has finish != kNone and it is the last one.
struct TokenEvent {
  std::vector<SampledToken> tokens;  // tokens sampled since the previous event
  FinishReason finish = FinishReason::kNone;
  Status error;  // non-ok iff finish == kError
  // The EOS/stop token that ended the sequence: counted in usage, delivered in
  // `tokens`, but not rendered as text.
  std::optional<int32_t> stop_token;
  // Filled on the first event of a request.
  int prompt_tokens = 0;
  int cached_tokens = 0;       // prompt tokens served from the prefix cache
  double queue_seconds = 0.0;  // from submit() until first scheduled
  std::string worker;          // which worker served it (for logs)
};

// Called on a worker thread. Must not block and must not call back into the
// service synchronously (post the event to your own executor instead).
using TokenSink = std::function<void(TokenEvent&&)>;

struct GenerationRequest {
  std::string id;               // unique while in flight
  std::vector<int32_t> prompt;  // token ids, non-empty
  SamplingParams sampling;
  StopCriteria stop;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::string cache_salt;  // separates tenants' prefix caches
  // Structured output: this request's own matcher (token_constraint.h); null
  // = unconstrained. Owned by the request; never shared between requests.
  std::shared_ptr<TokenConstraint> constraint;
  TokenSink sink;
};

// One worker as /ready reports it.
struct WorkerStatus {
  std::string name;      // e.g. "cuda0", "cpu1"
  std::string state;     // "running", "draining", "failed", "stopped"
  bool healthy = false;  // accepting work
  std::string role;      // "aggregated", "prefill", "decode"; "" when the service has no roles
};

struct ServiceStats {
  int running = 0;                    // requests being stepped
  int waiting = 0;                    // requests queued, not yet scheduled
  std::vector<WorkerStatus> workers;  // empty when the service has no workers to report
};

// Thread-safe entry point to the engine side.
class GenerationService {
 public:
  virtual ~GenerationService() = default;

  // Queues a request. Never blocks. On a non-ok return (kQueueFull,
  // kUnavailable, kContextLengthExceeded, kKvExhausted, kInvalidRequest) the
  // sink is never called; otherwise it will receive a final event.
  virtual Status submit(GenerationRequest request) = 0;

  // Stops work on a request at the next step and frees its KV blocks. The sink
  // then receives a final kCancelled event unless it had already finished.
  // Unknown ids are ignored.
  virtual void cancel(const std::string& id) = 0;

  // True when at least one worker is healthy and accepting work.
  virtual bool ready() const = 0;

  virtual ServiceStats stats() const = 0;
};

}  // namespace tandem::scheduler

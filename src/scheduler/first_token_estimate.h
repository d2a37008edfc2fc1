// scheduler::estimate_first_token_seconds: how long a new request would wait
// for its first token on one worker, from the work already there and the
// worker's measured step speed (StepRates). The router's admission by expected
// wait ([scheduler] admission_ttft_ms) compares it with the TTFT budget.
//
// Model (continuous batching, FIFO admission, at most max_running sequences
// per step):
//   - a running sequence holds its slot for its remaining decode tokens (its
//     max_tokens less what it generated; 0 for a remote prefill, which leaves
//     after its first token), one step of a seconds each;
//   - free slots go to the waiting sequences in queue order, each holding its
//     slot for its own decode tokens; the new request takes the first slot
//     left after them;
//   - every prefill token ahead of the new request's first token (running
//     sequences' unfinished prompt chunks, the waiting sequences' prompts,
//     then its own prompt) costs b seconds, in whatever step it lands;
//   - the new request's first token needs one more step (a);
//   - a step in progress ends first: its expected rest, a - elapsed, delays
//     every slot, and it yields one of each running sequence's tokens.
// So: estimate = (time its slot frees) + (prefill tokens ahead + its own) * b + a.
// max_tokens is an upper bound of a sequence's length (EOS, stop strings and
// cancels end it earlier) and prefix-cache hits of waiting requests are not
// known yet, so the estimate leans high when slots are full; KV blocks are not
// modelled (a pool too small for the batch makes the real wait longer).
//
// Threading: pure functions over plain data.
#pragma once

#include <optional>
#include <vector>

#include "scheduler/step_rates.h"

namespace tandem::scheduler {

// Work one sequence still has on a worker.
struct PendingWork {
  int prefill_tokens = 0;  // positions still to compute before its next token (prompt, or recompute)
  int decode_tokens = 0;   // tokens it may still generate here (0 for a remote prefill)
};

// What a worker holds, as the estimate needs it.
struct WorkerBacklog {
  int max_running = 1;               // sequences per step, >= 1
  std::vector<PendingWork> running;  // any order
  std::vector<PendingWork> waiting;  // queue order, next admitted first
  // Seconds since the step in progress started; negative when none runs. That
  // step yields one token of every running sequence, and nothing new starts
  // before it ends (expected a - elapsed from now, at least 0).
  double step_elapsed = -1.0;
};

// Seconds until a request with `prefill_tokens` prompt tokens to compute
// (not cached on the worker) gets its first token, submitted now to a worker
// holding `backlog`; nullopt until `rates` has timed a step.
std::optional<double> estimate_first_token_seconds(const WorkerBacklog& backlog, const StepRates& rates,
                                                   int prefill_tokens);

}  // namespace tandem::scheduler

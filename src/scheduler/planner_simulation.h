// scheduler::simulate_planner: a discrete-event model of the router and N
// workers whose step times come from a PlannerShape, to compare the SLA
// planner with static role splits without a GPU (issue #26; driver in
// bench/planner/, assertions in tests/unit/scheduler/planner_simulation_test.cpp).
//
// The model (what it keeps of the real scheduler, and what it drops):
//   - A worker step carries every running decode (one token each) plus prompt
//     chunks FIFO up to max_batch_tokens - batch tokens; it lasts
//     prefill_seconds(chunk tokens) + decode_seconds(batch, mean context).
//     A prompt's last chunk yields its first token at the step's end.
//   - Router: with prefill workers and serving (decode/aggregated) workers,
//     a prompt goes to the prefill worker with the fewest queued prompt
//     tokens when it is longer than max_local_prefill_tokens and fewer than
//     max_prefill_queue prompts wait there (the router's conditional rule;
//     the defaults here, 0 and unbounded, send every prompt remote); after
//     its first token the sequence is handed to the serving worker with the
//     least work, arriving `handoff_s` later. Otherwise (and for prompts kept
//     local) requests go to the serving worker with the least load tokens
//     (least_loaded); no prefix is cached, so every prompt token counts.
//   - Running sequences per worker are capped by max_running (static) or the
//     planner's decode_max_running; the rest wait.
//   - Admission (SimOptions::admission): refusals happen at arrival only.
//   - Role changes behave as Worker::set_role: applied between steps, nothing
//     moves; queued prompts and running sequences finish where they are.
//   - Not modelled: prefix caching, preemption, KV exhaustion beyond the cap,
//     transfer bandwidth, tokenisation and HTTP.
// A request violates the SLA when its TTFT exceeds ttft_p95_s or its mean
// inter-token gap (TPOT, as DistServe counts it) exceeds itl_p95_s.
//
// Deterministic: same inputs, same result. No threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "scheduler/planner.h"
#include "scheduler/planner_profile.h"

namespace tandem::scheduler {

struct SimRequest {
  double arrival_s = 0;
  int prompt = 1;  // tokens, >= 1
  int output = 1;  // tokens generated, >= 1
};

// A bursty trace: piecewise-linear request rate (non-homogeneous Poisson
// arrivals, drawn by thinning) and a mix of two request kinds whose share
// also moves: "document" (long prompt, short answer: prefill-heavy) and
// "chat" (short prompt, long answer: decode-heavy). Lengths are uniform in
// [0.5, 1.5] x the kind's mean. Knots are (time s, requests/s, document share).
struct TraceKnot {
  double t = 0, rps = 0, doc_share = 0;
};
struct TraceOptions {
  std::vector<TraceKnot> knots;  // time increasing; the trace ends at the last
  int doc_prompt = 3000, doc_output = 80;
  int chat_prompt = 300, chat_output = 400;
  uint64_t seed = 1;
};
std::vector<SimRequest> make_trace(const TraceOptions& options);
// The scenario of bench/planner and its test: 10 minutes of ramps and spikes
// (knots listed in docs/benchmarks.md).
TraceOptions bursty_trace_options(uint64_t seed = 1);

struct SimOptions {
  int workers = 4;
  int static_prefill = 0;  // static split: prefill workers (0: all aggregated); ignored with the planner
  bool use_planner = false;
  // Admission (with the planner, or alone for a static split: the planner then
  // observes and sizes the limits of the fixed split but changes no role): a
  // request is refused at arrival when the prompt tokens queued at its
  // prefill worker would exceed the plan's max_prefill_queue_tokens share;
  // a refusal counts as a violation.
  bool admission = true;
  PlannerOptions planner;   // targets used for violations too
  int initial_prefill = 0;  // the planner's starting split
  double handoff_s = 0.002;
  int max_local_prefill_tokens = 0;  // [scheduler] max_local_prefill_tokens (serve's default: 1000)
  int max_prefill_queue = 1 << 30;   // [scheduler] max_prefill_queue (serve's default: 2)
};

struct SimResult {
  int requests = 0;
  int ttft_violations = 0, itl_violations = 0;
  int violations = 0;  // requests violating either target, refused ones included
  int refused = 0;     // refused at admission
  double ttft_p95_s = 0, tpot_p95_s = 0;
  double end_s = 0;                       // last token
  double gpu_seconds = 0;                 // workers x end_s (all workers are held throughout)
  double busy_gpu_seconds = 0;            // sum of step times
  int role_changes = 0;                   // worker flips the planner made
  std::vector<int> violations_by_minute;  // by arrival minute
  std::vector<std::string> log;           // planner decisions that changed the split (time and reason)
};

SimResult simulate_planner(const std::vector<SimRequest>& trace, const PlannerShape& shape, const SimOptions& options);

}  // namespace tandem::scheduler

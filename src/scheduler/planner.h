// scheduler::Planner: the SLA planner's decision logic (issue #26). Once per
// interval it is given what happened (arrivals, prompt and output tokens,
// measured TTFT/ITL p95) and the workers' roles and loads; it predicts the
// next interval's load and returns the split of the N workers into prefill
// and serving roles, and the admission limits, that meet ttft_p95 / itl_p95
// with the profile (planner_profile.h). Pure logic: no threads, no clock, no
// registry; the caller (serve's planner tick, the simulation) observes and
// applies. Same inputs, same decisions.
//
// Prediction: two LoadPredictors (Holt linear trend, load_predictor.h), one on
// prompt tokens/s (prefill demand), one on output tokens/s (decode demand);
// mean prompt and output lengths are EWMAs (they set service times and
// context lengths, and move slower than the rates).
//
// Decision rule (DistServe / Dynamo's planner, sized per role from the
// profile), for each candidate p = prefill workers:
//   p >= 1 (p prefill, N - p decode):
//     prefill: S = unloaded TTFT of a mean prompt (profile); the utilisation
//       that keeps queueing within the TTFT slack, r = T_ttft / S - 1, from an
//       M/D/1 mean wait rho / (2 (1 - rho)) * S scaled x3 for the p95:
//       rho_p = min(0.9, 2r / (3 + 2r)); u_p = demand_p / (p * C_p * rho_p),
//       C_p = prompt tokens/s of full steps.
//     decode: b_max = the largest decode batch whose step time at the mean
//       context (prompt + output / 2) is within T_itl (and max_running, KV);
//       u_d = demand_d / ((N - p) * 0.9 * b_max / step(b_max)).
//   p = 0 (all aggregated): a step carries decodes plus a prefill chunk of up
//     to max_batch_tokens - batch tokens; when prefill takes more than 5% of
//     the time those steps set the ITL p95, so the decode budget shrinks by
//     the chunk's time (no budget left: infeasible); u = prefill share / rho_p
//     + decode share / 0.9.
//   score = max(u_p, u_d); the best candidate has the lowest score (ties: the
//   one closest to the current split).
// When the measured TTFT p95 or ITL p95 exceeds its target while the model
// scores the current split <= 1, the current split's score becomes measured /
// target (a split violating the SLA in practice is not kept because the model
// thinks it fine). Measurements count only from the (confirm_intervals + 1)th
// interval after a change (before, they show the previous split's backlog),
// and never below the target (latency / target is not a utilisation).
//
// Hysteresis: a new split is taken only when its score is below the current
// one's by `switch_margin` (relative) and it was the proposal for
// `confirm_intervals` intervals in a row, or at once when the current split
// scores > 1 (violating, predicted or measured). So two near-equal splits do
// not alternate, and a spike is answered in the interval it shows.
//
// Role changes (Worker::set_role): applied by the worker between two steps;
// its weights, queue and running sequences stay: a prefill worker turned
// decode still prefills and hands off the prompts it had queued, a decode
// worker turned prefill keeps decoding its running sequences until they end
// (the router just stops sending it new requests). No sequence is dropped or
// moved by a flip, so a flip is always safe; its cost is the old work sharing
// steps with the new. To keep that cost low the planner flips the workers of
// the old role with the least work (running + waiting). Aggregated workers
// count as serving workers for the router (as decode ones do), so a split is
// "p prefill + N - p decode", or "all aggregated" for p = 0.
//
// Admission limits (Plan): decode_max_running = b_max (sequences per serving
// worker that keep ITL within target) and max_prefill_queue_tokens (prompt
// tokens the prefill side can have waiting and still start them within
// T_ttft). Not yet applied by serve: Worker has no run-time setter for them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "scheduler/load_predictor.h"
#include "scheduler/planner_profile.h"
#include "scheduler/worker_role.h"

namespace tandem::scheduler {

struct PlannerOptions {
  double ttft_p95_s = 1.0;    // [planner] ttft_p95_ms / 1000, > 0
  double itl_p95_s = 0.05;    // [planner] itl_p95_ms / 1000, > 0
  double interval_s = 5.0;    // [planner] interval_s, > 0 (observations are per interval)
  double alpha = 0.5;         // Holt level weight
  double beta = 0.3;          // Holt trend weight
  double length_alpha = 0.3;  // EWMA weight of mean prompt / output lengths
  double switch_margin = 0.15;
  int confirm_intervals = 2;
  double decode_headroom = 0.9;  // decode capacity used at most
};

// What happened during the last interval (deltas, not totals).
struct PlannerObservation {
  double interval_s = 0;                        // length of the interval, > 0
  double arrivals = 0;                          // requests accepted
  double prompt_tokens = 0;                     // sum of their prompt lengths
  double finished = 0;                          // requests finished
  double output_tokens = 0;                     // sum of the finished requests' output lengths
  std::optional<double> ttft_p95_s, itl_p95_s;  // measured; none when no sample
};

// A worker as the planner sees it.
struct PlannerWorker {
  WorkerRole role = WorkerRole::kAggregated;
  int work = 0;  // running + waiting sequences
};

struct Plan {
  int prefill = 0;             // prefill workers; 0 = all aggregated
  int decode_max_running = 0;  // admission: sequences per serving worker
  long long max_prefill_queue_tokens = 0;
  double score = 0;  // predicted worst utilisation (> 1: the SLA is not met)
  double u_prefill = 0, u_decode = 0;
};

struct RoleChange {
  size_t worker = 0;
  WorkerRole from = WorkerRole::kAggregated;
  WorkerRole to = WorkerRole::kAggregated;
};

struct PlanDecision {
  Plan plan;                        // the split in force after this decision
  std::vector<RoleChange> changes;  // empty when the split stays
  double predicted_prompt_tps = 0;  // forecast prefill demand, tokens/s
  double predicted_output_tps = 0;  // forecast decode demand, tokens/s
  double predicted_rps = 0;         // forecast requests/s
  std::string reason;               // one line for logs and the dashboard
};

class Planner {
 public:
  // `shape` is copied. CHECKs the options (validated config).
  Planner(PlannerOptions options, PlannerShape shape);

  // One interval: observe, predict, decide. `workers` are the current roles
  // and loads (N = workers.size() >= 1).
  PlanDecision step(const PlannerObservation& obs, const std::vector<PlannerWorker>& workers);

  // The model's plan for p prefill workers out of n at the given demand (the
  // building block of step(); public for tests and the simulation's report).
  Plan evaluate(int p, int n, double prompt_tps, double output_tps) const;

  double mean_prompt() const { return mean_prompt_; }
  double mean_output() const { return mean_output_; }

 private:
  PlannerOptions options_;
  PlannerShape shape_;
  LoadPredictor prompt_tps_, output_tps_, rps_;
  double mean_prompt_ = 0, mean_output_ = 0;
  bool have_lengths_ = false;
  int proposal_ = -1;  // the split proposed last interval (-1: none)
  int proposal_count_ = 0;
  int since_change_ = 1 << 20;  // intervals since the last change (none yet: many)
};

// Prefill workers in `workers` when its roles form a split (0 when none is
// prefill).
int prefill_count(const std::vector<PlannerWorker>& workers);

}  // namespace tandem::scheduler

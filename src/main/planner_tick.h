// main::PlannerTick: runs the SLA planner (scheduler/planner.h) inside serve.
// serve's main loop calls tick() about once a second; every interval_s it
// reads the metrics registry (the numbers Prometheus scrapes), turns the
// deltas since the last decision into a PlannerObservation, asks the planner,
// applies its role changes through the hooks (Router::set_role in serve: a
// worker applies a new role between two steps and keeps its work), and
// reports the decision: a log line, metrics, and the dashboard's timeline.
//
// Read from the registry (deltas over the interval):
//   arrivals            tandem_router_decisions_total (requests the workers accepted)
//   prompt tokens       arrivals x mean prompt of the requests finished
//                       (tandem_request_prompt_tokens; the last known mean when none finished)
//   finished, output    tandem_request_generation_tokens count and sum
//   TTFT / ITL p95      tandem_time_to_first_token_seconds / tandem_inter_token_latency_seconds
//                       (metrics::quantile_of_delta of the buckets)
// Written (same registry): tandem_planner_decisions_total{action="role_change"|"keep"}
// (one role_change per worker flipped, one keep per interval without a change),
// tandem_planner_predicted_rps, tandem_planner_predicted_prompt_tokens_per_second,
// tandem_planner_predicted_output_tokens_per_second, tandem_planner_score (the
// split's predicted worst utilisation), tandem_planner_prefill_workers, and
// tandem_planner_decode_max_running (the admission limit it computed; advisory:
// workers cannot change max_running at run time yet).
//
// Threading: tick() from one thread (serve's main loop); the hooks run there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "main/dashboard_sampler.h"
#include "scheduler/planner.h"

namespace tandem::main {

class PlannerTick {
 public:
  using Clock = std::chrono::steady_clock;

  struct Hooks {
    std::function<std::vector<scheduler::PlannerWorker>()> workers;  // roles and work now
    std::function<void(size_t worker, scheduler::WorkerRole role)> set_role;
    std::function<std::string(size_t worker)> worker_name;
    std::function<void(PlannerDecision)> record;  // the dashboard timeline; may be empty
  };

  // `registry` must outlive this. The first reading is taken now.
  PlannerTick(metrics::Registry& registry, scheduler::PlannerOptions options, scheduler::PlannerShape shape,
              Hooks hooks, Clock::time_point now);

  // Decides when interval_s has passed since the last decision (or the
  // start); returns the decision then, nullopt otherwise.
  std::optional<scheduler::PlanDecision> tick(Clock::time_point now, int64_t unix_ms);

 private:
  struct Reading {
    double arrivals = 0;
    double prompt_count = 0, prompt_sum = 0;
    double output_count = 0, output_sum = 0;
    std::vector<double> ttft_bounds, itl_bounds;
    std::vector<uint64_t> ttft, itl;
  };
  Reading read() const;

  metrics::Registry& registry_;
  scheduler::PlannerOptions options_;
  scheduler::Planner planner_;
  Hooks hooks_;
  Clock::time_point last_;
  Reading last_reading_;
  double mean_prompt_ = 0;

  metrics::Counter& role_changes_;
  metrics::Counter& keeps_;
  metrics::Gauge& predicted_rps_;
  metrics::Gauge& predicted_prompt_tps_;
  metrics::Gauge& predicted_output_tps_;
  metrics::Gauge& score_;
  metrics::Gauge& prefill_workers_;
  metrics::Gauge& decode_max_running_;
};

}  // namespace tandem::main

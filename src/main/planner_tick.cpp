#include "main/planner_tick.h"

#include <spdlog/spdlog.h>

#include "common/histogram_quantile.h"

namespace tandem::main {
namespace {

constexpr const char* kDecisions = "tandem_planner_decisions_total";
constexpr const char* kDecisionsHelp = "SLA planner decisions: worker role changes, and intervals kept as they were.";

std::optional<double> p95_between(const std::vector<double>& bounds, const std::vector<uint64_t>& before,
                                  const std::vector<uint64_t>& after) {
  if (after.empty()) return std::nullopt;
  if (before.size() != after.size()) return metrics::histogram_quantile(0.95, bounds, after);
  return metrics::quantile_of_delta(0.95, bounds, before, after);
}

}  // namespace

PlannerTick::PlannerTick(metrics::Registry& registry, scheduler::PlannerOptions options, scheduler::PlannerShape shape,
                         Hooks hooks, Clock::time_point now)
    : registry_(registry),
      options_(options),
      planner_(options, std::move(shape)),
      hooks_(std::move(hooks)),
      last_(now),
      role_changes_(registry.counter(kDecisions, kDecisionsHelp, {{"action", "role_change"}})),
      keeps_(registry.counter(kDecisions, kDecisionsHelp, {{"action", "keep"}})),
      predicted_rps_(registry.gauge("tandem_planner_predicted_rps", "Requests/s the planner predicts.")),
      predicted_prompt_tps_(registry.gauge("tandem_planner_predicted_prompt_tokens_per_second",
                                           "Prompt tokens/s the planner predicts (prefill demand).")),
      predicted_output_tps_(registry.gauge("tandem_planner_predicted_output_tokens_per_second",
                                           "Output tokens/s the planner predicts (decode demand).")),
      score_(registry.gauge("tandem_planner_score",
                            "Predicted worst utilisation of the planner's split (above 1: the targets are not met).")),
      prefill_workers_(registry.gauge("tandem_planner_prefill_workers",
                                      "Prefill workers in the planner's split (0: all aggregated).")),
      decode_max_running_(registry.gauge("tandem_planner_decode_max_running",
                                         "Sequences per serving worker within the ITL target (planner's admission "
                                         "limit; advisory).")) {
  last_reading_ = read();
}

PlannerTick::Reading PlannerTick::read() const {
  Reading r;
  r.arrivals = registry_.total("tandem_router_decisions_total");
  if (auto h = registry_.histogram_total("tandem_request_prompt_tokens")) {
    r.prompt_count = static_cast<double>(h->count);
    r.prompt_sum = h->sum;
  }
  if (auto h = registry_.histogram_total("tandem_request_generation_tokens")) {
    r.output_count = static_cast<double>(h->count);
    r.output_sum = h->sum;
  }
  if (auto h = registry_.histogram_total("tandem_time_to_first_token_seconds")) {
    r.ttft_bounds = h->bounds;
    r.ttft = h->buckets;
  }
  if (auto h = registry_.histogram_total("tandem_inter_token_latency_seconds")) {
    r.itl_bounds = h->bounds;
    r.itl = h->buckets;
  }
  return r;
}

std::optional<scheduler::PlanDecision> PlannerTick::tick(Clock::time_point now, int64_t unix_ms) {
  const double elapsed = std::chrono::duration<double>(now - last_).count();
  if (elapsed < options_.interval_s) return std::nullopt;
  const Reading r = read();
  const Reading& b = last_reading_;
  scheduler::PlannerObservation obs;
  obs.interval_s = elapsed;
  obs.arrivals = std::max(0.0, r.arrivals - b.arrivals);
  const double prompt_n = r.prompt_count - b.prompt_count;
  if (prompt_n > 0) mean_prompt_ = (r.prompt_sum - b.prompt_sum) / prompt_n;
  obs.prompt_tokens = obs.arrivals * mean_prompt_;
  obs.finished = std::max(0.0, r.output_count - b.output_count);
  obs.output_tokens = std::max(0.0, r.output_sum - b.output_sum);
  obs.ttft_p95_s = p95_between(r.ttft_bounds, b.ttft, r.ttft);
  obs.itl_p95_s = p95_between(r.itl_bounds, b.itl, r.itl);
  last_reading_ = r;
  last_ = now;

  const std::vector<scheduler::PlannerWorker> workers = hooks_.workers();
  scheduler::PlanDecision d = planner_.step(obs, workers);
  predicted_rps_.set(d.predicted_rps);
  predicted_prompt_tps_.set(d.predicted_prompt_tps);
  predicted_output_tps_.set(d.predicted_output_tps);
  score_.set(d.plan.score);
  prefill_workers_.set(d.plan.prefill);
  decode_max_running_.set(d.plan.decode_max_running);
  if (d.changes.empty()) {
    keeps_.inc();
    spdlog::debug("[planner] keep: {}", d.reason);
    return d;
  }
  spdlog::info("[planner] {}", d.reason);
  for (const auto& c : d.changes) {
    hooks_.set_role(c.worker, c.to);
    role_changes_.inc();
    const std::string name = hooks_.worker_name(c.worker);
    spdlog::info("[planner] worker={} role {} -> {}", name, scheduler::worker_role_name(c.from),
                 scheduler::worker_role_name(c.to));
    if (hooks_.record) {
      hooks_.record(PlannerDecision{unix_ms, "role", name, scheduler::worker_role_name(c.from),
                                    scheduler::worker_role_name(c.to), d.reason});
    }
  }
  return d;
}

}  // namespace tandem::main

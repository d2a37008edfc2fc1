#include "scheduler/planner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "common/check.h"

namespace tandem::scheduler {
namespace {

// Score of a split that cannot meet a target at any load: worse than any overload.
constexpr double kInfeasible = 1e6;

std::string fmt(const char* f, double a, double b = 0, double c = 0, double d = 0) {
  char buf[160];
  std::snprintf(buf, sizeof buf, f, a, b, c, d);
  return buf;
}

std::string split_name(int p, int n) {
  if (p == 0) return std::to_string(n) + " aggregated";
  return std::to_string(p) + " prefill + " + std::to_string(n - p) + " decode";
}

}  // namespace

int prefill_count(const std::vector<PlannerWorker>& workers) {
  return static_cast<int>(std::count_if(workers.begin(), workers.end(),
                                        [](const PlannerWorker& w) { return w.role == WorkerRole::kPrefill; }));
}

Planner::Planner(PlannerOptions options, PlannerShape shape)
    : options_(options),
      shape_(std::move(shape)),
      prompt_tps_(options.alpha, options.beta),
      output_tps_(options.alpha, options.beta),
      rps_(options.alpha, options.beta) {
  TANDEM_CHECK(options_.ttft_p95_s > 0 && options_.itl_p95_s > 0 && options_.interval_s > 0);
  TANDEM_CHECK(options_.switch_margin >= 0 && options_.switch_margin < 1 && options_.confirm_intervals >= 1);
  TANDEM_CHECK(options_.length_alpha > 0 && options_.length_alpha <= 1);
  TANDEM_CHECK(options_.decode_headroom > 0 && options_.decode_headroom <= 1);
  TANDEM_CHECK(!shape_.prefill_tokens.empty() && !shape_.decode_s.empty());
}

Plan Planner::evaluate(int p, int n, double prompt_tps, double output_tps) const {
  TANDEM_CHECK(n >= 1 && p >= 0 && p < n);
  const double prompt = std::max(1.0, mean_prompt_);
  const double output = std::max(1.0, mean_output_);
  const double mbt = shape_.max_batch_tokens;
  const double ctx = prompt + output / 2;

  // Unloaded TTFT of a mean prompt, and the prefill utilisation its slack allows.
  const double service =
      std::max(1e-6, prompt <= mbt ? shape_.prefill_seconds(prompt) : prompt / mbt * shape_.prefill_seconds(mbt));
  const double slack = options_.ttft_p95_s / service - 1;
  const double cap_p = shape_.prefill_tokens_per_s();
  // No TTFT slack, or a profile whose curve gives no prefill time (no capacity
  // figure): the prefill side cannot be sized, so it scores infeasible.
  const double rho_p =
      slack > 0 && cap_p > 0 && std::isfinite(cap_p) ? std::min(0.9, 2 * slack / (3 + 2 * slack)) : 0.0;

  int batch_cap = shape_.max_running;
  if (shape_.kv_tokens > 0) {
    batch_cap =
        std::min<int>(batch_cap, std::max<long long>(1, shape_.kv_tokens / static_cast<long long>(prompt + output)));
  }
  // Largest decode batch within `budget` seconds per step (a step time of 0,
  // which only a malformed curve gives, counts as 1 ms).
  auto step_s = [&](int b) { return std::max(1e-3, shape_.decode_seconds(b, ctx)); };
  auto b_max_within = [&](double budget) {
    int b = 0;
    while (b < batch_cap && step_s(b + 1) <= budget) ++b;
    return b;
  };

  Plan plan;
  plan.prefill = p;
  if (p >= 1) {
    const int d = n - p;
    const int b = b_max_within(options_.itl_p95_s);
    plan.u_prefill = rho_p > 0 ? prompt_tps / (p * cap_p * rho_p) : kInfeasible;
    if (b == 0) {
      plan.u_decode = kInfeasible;
    } else {
      const double cap_d = b / step_s(b);  // output tokens/s per decode worker
      plan.u_decode = output_tps / (d * cap_d * options_.decode_headroom);
    }
    plan.decode_max_running = std::max(1, b);
    plan.max_prefill_queue_tokens =
        rho_p > 0 ? static_cast<long long>(p * cap_p * std::max(0.0, options_.ttft_p95_s - service)) : 0;
  } else {
    // All aggregated: each worker carries a share of both loads; prefill
    // steps stretch every running sequence's time per token by 1 / (1 - f_p).
    const double prefill_share = rho_p > 0 ? prompt_tps / (n * cap_p) : 1.0;
    const double budget = options_.itl_p95_s * (1 - prefill_share);
    const int b = budget > 0 ? b_max_within(budget) : 0;
    if (b == 0 || rho_p <= 0) {
      plan.u_prefill = plan.u_decode = kInfeasible;
      plan.decode_max_running = std::max(1, b);
    } else {
      const double decode_share = output_tps / (n * b / step_s(b));
      const double u = prefill_share / rho_p + decode_share / options_.decode_headroom;
      plan.u_prefill = plan.u_decode = u;
      plan.decode_max_running = b;
      plan.max_prefill_queue_tokens = static_cast<long long>(n * cap_p * std::max(0.0, options_.ttft_p95_s - service));
    }
  }
  plan.score = std::max(plan.u_prefill, plan.u_decode);
  return plan;
}

PlanDecision Planner::step(const PlannerObservation& obs, const std::vector<PlannerWorker>& workers) {
  TANDEM_CHECK(!workers.empty() && obs.interval_s > 0);
  const int n = static_cast<int>(workers.size());

  // Observe.
  if (obs.arrivals > 0) {
    const double p = obs.prompt_tokens / obs.arrivals;
    mean_prompt_ = have_lengths_ ? options_.length_alpha * p + (1 - options_.length_alpha) * mean_prompt_ : p;
  }
  if (obs.finished > 0) {
    const double o = obs.output_tokens / obs.finished;
    mean_output_ = mean_output_ > 0 ? options_.length_alpha * o + (1 - options_.length_alpha) * mean_output_ : o;
  }
  have_lengths_ = have_lengths_ || obs.arrivals > 0;
  rps_.observe(obs.arrivals / obs.interval_s);
  prompt_tps_.observe(obs.prompt_tokens / obs.interval_s);
  output_tps_.observe(obs.arrivals / obs.interval_s * mean_output_);

  PlanDecision out;
  // Plan for the larger of the forecast and what was just seen: Holt
  // overshoots downwards after a spike ends, and under-provisioning costs
  // violations while over-provisioning one side costs only some headroom.
  out.predicted_rps = std::max(rps_.forecast(), obs.arrivals / obs.interval_s);
  out.predicted_prompt_tps = std::max(prompt_tps_.forecast(), obs.prompt_tokens / obs.interval_s);
  out.predicted_output_tps = std::max(output_tps_.forecast(), obs.arrivals / obs.interval_s * mean_output_);

  // Score every split; the current one also by what was measured.
  const int current = prefill_count(workers) >= n ? 0 : prefill_count(workers);
  std::vector<Plan> plans;
  for (int p = 0; p < n; ++p) plans.push_back(evaluate(p, n, out.predicted_prompt_tps, out.predicted_output_tps));
  double current_score = plans[current].score;
  double measured = 0;
  if (obs.ttft_p95_s) measured = std::max(measured, *obs.ttft_p95_s / options_.ttft_p95_s);
  if (obs.itl_p95_s) measured = std::max(measured, *obs.itl_p95_s / options_.itl_p95_s);
  // Latency / target is not a utilisation (it is well above 0 at no load):
  // it counts only when it shows a violation the model does not predict, and
  // once the split has been in place long enough for the measurement to be
  // its own (not the backlog of the one before).
  ++since_change_;
  if (measured > 1 && current_score <= 1 && since_change_ > options_.confirm_intervals) current_score = measured;

  int best = current;
  for (int p = 0; p < n; ++p) {
    if (p == current) continue;
    const double s = plans[p].score, b = best == current ? current_score : plans[best].score;
    if (s < b - 1e-12 || (std::abs(s - b) <= 1e-12 && std::abs(p - current) < std::abs(best - current))) best = p;
  }

  // Hysteresis.
  int target = current;
  if (best != current && plans[best].score < current_score * (1 - options_.switch_margin)) {
    proposal_count_ = best == proposal_ ? proposal_count_ + 1 : 1;
    proposal_ = best;
    if (proposal_count_ >= options_.confirm_intervals || current_score > 1) target = best;
  } else {
    proposal_ = -1;
    proposal_count_ = 0;
  }

  out.plan = plans[target];
  out.reason = fmt("predicted %.1f req/s, %.0f prompt tok/s, %.0f output tok/s; measured/target %.2f; ",
                   out.predicted_rps, out.predicted_prompt_tps, out.predicted_output_tps, measured) +
               split_name(current, n) + fmt(" scores %.2f", current_score);
  if (target == current) {
    if (best != current) out.reason += "; " + split_name(best, n) + fmt(" %.2f (waiting)", plans[best].score);
    return out;
  }
  proposal_ = -1;
  proposal_count_ = 0;
  since_change_ = 0;
  out.reason += "; -> " + split_name(target, n) + fmt(" scores %.2f", plans[target].score);

  // Roles to flip: the least busy workers of the role that shrinks.
  std::vector<WorkerRole> want(n);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return workers[a].work < workers[b].work; });
  if (target == 0) {
    for (int i = 0; i < n; ++i) want[i] = WorkerRole::kAggregated;
  } else {
    // Keep prefill workers that stay prefill (the busiest ones when shrinking).
    int need = target;
    for (int i = 0; i < n; ++i) want[i] = WorkerRole::kDecode;
    if (current > 0) {
      for (auto it = order.rbegin(); it != order.rend() && need > 0; ++it) {
        if (workers[*it].role == WorkerRole::kPrefill) {
          want[*it] = WorkerRole::kPrefill;
          --need;
        }
      }
    }
    for (size_t i : order) {
      if (need == 0) break;
      if (want[i] != WorkerRole::kPrefill) {
        want[i] = WorkerRole::kPrefill;
        --need;
      }
    }
  }
  for (int i = 0; i < n; ++i) {
    if (want[i] != workers[i].role) out.changes.push_back({static_cast<size_t>(i), workers[i].role, want[i]});
  }
  return out;
}

}  // namespace tandem::scheduler

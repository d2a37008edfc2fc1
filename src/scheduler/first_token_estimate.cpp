#include "scheduler/first_token_estimate.h"

#include <algorithm>
#include <functional>
#include <queue>

namespace tandem::scheduler {

std::optional<double> estimate_first_token_seconds(const WorkerBacklog& backlog, const StepRates& rates,
                                                   int prefill_tokens) {
  if (!rates.known()) return std::nullopt;
  const double a = rates.decode_step_seconds();
  const double b = rates.prefill_seconds_per_token();
  const size_t slots = static_cast<size_t>(std::max(1, backlog.max_running));

  const bool in_step = backlog.step_elapsed >= 0.0;
  const double rest = in_step ? std::max(0.0, a - backlog.step_elapsed) : 0.0;

  // Times (from now, counting decode steps only) at which each slot frees.
  std::vector<double> running_free;
  double prefill_ahead = std::max(0, prefill_tokens);
  for (const PendingWork& w : backlog.running) {
    running_free.push_back(rest + std::max(0, w.decode_tokens - (in_step ? 1 : 0)) * a);
    prefill_ahead += std::max(0, w.prefill_tokens);
  }
  // Should more run than there are slots (a scheduler never does), a slot frees
  // only when the count drops below max_running: the slots are the latest ones.
  std::sort(running_free.begin(), running_free.end(), std::greater<>());
  running_free.resize(slots, rest);
  std::priority_queue<double, std::vector<double>, std::greater<>> free_at(std::greater<>(), std::move(running_free));
  for (const PendingWork& w : backlog.waiting) {
    const double start = free_at.top();
    free_at.pop();
    free_at.push(start + std::max(0, w.decode_tokens) * a);
    prefill_ahead += std::max(0, w.prefill_tokens);
  }
  return free_at.top() + prefill_ahead * b + a;
}

}  // namespace tandem::scheduler

#include "scheduler/stop_check.h"

#include <algorithm>

namespace tandem::scheduler {
namespace {

bool contains(const std::vector<int32_t>& ids, int32_t token) {
  return std::find(ids.begin(), ids.end(), token) != ids.end();
}

}  // namespace

std::vector<int32_t> suppressed_tokens(const StopCriteria& stop, int num_output) {
  std::vector<int32_t> out;
  if (num_output >= stop.min_tokens) return out;
  if (!stop.ignore_eos) out = stop.eos_token_ids;
  out.insert(out.end(), stop.stop_token_ids.begin(), stop.stop_token_ids.end());
  return out;
}

StopDecision check_stop(const StopCriteria& stop, int32_t token, int num_output, int num_tokens, int max_context) {
  StopDecision d;
  // The token that makes num_output == min_tokens was sampled while still
  // suppressed, so only tokens beyond min_tokens may stop.
  const bool may_stop = num_output > stop.min_tokens;
  if (may_stop && ((!stop.ignore_eos && contains(stop.eos_token_ids, token)) || contains(stop.stop_token_ids, token))) {
    d.reason = FinishReason::kStop;
    d.stop_token = token;
  } else if (num_output >= stop.max_tokens || num_tokens >= max_context) {
    d.reason = FinishReason::kLength;
  }
  return d;
}

}  // namespace tandem::scheduler

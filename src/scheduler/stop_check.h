// Token-level stop conditions (StopCriteria), as pure functions of plain data
// so each rule is tested alone. Text-level stop strings are the frontend's.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "scheduler/generation.h"

namespace tandem::scheduler {

// Ids that must not be sampled for the next token: while fewer than
// min_tokens tokens are generated, the EOS ids (unless ignore_eos) and the
// stop ids. Empty otherwise.
std::vector<int32_t> suppressed_tokens(const StopCriteria& stop, int num_output);

struct StopDecision {
  FinishReason reason = FinishReason::kNone;  // kNone, kStop or kLength
  std::optional<int32_t> stop_token;          // set iff reason == kStop
};

// Decides after `token` was appended, making `num_output` generated tokens and
// `num_tokens` in total (prompt included). A stop token ends with kStop (even
// when max_tokens is reached by it); else max_tokens or the model's context
// (max_context, positions) ends with kLength.
StopDecision check_stop(const StopCriteria& stop, int32_t token, int num_output, int num_tokens, int max_context);

}  // namespace tandem::scheduler

#include "scheduler/request_limits.h"

#include <fmt/format.h>

namespace tandem::scheduler {

Status check_request(const GenerationRequest& r, const RequestLimits& limits) {
  if (r.id.empty()) return {ErrorKind::kInvalidRequest, "request id is empty", "id"};
  if (!r.sink) return {ErrorKind::kInvalidRequest, "request has no token sink", "sink"};
  if (r.prompt.empty()) return {ErrorKind::kInvalidRequest, "prompt has no tokens", "prompt"};
  for (size_t i = 0; i < r.prompt.size(); ++i) {
    const int32_t t = r.prompt[i];
    if (t < 0 || t >= limits.vocab) {
      return {ErrorKind::kInvalidRequest,
              fmt::format("prompt token {} at index {} is outside the vocabulary [0, {})", t, i, limits.vocab),
              "prompt"};
    }
  }
  for (const auto& [t, bias] : r.sampling.logit_bias) {
    if (t < 0 || t >= limits.vocab) {
      return {ErrorKind::kInvalidRequest,
              fmt::format("logit_bias token {} is outside the vocabulary [0, {})", t, limits.vocab), "logit_bias"};
    }
  }
  if (r.stop.max_tokens < 1) {
    return {ErrorKind::kInvalidRequest, fmt::format("max_tokens must be at least 1, got {}", r.stop.max_tokens),
            "max_tokens"};
  }
  if (r.stop.min_tokens < 0) {
    return {ErrorKind::kInvalidRequest, fmt::format("min_tokens must be at least 0, got {}", r.stop.min_tokens),
            "min_tokens"};
  }
  const int64_t prompt = static_cast<int64_t>(r.prompt.size());
  const int64_t total = prompt + r.stop.max_tokens;
  if (total > limits.max_context) {
    return {ErrorKind::kContextLengthExceeded,
            fmt::format("this model's maximum context length is {} tokens, but {} tokens were "
                        "requested ({} in the prompt + {} max_tokens)",
                        limits.max_context, total, prompt, r.stop.max_tokens),
            "max_tokens"};
  }
  // The last sampled token is never fed back, so its KV is never needed.
  const int64_t kv_positions = total - 1;
  const int64_t blocks = (kv_positions + limits.block_tokens - 1) / limits.block_tokens;
  if (blocks > limits.num_blocks) {
    return {ErrorKind::kKvExhausted,
            fmt::format("request needs {} KV blocks of {} tokens ({} prompt + {} max_tokens) but "
                        "the worker's pool has only {}",
                        blocks, limits.block_tokens, prompt, r.stop.max_tokens, limits.num_blocks),
            "max_tokens"};
  }
  return {};
}

}  // namespace tandem::scheduler

// Admission checks done at submit time, on the caller's thread: a request that
// is malformed or can never fit this worker is refused before it is queued.
#pragma once

#include "common/status.h"
#include "scheduler/generation.h"

namespace tandem::scheduler {

// Fixed properties of one worker (read from its Runner once, at start).
struct RequestLimits {
  int vocab = 0;          // token ids must be in [0, vocab)
  int max_context = 0;    // positions the model supports
  int block_tokens = 16;  // positions per KV block
  int num_blocks = 0;     // blocks in the worker's pool
};

// ok, or: kInvalidRequest (empty id or prompt, no sink, max_tokens < 1,
// min_tokens < 0, token id or logit_bias id outside the vocabulary),
// kContextLengthExceeded (prompt + max_tokens > max_context),
// kKvExhausted (the sequence's KV would need more blocks than the pool has).
// Messages name the field and the numbers.
Status check_request(const GenerationRequest& request, const RequestLimits& limits);

}  // namespace tandem::scheduler

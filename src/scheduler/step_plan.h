// The plan of one worker step: which sequences run and which of their tokens.
// Made by StepScheduler::schedule(), turned into an engine::StepBatch by
// build_batch(), consumed by apply() once the Runner has run it.
#pragma once

#include <vector>

#include "scheduler/sequence.h"

namespace tandem::scheduler {

struct ScheduledChunk {
  Sequence* seq = nullptr;   // owned by the scheduler; alive until the next publish()
  int start = 0;             // == seq->num_computed when planned
  int count = 0;             // >= 1 tokens: seq->tokens[start, start + count)
  bool want_logits = false;  // start + count == seq->num_tokens(): sample after this step
};

struct StepPlan {
  std::vector<ScheduledChunk> chunks;  // decodes first, then prefill chunks, then admissions
  int num_tokens = 0;                  // sum of counts, <= max_batch_tokens
  int num_preempted = 0;               // sequences preempted while planning
  bool empty() const { return chunks.empty(); }
};

}  // namespace tandem::scheduler

// scheduler::Handoff: a sequence moving from a prefill worker to a decode
// worker (disaggregated serving, docs/design.md "Roles and hand-off").
//
// Ownership: the prefill worker's StepScheduler builds a Handoff after the
// first token was published, exports the KV of the blocks covering the
// computed positions (Runner::export_blocks), except the leading blocks the
// router saw cached on the decode worker, and releases its own blocks
// (full ones stay in its prefix cache), so from then on the Handoff owns the
// sequence and a copy of its KV bytes, and no pool holds a block for it. The
// Router delivers it to a decode worker's inbox (Worker::adopt); that worker's
// StepScheduler::adopt allocates blocks plan-then-commit, skips the leading
// blocks its own prefix cache already holds, imports the rest and runs the
// sequence as decoding. When the KV is missing (export failed, or the prefill
// worker failed before the first token, or the decode worker evicted a
// leading block that was not sent), there is no room, or the import fails, the sequence is requeued to recompute prompt
// + generated tokens on the decode worker (local prefill): its output does not change.
//
// Threading: built on the prefill worker's thread, consumed on the decode
// worker's; nothing in it is shared.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "scheduler/sequence.h"

namespace tandem::scheduler {

struct Handoff {
  std::unique_ptr<Sequence> seq;  // kMigrating, no blocks; tokens = prompt (+ generated)
  // Runner layout: blocks [kv_first_block, blocks covering kv_positions), in table order.
  std::vector<std::byte> kv;
  int kv_positions = 0;         // positions the KV covers; 0: none sent (recompute)
  int kv_first_block = 0;       // leading blocks not sent: the decode worker caches them (router's view)
  std::string from;             // the prefill worker's name (logs)
  double export_seconds = 0.0;  // time Runner::export_blocks took
};

}  // namespace tandem::scheduler

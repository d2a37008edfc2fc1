// scheduler::Handoff: a sequence moving from a prefill worker to a decode
// worker (disaggregated serving, docs/design.md "Roles and hand-off").
//
// Ownership: the prefill worker's StepScheduler builds a Handoff after the
// first token was published, exports the KV of the blocks covering the
// computed positions (Runner::export_blob: a device blob between CUDA
// workers, host bytes otherwise; engine/kv_blob.h), except the leading blocks the
// router saw cached on the decode worker, and releases its own blocks
// (full ones stay in its prefix cache), so from then on the Handoff owns the
// sequence and a copy of its KV (the blob), and no pool holds a block for it. The
// Router delivers it to a decode worker's inbox (Worker::adopt); that worker's
// StepScheduler::adopt allocates blocks plan-then-commit, skips the leading
// blocks its own prefix cache already holds, imports the rest
// (Runner::import_blob: device to device on one GPU, peer to peer across
// GPUs, through the host otherwise), drops the blob and runs the
// sequence as decoding. When the KV is missing (export failed, or the prefill
// worker failed before the first token, or the decode worker evicted a
// leading block that was not sent), there is no room, or the import fails, the sequence is requeued to recompute prompt
// + generated tokens on the decode worker (local prefill): its output does not change.
//
// Borrowed KV (a blob that reads the prefill worker's pool in place,
// KvBlob::borrows_source; the CUDA runner's, so a move within one GPU is one
// device copy): the prefill worker then keeps the sequence's blocks held, and
// the Handoff carries a BlockLease on them. Dropping the Handoff (after the
// import, which adopt() does at once, or wherever the hand-off fails) drops
// the blob first, then the lease, which gives the blocks back to the prefill
// worker, whose thread releases them (full ones stay in its prefix cache).
//
// Threading: built on the prefill worker's thread, consumed on the decode
// worker's; nothing in it is shared but the lease's give-back call.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/kv_blob.h"
#include "scheduler/sequence.h"

namespace tandem::scheduler {

// Blocks of a prefill worker's pool that a borrowing blob reads. `give_back`
// (thread-safe) is called once, from the destructor, on whichever thread
// drops the lease.
class BlockLease {
 public:
  using GiveBack = std::function<void(std::vector<int32_t>)>;
  BlockLease(std::vector<int32_t> blocks, GiveBack give_back)
      : blocks_(std::move(blocks)), give_back_(std::move(give_back)) {}
  ~BlockLease() {
    if (give_back_) give_back_(std::move(blocks_));
  }
  BlockLease(const BlockLease&) = delete;
  BlockLease& operator=(const BlockLease&) = delete;
  const std::vector<int32_t>& blocks() const { return blocks_; }

 private:
  std::vector<int32_t> blocks_;
  GiveBack give_back_;
};

struct Handoff {
  std::unique_ptr<Sequence> seq;  // kMigrating, no blocks; tokens = prompt (+ generated)
  // The blocks a borrowing `kv` reads (null otherwise). Declared before kv,
  // so it is destroyed after it.
  std::unique_ptr<BlockLease> lease;
  // Runner layout: blocks [kv_first_block, blocks covering kv_positions), in
  // table order; null when kv_positions is 0.
  std::unique_ptr<engine::KvBlob> kv;
  int kv_positions = 0;         // positions the KV covers; 0: none sent (recompute)
  int kv_first_block = 0;       // leading blocks not sent: the decode worker caches them (router's view)
  std::string from;             // the prefill worker's name (logs)
  double export_seconds = 0.0;  // time Runner::export_blob took
  std::chrono::steady_clock::time_point handed_over_at{};  // the prefill worker's hand_off (prefill done)
};

}  // namespace tandem::scheduler

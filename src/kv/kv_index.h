// kv::KvIndex: which worker holds which cached block, built ONLY from the KV
// events the workers' BlockPools emit (kv_event.h), so the KV-aware router
// knows (not predicts) every worker's prefix cache.
//
// Layout: one hash map block_hash -> bit mask of the workers whose pool has
// the block registered (bit w = worker index w, so at most kMaxWorkers
// workers). Block hashes are chained (block_hash.h), so a hash names a whole
// prefix: a worker's overlap with a prompt is the number of leading prompt
// block hashes present under its bit, found with one map lookup per block
// for all workers at once.
//
// Tiers (KvEvent::tier: device, host memory, disk) are indexed apart: a
// block counts as held by a worker while any of its tiers holds it, and
// credits() weighs each leading block by the best tier holding it (the
// KV-aware router credits a host or disk hit less than a device hit: it must
// be loaded back first). A worker may report the same hash more than once in
// one tier; the index counts references per (tier, hash, worker) and clears
// the bit only when the last one is evicted. seq_no gaps are counted per
// (worker, tier): each tier numbers its own events.
//
// Threading: thread-safe. apply()/remove_worker() take an exclusive lock
// (called on worker threads, once per event); overlaps() and the statistics
// take a shared lock (called from submitting threads). No call blocks on
// anything but this lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <shared_mutex>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kv/block_hash.h"
#include "kv/kv_event.h"

namespace tandem::kv {

// What apply() did with one event.
enum class KvIndexUpdate {
  kApplied,           // the index changed as the event says
  kUnknownEviction,   // evicted a hash the worker was not known to hold: ignored
  kWorkerOutOfRange,  // worker index >= kMaxWorkers: ignored
};

class KvIndex {
 public:
  static constexpr size_t kMaxWorkers = 64;

  // Applies one event of worker `worker` (the router's index of the worker,
  // not KvEvent::worker). Events of one worker must arrive in emission order
  // (they do: a pool emits them synchronously on its worker thread). A gap in
  // KvEvent::seq_no is counted (seq_no_gaps()); the event is applied anyway.
  KvIndexUpdate apply(size_t worker, const KvEvent& event);

  // Forgets everything worker `worker` held (it failed or left). Its next
  // event may start at any seq_no. O(number of indexed hashes).
  void remove_worker(size_t worker);

  // For a prompt's block hashes (block 0 first, as block_hashes() returns
  // them), writes into out[w] the number of leading blocks worker w holds,
  // for every w < out.size() (out.size() <= kMaxWorkers; others get 0).
  void overlaps(std::span<const BlockHash> prompt_blocks, std::span<uint32_t> out) const;

  // The same walk, with the credit of each worker's leading blocks: the sum,
  // over those blocks, of the largest weight[tier] among the tiers holding
  // it (weight indexed by KvTier). blocks and credit must have one size.
  void credits(std::span<const BlockHash> prompt_blocks, std::span<const double, 3> weight, std::span<uint32_t> blocks,
               std::span<double> credit) const;

  // Blocks indexed for one worker (all tiers, or one), and distinct hashes
  // over all workers and tiers.
  size_t num_blocks(size_t worker) const;
  size_t num_blocks(size_t worker, KvTier tier) const;
  size_t num_hashes() const;
  bool holds(size_t worker, BlockHash hash) const;
  uint64_t seq_no_gaps() const;

 private:
  using Mask = uint64_t;
  static constexpr int kTiers = 3;  // KvTier values
  struct WorkerState {
    size_t blocks[kTiers] = {0, 0, 0};
    bool seen[kTiers] = {false, false, false};  // an event of the tier arrived since start or remove_worker()
    uint64_t next_seq_no[kTiers] = {0, 0, 0};
  };
  struct TierMap {
    std::unordered_map<BlockHash, Mask> holders;
    // References beyond the first per (hash, worker); rare (duplicate stores).
    std::map<std::pair<BlockHash, size_t>, uint32_t> extra_refs;
  };
  Mask holders_of(BlockHash h, Mask* per_tier) const;

  mutable std::shared_mutex mu_;
  TierMap tiers_[kTiers];
  std::vector<WorkerState> workers_ = std::vector<WorkerState>(kMaxWorkers);
  uint64_t seq_no_gaps_ = 0;
};

}  // namespace tandem::kv

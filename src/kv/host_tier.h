// kv::HostTier: the host-memory tier under a worker's device KV pool: a fixed
// array of `capacity` slots of block_bytes each (one allocation, from
// HostMemory: a CUDA runner pins it, the CPU runner takes plain memory), holding
// whole blocks in the runner's layout (engine/runner.h), keyed by the chained
// block hash with the block's parent hash and tokens (a lookup compares them,
// so a 64-bit collision is a miss). Eviction is LRU; an entry's `uses` counts
// the requests that used the block (the disk tier's admission filter).
//
// Threading: not thread-safe; kv::TierCache guards it with its mutex.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <span>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "kv/block_hash.h"

namespace tandem::kv {

// Where the host tier's memory comes from. Empty functions: plain memory
// (page-aligned operator new). A CUDA runner passes cudaHostAlloc/cudaFreeHost
// so host <-> device copies run at the pinned rate (engine::Runner::host_memory).
struct HostMemory {
  std::function<void*(size_t bytes)> allocate;  // nullptr on failure
  std::function<void(void* p)> release;
};

struct HostEntry {
  BlockHash parent = 0;
  std::vector<int32_t> tokens;
  uint32_t uses = 1;  // requests that used the block (set by kv::TierCache from its sketch)
};

class HostTier {
 public:
  // Called with the least recently used entry and its bytes just before its
  // slot is reused; the bytes are valid only during the call.
  using EvictFn = std::function<void(BlockHash, const HostEntry&, std::span<const std::byte>)>;

  // kIo when the memory cannot be allocated. capacity >= 1, block_bytes >= 1.
  static Result<std::unique_ptr<HostTier>> create(size_t block_bytes, int64_t capacity, HostMemory memory);
  ~HostTier();
  HostTier(const HostTier&) = delete;
  HostTier& operator=(const HostTier&) = delete;

  // The entry under `hash` when its parent and tokens match, else null.
  const HostEntry* find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const;
  bool contains(BlockHash hash) const { return map_.count(hash) != 0; }
  HostEntry* entry(BlockHash hash);
  // The block's bytes (block_bytes). Valid until the next insert() or erase().
  std::span<std::byte> data(BlockHash hash);
  // Takes a slot for a new block (hash not present: TANDEM_CHECK), evicting
  // the LRU entry through `on_evict` when full; the entry is most recent.
  // Returns the slot to fill.
  std::span<std::byte> insert(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens,
                              const EvictFn& on_evict);
  // Drops an entry (its fill failed); unknown hashes are ignored.
  void erase(BlockHash hash);
  // Most recently used now, and one more use.
  void touch(BlockHash hash);

  int64_t capacity() const { return capacity_; }
  int64_t size() const { return static_cast<int64_t>(map_.size()); }
  size_t block_bytes() const { return block_bytes_; }
  // Every entry, least recently used first.
  void for_each(const std::function<void(BlockHash, const HostEntry&, std::span<const std::byte>)>& fn) const;

 private:
  struct Slot {
    HostEntry entry;
    int64_t index = 0;
    std::list<BlockHash>::iterator lru_pos;
  };
  HostTier(size_t block_bytes, int64_t capacity, HostMemory memory, std::byte* base);
  std::byte* slot_data(int64_t index) const { return base_ + static_cast<size_t>(index) * block_bytes_; }

  size_t block_bytes_;
  int64_t capacity_;
  HostMemory memory_;
  std::byte* base_;
  std::unordered_map<BlockHash, Slot> map_;
  std::list<BlockHash> lru_;  // front = least recently used
  std::vector<int64_t> free_;
};

}  // namespace tandem::kv

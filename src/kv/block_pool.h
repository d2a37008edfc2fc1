// kv::BlockPool: the bookkeeping of one worker's paged KV cache (docs/design.md,
// "The boundaries that matter"). Blocks are ids 0..num_blocks-1 of the
// Runner's pool; the BlockPool holds only metadata (reference counts, hashes,
// the prefix-cache map and LRU), never KV data.
//
// Threading: owned and used by exactly one thread (the worker). Not thread-safe.
//
// Block lifecycle (BlockState):
//   kFree   --allocate (commit)-------------------> kHeld
//   kHeld   --release, ref 0, not registered------> kFree
//   kHeld   --release, ref 0, registered----------> kCached   (back of the LRU)
//   kCached --prefix hit (commit)-----------------> kHeld     (leaves the LRU)
//   kCached --evicted by an allocation------------> kFree     (emits kEvicted,
//                                                             then kHeld at once)
// A held block may be registered (hash -> block) once it is full: store().
// Registration lasts until eviction; a held registered block is shared by
// every sequence whose prefix matches (ref counts add up).
//
// Allocation is plan-then-commit: a Plan collects the block needs of every
// sequence of one step and checks that they fit together; commit() then
// applies all of them, and a need that did not fit was never added, so a
// failed plan changes nothing. Fresh blocks come from the free list first and
// then from the front (oldest) of the LRU of cached blocks nobody holds.
//
// With enable_prefix_caching off nothing is ever registered, match_prefix()
// finds nothing and no events are emitted; results do not change, only work.
#pragma once

#include <cstdint>
#include <list>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "kv/block_hash.h"
#include "kv/kv_event.h"

namespace tandem::kv {

using BlockId = int32_t;

enum class BlockState {
  kFree,    // ref 0, no hash, on the free list
  kHeld,    // ref >= 1
  kCached,  // ref 0, registered under its hash, in the LRU (evictable)
};

const char* block_state_name(BlockState state);

struct BlockPoolOptions {
  std::string worker;     // copied into every KvEvent
  int num_blocks = 0;     // >= 1, the Runner's num_blocks()
  int block_tokens = 16;  // >= 1, the Runner's block_tokens()
  bool enable_prefix_caching = true;
};

// The cached prefix found for a token sequence: blocks[i] holds tokens
// [i*block_tokens, (i+1)*block_tokens) and hashes[i] is its chain hash.
struct PrefixMatch {
  std::vector<BlockId> blocks;
  std::vector<BlockHash> hashes;
};

// One sequence's needs in a step: existing blocks to take a reference on
// (prefix hits) and a number of fresh blocks.
struct BlockRequest {
  std::vector<BlockId> reuse;
  int fresh = 0;
};

class BlockPool {
 public:
  // Checks options (TANDEM_CHECK: they come from validated config). `sink` may
  // be empty (events dropped).
  BlockPool(BlockPoolOptions options, KvEventSink sink);

  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // A step's allocation under construction. Valid only until the pool next
  // changes (commit, release, store); commit() checks that (TANDEM_CHECK).
  class Plan {
   public:
    // Adds the request when it fits together with everything added so far
    // and returns its index (0, 1, ...); returns -1 and changes nothing when
    // it does not fit. Reused ids must be held or cached (TANDEM_CHECK).
    int add(BlockRequest request);
    // Blocks this plan takes from the available set (fresh + cached reuses).
    int cost() const { return cost_; }
    size_t size() const { return requests_.size(); }

   private:
    friend class BlockPool;
    explicit Plan(const BlockPool* pool, uint64_t version) : pool_(pool), version_(version) {}
    int cost_of(const BlockRequest& r) const;

    const BlockPool* pool_;
    uint64_t version_;
    int cost_ = 0;
    std::vector<BlockRequest> requests_;
    std::vector<BlockId> taken_cached_;  // cached (unheld) blocks this plan re-takes
  };

  Plan plan() const { return Plan(this, version_); }

  // Applies a plan: +1 reference on every reused block, fresh blocks
  // allocated (evicting LRU blocks, which emits kEvicted events). Returns the
  // fresh ids of each request, in the order they were added. Cannot fail.
  std::vector<std::vector<BlockId>> commit(Plan plan);

  // Drops one reference per id (a sequence's whole table, in table order).
  // Blocks reaching 0 go to the LRU when registered, else to the free list;
  // they are released last-to-first so a sequence's tail is evicted before
  // its head.
  void release(std::span<const BlockId> blocks);

  // Records that held block `id` is full with `tokens` (block_tokens ids)
  // whose prefix chain ends in `parent` (the root for block 0). Returns the
  // block's hash. With prefix caching on, registers it (emitting kStored)
  // unless another block is already registered under that hash, in which case
  // this block stays private and is freed normally. A block is stored once.
  BlockHash store(BlockId id, BlockHash parent, std::span<const int32_t> tokens);

  // The longest run of registered blocks equal to the first full blocks of
  // `tokens` (at most max_blocks). Changes nothing (the LRU order included).
  PrefixMatch match_prefix(BlockHash root, std::span<const int32_t> tokens, int max_blocks) const;

  int num_blocks() const { return options_.num_blocks; }
  int block_tokens() const { return options_.block_tokens; }
  bool prefix_caching() const { return options_.enable_prefix_caching; }
  int num_available() const { return static_cast<int>(free_.size() + lru_.size()); }
  int num_free() const { return static_cast<int>(free_.size()); }
  int num_held() const { return num_blocks() - num_available(); }
  int num_cached() const { return static_cast<int>(by_hash_.size()); }
  int num_lru() const { return static_cast<int>(lru_.size()); }
  BlockState state(BlockId id) const;
  int ref_count(BlockId id) const;
  // Blocks needed for a sequence of `tokens` positions.
  int blocks_for(int64_t tokens) const;
  // The cached blocks nobody holds, oldest (next evicted) first.
  std::vector<BlockId> lru_order() const;
  uint64_t events_emitted() const { return next_seq_no_; }

  // Full consistency check of every counter and index (TANDEM_CHECK); for tests.
  void check_invariants() const;

 private:
  struct Block {
    int ref = 0;
    BlockState state = BlockState::kFree;
    bool stored = false;      // store() was called since allocation
    bool registered = false;  // by_hash_[hash] == this block
    BlockHash hash = 0;
    BlockHash parent = 0;
    std::vector<int32_t> tokens;
    std::list<BlockId>::iterator lru_pos;
  };

  BlockId allocate_one();
  void emit(KvEventKind kind, const Block& b);
  const Block& at(BlockId id) const;
  Block& at(BlockId id);

  BlockPoolOptions options_;
  KvEventSink sink_;
  std::vector<Block> blocks_;
  std::vector<BlockId> free_;                       // stack; low ids on top first
  std::list<BlockId> lru_;                          // front = least recently freed
  std::unordered_map<BlockHash, BlockId> by_hash_;  // registered blocks
  uint64_t next_seq_no_ = 0;
  uint64_t version_ = 0;  // bumped by every change
};

}  // namespace tandem::kv

// KV events: the only way anything outside a worker learns what its KV pool
// caches (docs/design.md, "KV events"). A BlockPool emits one event per block that
// becomes reusable by hash (stored) or stops being reusable (evicted); the
// KV-aware router's index consumes them.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "kv/block_hash.h"

namespace tandem::kv {

enum class KvEventKind {
  kStored,   // a full block is now in the prefix cache under block_hash
  kEvicted,  // the block under block_hash left the cache (its id was reused)
};

// Where the block lives: the device pool, or a tier under it (kv/tier_cache.h).
enum class KvTier {
  kDevice,
  kHost,
  kDisk,
};

const char* kv_event_kind_name(KvEventKind kind);  // "stored", "evicted"
const char* kv_tier_name(KvTier tier);             // "device", "host", "disk"

struct KvEvent {
  std::string worker;   // BlockPoolOptions::worker of the emitting pool
  uint64_t seq_no = 0;  // per pool, starts at 0, +1 per event, no gaps
  KvEventKind kind = KvEventKind::kStored;
  KvTier tier = KvTier::kDevice;
  BlockHash block_hash = 0;
  BlockHash parent_hash = 0;    // the previous block's hash; the chain root for block 0
  std::vector<int32_t> tokens;  // the block's block_tokens token ids
};

// Called synchronously on the pool owner's thread (the worker thread) while
// the pool is being changed: must not block and must not call into the pool.
using KvEventSink = std::function<void(const KvEvent&)>;

}  // namespace tandem::kv

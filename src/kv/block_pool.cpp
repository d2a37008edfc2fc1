#include "kv/block_pool.h"

#include <algorithm>
#include <utility>

#include "common/check.h"

namespace tandem::kv {

const char* block_state_name(BlockState state) {
  switch (state) {
    case BlockState::kFree: return "free";
    case BlockState::kHeld: return "held";
    case BlockState::kCached: return "cached";
  }
  return "unknown";
}

const char* kv_event_kind_name(KvEventKind kind) {
  switch (kind) {
    case KvEventKind::kStored: return "stored";
    case KvEventKind::kEvicted: return "evicted";
  }
  return "unknown";
}

const char* kv_tier_name(KvTier tier) {
  switch (tier) {
    case KvTier::kDevice: return "device";
    case KvTier::kHost: return "host";
    case KvTier::kDisk: return "disk";
  }
  return "unknown";
}

BlockPool::BlockPool(BlockPoolOptions options, KvEventSink sink)
    : options_(std::move(options)), sink_(std::move(sink)) {
  TANDEM_CHECK(options_.num_blocks >= 1);
  TANDEM_CHECK(options_.block_tokens >= 1);
  blocks_.resize(static_cast<size_t>(options_.num_blocks));
  free_.reserve(blocks_.size());
  // A stack: push high ids first so block 0 is handed out first.
  for (BlockId id = options_.num_blocks - 1; id >= 0; --id) free_.push_back(id);
}

const BlockPool::Block& BlockPool::at(BlockId id) const {
  TANDEM_CHECK(id >= 0 && id < options_.num_blocks);
  return blocks_[static_cast<size_t>(id)];
}

BlockPool::Block& BlockPool::at(BlockId id) {
  TANDEM_CHECK(id >= 0 && id < options_.num_blocks);
  return blocks_[static_cast<size_t>(id)];
}

BlockState BlockPool::state(BlockId id) const { return at(id).state; }
int BlockPool::ref_count(BlockId id) const { return at(id).ref; }

int BlockPool::blocks_for(int64_t tokens) const {
  if (tokens <= 0) return 0;
  const int64_t bt = options_.block_tokens;
  return static_cast<int>((tokens + bt - 1) / bt);
}

std::vector<BlockId> BlockPool::lru_order() const { return {lru_.begin(), lru_.end()}; }

// ---- Plan -------------------------------------------------------------------

int BlockPool::Plan::cost_of(const BlockRequest& r) const {
  TANDEM_CHECK(r.fresh >= 0);
  int cost = r.fresh;
  std::vector<BlockId> seen;  // a request may not list a block twice, but be safe
  for (BlockId id : r.reuse) {
    const BlockState s = pool_->at(id).state;
    TANDEM_CHECK_MSG(s != BlockState::kFree, "reusing a free block");
    if (s != BlockState::kCached) continue;  // held: just one more reference
    const bool in_plan = std::find(taken_cached_.begin(), taken_cached_.end(), id) != taken_cached_.end();
    const bool in_req = std::find(seen.begin(), seen.end(), id) != seen.end();
    if (!in_plan && !in_req) {
      ++cost;
      seen.push_back(id);
    }
  }
  return cost;
}

int BlockPool::Plan::add(BlockRequest request) {
  TANDEM_CHECK_MSG(version_ == pool_->version_, "plan used after the pool changed");
  const int cost = cost_of(request);
  if (cost_ + cost > pool_->num_available()) return -1;
  cost_ += cost;
  for (BlockId id : request.reuse) {
    if (pool_->at(id).state == BlockState::kCached &&
        std::find(taken_cached_.begin(), taken_cached_.end(), id) == taken_cached_.end()) {
      taken_cached_.push_back(id);
    }
  }
  requests_.push_back(std::move(request));
  return static_cast<int>(requests_.size()) - 1;
}

// ---- Changes ----------------------------------------------------------------

std::vector<std::vector<BlockId>> BlockPool::commit(Plan plan) {
  TANDEM_CHECK(plan.pool_ == this);
  TANDEM_CHECK_MSG(plan.version_ == version_, "plan committed after the pool changed");
  TANDEM_CHECK(plan.cost_ <= num_available());
  ++version_;
  // Reuses first, so the cached blocks they take are out of the LRU before
  // fresh allocations start evicting from it.
  for (const BlockRequest& r : plan.requests_) {
    for (BlockId id : r.reuse) {
      Block& b = at(id);
      if (b.state == BlockState::kCached) {
        lru_.erase(b.lru_pos);
        b.state = BlockState::kHeld;
      }
      TANDEM_CHECK(b.state == BlockState::kHeld);
      ++b.ref;
    }
  }
  std::vector<std::vector<BlockId>> out;
  out.reserve(plan.requests_.size());
  for (const BlockRequest& r : plan.requests_) {
    std::vector<BlockId> ids;
    ids.reserve(static_cast<size_t>(r.fresh));
    for (int i = 0; i < r.fresh; ++i) ids.push_back(allocate_one());
    out.push_back(std::move(ids));
  }
  return out;
}

BlockId BlockPool::allocate_one() {
  BlockId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    TANDEM_CHECK_MSG(!lru_.empty(), "allocation beyond the planned capacity");
    id = lru_.front();
    lru_.pop_front();
    Block& victim = at(id);
    TANDEM_CHECK(victim.state == BlockState::kCached && victim.registered);
    by_hash_.erase(victim.hash);
    emit(KvEventKind::kEvicted, victim);
  }
  Block& b = at(id);
  TANDEM_CHECK(b.ref == 0);
  b = Block{};
  b.state = BlockState::kHeld;
  b.ref = 1;
  return id;
}

void BlockPool::release(std::span<const BlockId> blocks) {
  ++version_;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) {
    Block& b = at(*it);
    TANDEM_CHECK_MSG(b.state == BlockState::kHeld && b.ref >= 1, "releasing a block nobody holds");
    if (--b.ref > 0) continue;
    if (b.registered) {
      b.state = BlockState::kCached;
      b.lru_pos = lru_.insert(lru_.end(), *it);
    } else {
      b = Block{};
      free_.push_back(*it);
    }
  }
}

BlockHash BlockPool::store(BlockId id, BlockHash parent, std::span<const int32_t> tokens) {
  TANDEM_CHECK(static_cast<int>(tokens.size()) == options_.block_tokens);
  Block& b = at(id);
  TANDEM_CHECK_MSG(b.state == BlockState::kHeld, "storing a block nobody holds");
  TANDEM_CHECK_MSG(!b.stored, "block stored twice");
  ++version_;
  b.stored = true;
  b.parent = parent;
  b.hash = chain_hash(parent, tokens);
  if (!options_.enable_prefix_caching) return b.hash;
  b.tokens.assign(tokens.begin(), tokens.end());
  if (by_hash_.emplace(b.hash, id).second) {
    b.registered = true;
    emit(KvEventKind::kStored, b);
  }
  return b.hash;
}

PrefixMatch BlockPool::match_prefix(BlockHash root, std::span<const int32_t> tokens, int max_blocks) const {
  PrefixMatch m;
  if (!options_.enable_prefix_caching) return m;
  const size_t bt = static_cast<size_t>(options_.block_tokens);
  BlockHash parent = root;
  for (size_t i = 0; static_cast<int>(i) < max_blocks && (i + 1) * bt <= tokens.size(); ++i) {
    const auto block_tokens = tokens.subspan(i * bt, bt);
    const BlockHash h = chain_hash(parent, block_tokens);
    const auto found = by_hash_.find(h);
    if (found == by_hash_.end()) break;
    const Block& b = at(found->second);
    if (b.parent != parent || !std::equal(b.tokens.begin(), b.tokens.end(), block_tokens.begin(), block_tokens.end())) {
      break;  // a hash collision: treat as a miss
    }
    m.blocks.push_back(found->second);
    m.hashes.push_back(h);
    parent = h;
  }
  return m;
}

void BlockPool::emit(KvEventKind kind, const Block& b) {
  KvEvent e;
  e.worker = options_.worker;
  e.seq_no = next_seq_no_++;
  e.kind = kind;
  e.tier = KvTier::kDevice;
  e.block_hash = b.hash;
  e.parent_hash = b.parent;
  e.tokens = b.tokens;
  if (sink_) sink_(e);
}

void BlockPool::check_invariants() const {
  size_t n_free = 0, n_cached = 0, n_registered = 0;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& b = blocks_[i];
    const BlockId id = static_cast<BlockId>(i);
    switch (b.state) {
      case BlockState::kFree:
        TANDEM_CHECK(b.ref == 0 && !b.registered && !b.stored);
        TANDEM_CHECK(std::count(free_.begin(), free_.end(), id) == 1);
        ++n_free;
        break;
      case BlockState::kHeld: TANDEM_CHECK(b.ref >= 1); break;
      case BlockState::kCached:
        TANDEM_CHECK(b.ref == 0 && b.registered && *b.lru_pos == id);
        ++n_cached;
        break;
    }
    if (b.registered) {
      ++n_registered;
      TANDEM_CHECK(b.stored && options_.enable_prefix_caching);
      const auto it = by_hash_.find(b.hash);
      TANDEM_CHECK(it != by_hash_.end() && it->second == id);
    }
  }
  TANDEM_CHECK(n_free == free_.size());
  TANDEM_CHECK(n_cached == lru_.size());
  TANDEM_CHECK(n_registered == by_hash_.size());
}

}  // namespace tandem::kv

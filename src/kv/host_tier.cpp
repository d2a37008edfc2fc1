#include "kv/host_tier.h"

#include <algorithm>
#include <new>
#include <string>

#include "common/check.h"

namespace tandem::kv {
namespace {
constexpr std::align_val_t kAlign{4096};
}

Result<std::unique_ptr<HostTier>> HostTier::create(size_t block_bytes, int64_t capacity, HostMemory memory) {
  TANDEM_CHECK(block_bytes >= 1 && capacity >= 1);
  const size_t bytes = block_bytes * static_cast<size_t>(capacity);
  void* p = nullptr;
  if (memory.allocate) {
    p = memory.allocate(bytes);
  } else {
    p = ::operator new(bytes, kAlign, std::nothrow);
  }
  if (p == nullptr) {
    return Status(ErrorKind::kIo, "cannot allocate the host KV tier (" + std::to_string(bytes >> 20) + " MiB)");
  }
  return std::unique_ptr<HostTier>(new HostTier(block_bytes, capacity, std::move(memory), static_cast<std::byte*>(p)));
}

HostTier::HostTier(size_t block_bytes, int64_t capacity, HostMemory memory, std::byte* base)
    : block_bytes_(block_bytes), capacity_(capacity), memory_(std::move(memory)), base_(base) {
  free_.reserve(static_cast<size_t>(capacity));
  for (int64_t i = capacity - 1; i >= 0; --i) free_.push_back(i);
}

HostTier::~HostTier() {
  if (memory_.release) {
    memory_.release(base_);
  } else if (!memory_.allocate) {
    ::operator delete(base_, kAlign);
  }
}

const HostEntry* HostTier::find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const {
  auto it = map_.find(hash);
  if (it == map_.end()) return nullptr;
  const HostEntry& e = it->second.entry;
  if (e.parent != parent || !std::equal(e.tokens.begin(), e.tokens.end(), tokens.begin(), tokens.end())) {
    return nullptr;
  }
  return &e;
}

HostEntry* HostTier::entry(BlockHash hash) {
  auto it = map_.find(hash);
  return it == map_.end() ? nullptr : &it->second.entry;
}

std::span<std::byte> HostTier::data(BlockHash hash) {
  auto it = map_.find(hash);
  TANDEM_CHECK(it != map_.end());
  return {slot_data(it->second.index), block_bytes_};
}

std::span<std::byte> HostTier::insert(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens,
                                      const EvictFn& on_evict) {
  TANDEM_CHECK(!contains(hash));
  int64_t index;
  if (!free_.empty()) {
    index = free_.back();
    free_.pop_back();
  } else {
    TANDEM_CHECK(!lru_.empty());
    const BlockHash victim = lru_.front();
    lru_.pop_front();
    auto it = map_.find(victim);
    TANDEM_CHECK(it != map_.end());
    index = it->second.index;
    if (on_evict) on_evict(victim, it->second.entry, {slot_data(index), block_bytes_});
    map_.erase(it);
  }
  Slot s;
  s.entry.parent = parent;
  s.entry.tokens.assign(tokens.begin(), tokens.end());
  s.index = index;
  s.lru_pos = lru_.insert(lru_.end(), hash);
  map_.emplace(hash, std::move(s));
  return {slot_data(index), block_bytes_};
}

void HostTier::erase(BlockHash hash) {
  auto it = map_.find(hash);
  if (it == map_.end()) return;
  lru_.erase(it->second.lru_pos);
  free_.push_back(it->second.index);
  map_.erase(it);
}

void HostTier::touch(BlockHash hash) {
  auto it = map_.find(hash);
  if (it == map_.end()) return;
  lru_.splice(lru_.end(), lru_, it->second.lru_pos);
  ++it->second.entry.uses;
}

void HostTier::for_each(const std::function<void(BlockHash, const HostEntry&, std::span<const std::byte>)>& fn) const {
  for (BlockHash h : lru_) {
    const Slot& s = map_.at(h);
    fn(h, s.entry, {slot_data(s.index), block_bytes_});
  }
}

}  // namespace tandem::kv

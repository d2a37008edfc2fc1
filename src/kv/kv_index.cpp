#include "kv/kv_index.h"

#include <algorithm>
#include <mutex>

#include "common/check.h"

namespace tandem::kv {

KvIndexUpdate KvIndex::apply(size_t worker, const KvEvent& event) {
  if (worker >= kMaxWorkers) return KvIndexUpdate::kWorkerOutOfRange;
  const Mask bit = Mask{1} << worker;
  std::unique_lock<std::shared_mutex> lock(mu_);
  WorkerState& w = workers_[worker];
  if (w.seen && event.seq_no != w.next_seq_no) ++seq_no_gaps_;
  w.seen = true;
  w.next_seq_no = event.seq_no + 1;
  switch (event.kind) {
    case KvEventKind::kStored: {
      Mask& m = holders_[event.block_hash];
      if (m & bit) {
        ++extra_refs_[{event.block_hash, worker}];
      } else {
        m |= bit;
        ++w.blocks;
      }
      return KvIndexUpdate::kApplied;
    }
    case KvEventKind::kEvicted: {
      auto it = holders_.find(event.block_hash);
      if (it == holders_.end() || (it->second & bit) == 0) return KvIndexUpdate::kUnknownEviction;
      auto extra = extra_refs_.find({event.block_hash, worker});
      if (extra != extra_refs_.end()) {
        if (--extra->second == 0) extra_refs_.erase(extra);
        return KvIndexUpdate::kApplied;
      }
      it->second &= ~bit;
      if (it->second == 0) holders_.erase(it);
      TANDEM_CHECK(w.blocks > 0);
      --w.blocks;
      return KvIndexUpdate::kApplied;
    }
  }
  return KvIndexUpdate::kApplied;
}

void KvIndex::remove_worker(size_t worker) {
  if (worker >= kMaxWorkers) return;
  const Mask bit = Mask{1} << worker;
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (auto it = holders_.begin(); it != holders_.end();) {
    it->second &= ~bit;
    it = it->second == 0 ? holders_.erase(it) : std::next(it);
  }
  for (auto it = extra_refs_.begin(); it != extra_refs_.end();) {
    it = it->first.second == worker ? extra_refs_.erase(it) : std::next(it);
  }
  workers_[worker] = WorkerState{};
}

void KvIndex::overlaps(std::span<const BlockHash> prompt_blocks, std::span<uint32_t> out) const {
  TANDEM_CHECK(out.size() <= kMaxWorkers);
  std::fill(out.begin(), out.end(), 0u);
  if (out.empty()) return;
  Mask alive = out.size() == kMaxWorkers ? ~Mask{0} : (Mask{1} << out.size()) - 1;
  std::shared_lock<std::shared_mutex> lock(mu_);
  uint32_t depth = 0;
  for (BlockHash h : prompt_blocks) {
    auto it = holders_.find(h);
    const Mask next = it == holders_.end() ? 0 : (alive & it->second);
    // Workers that drop out here hold exactly `depth` leading blocks.
    for (Mask gone = alive & ~next; gone != 0; gone &= gone - 1) {
      out[static_cast<size_t>(__builtin_ctzll(gone))] = depth;
    }
    alive = next;
    ++depth;
    if (alive == 0) return;
  }
  for (; alive != 0; alive &= alive - 1) out[static_cast<size_t>(__builtin_ctzll(alive))] = depth;
}

size_t KvIndex::num_blocks(size_t worker) const {
  if (worker >= kMaxWorkers) return 0;
  std::shared_lock<std::shared_mutex> lock(mu_);
  return workers_[worker].blocks;
}

size_t KvIndex::num_hashes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return holders_.size();
}

bool KvIndex::holds(size_t worker, BlockHash hash) const {
  if (worker >= kMaxWorkers) return false;
  std::shared_lock<std::shared_mutex> lock(mu_);
  auto it = holders_.find(hash);
  return it != holders_.end() && (it->second & (Mask{1} << worker)) != 0;
}

uint64_t KvIndex::seq_no_gaps() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return seq_no_gaps_;
}

}  // namespace tandem::kv

#include "kv/kv_index.h"

#include <algorithm>
#include <mutex>

#include "common/check.h"

namespace tandem::kv {

KvIndexUpdate KvIndex::apply(size_t worker, const KvEvent& event) {
  if (worker >= kMaxWorkers) return KvIndexUpdate::kWorkerOutOfRange;
  const Mask bit = Mask{1} << worker;
  const int t = static_cast<int>(event.tier);
  TANDEM_CHECK(t >= 0 && t < kTiers);
  std::unique_lock<std::shared_mutex> lock(mu_);
  WorkerState& w = workers_[worker];
  TierMap& tier = tiers_[t];
  if (w.seen[t] && event.seq_no != w.next_seq_no[t]) ++seq_no_gaps_;
  w.seen[t] = true;
  w.next_seq_no[t] = event.seq_no + 1;
  switch (event.kind) {
    case KvEventKind::kStored: {
      Mask& m = tier.holders[event.block_hash];
      if (m & bit) {
        ++tier.extra_refs[{event.block_hash, worker}];
      } else {
        m |= bit;
        ++w.blocks[t];
      }
      return KvIndexUpdate::kApplied;
    }
    case KvEventKind::kEvicted: {
      auto it = tier.holders.find(event.block_hash);
      if (it == tier.holders.end() || (it->second & bit) == 0) return KvIndexUpdate::kUnknownEviction;
      auto extra = tier.extra_refs.find({event.block_hash, worker});
      if (extra != tier.extra_refs.end()) {
        if (--extra->second == 0) tier.extra_refs.erase(extra);
        return KvIndexUpdate::kApplied;
      }
      it->second &= ~bit;
      if (it->second == 0) tier.holders.erase(it);
      TANDEM_CHECK(w.blocks[t] > 0);
      --w.blocks[t];
      return KvIndexUpdate::kApplied;
    }
  }
  return KvIndexUpdate::kApplied;
}

void KvIndex::remove_worker(size_t worker) {
  if (worker >= kMaxWorkers) return;
  const Mask bit = Mask{1} << worker;
  std::unique_lock<std::shared_mutex> lock(mu_);
  for (TierMap& tier : tiers_) {
    for (auto it = tier.holders.begin(); it != tier.holders.end();) {
      it->second &= ~bit;
      it = it->second == 0 ? tier.holders.erase(it) : std::next(it);
    }
    for (auto it = tier.extra_refs.begin(); it != tier.extra_refs.end();) {
      it = it->first.second == worker ? tier.extra_refs.erase(it) : std::next(it);
    }
  }
  workers_[worker] = WorkerState{};
}

KvIndex::Mask KvIndex::holders_of(BlockHash h, Mask* per_tier) const {
  Mask any = 0;
  for (int t = 0; t < kTiers; ++t) {
    auto it = tiers_[t].holders.find(h);
    per_tier[t] = it == tiers_[t].holders.end() ? 0 : it->second;
    any |= per_tier[t];
  }
  return any;
}

void KvIndex::overlaps(std::span<const BlockHash> prompt_blocks, std::span<uint32_t> out) const {
  TANDEM_CHECK(out.size() <= kMaxWorkers);
  std::fill(out.begin(), out.end(), 0u);
  if (out.empty()) return;
  Mask alive = out.size() == kMaxWorkers ? ~Mask{0} : (Mask{1} << out.size()) - 1;
  std::shared_lock<std::shared_mutex> lock(mu_);
  uint32_t depth = 0;
  Mask per_tier[kTiers];
  for (BlockHash h : prompt_blocks) {
    const Mask next = alive & holders_of(h, per_tier);
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

void KvIndex::credits(std::span<const BlockHash> prompt_blocks, std::span<const double, 3> weight,
                      std::span<uint32_t> blocks, std::span<double> credit) const {
  TANDEM_CHECK(blocks.size() <= kMaxWorkers && credit.size() == blocks.size());
  std::fill(blocks.begin(), blocks.end(), 0u);
  std::fill(credit.begin(), credit.end(), 0.0);
  if (blocks.empty()) return;
  Mask alive = blocks.size() == kMaxWorkers ? ~Mask{0} : (Mask{1} << blocks.size()) - 1;
  // Tiers from the best weight down, so a block takes its best tier's weight.
  int order[kTiers] = {0, 1, 2};
  std::sort(order, order + kTiers, [&](int a, int b) { return weight[a] > weight[b]; });
  std::shared_lock<std::shared_mutex> lock(mu_);
  Mask per_tier[kTiers];
  for (BlockHash h : prompt_blocks) {
    alive &= holders_of(h, per_tier);
    if (alive == 0) return;
    Mask left = alive;
    for (int t : order) {
      for (Mask m = left & per_tier[t]; m != 0; m &= m - 1)
        credit[static_cast<size_t>(__builtin_ctzll(m))] += weight[t];
      left &= ~per_tier[t];
    }
    for (Mask m = alive; m != 0; m &= m - 1) ++blocks[static_cast<size_t>(__builtin_ctzll(m))];
  }
}

size_t KvIndex::num_blocks(size_t worker) const {
  if (worker >= kMaxWorkers) return 0;
  std::shared_lock<std::shared_mutex> lock(mu_);
  const WorkerState& w = workers_[worker];
  return w.blocks[0] + w.blocks[1] + w.blocks[2];
}

size_t KvIndex::num_blocks(size_t worker, KvTier tier) const {
  if (worker >= kMaxWorkers) return 0;
  std::shared_lock<std::shared_mutex> lock(mu_);
  return workers_[worker].blocks[static_cast<int>(tier)];
}

size_t KvIndex::num_hashes() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  size_t n = tiers_[0].holders.size();
  for (int t = 1; t < kTiers; ++t) {
    for (const auto& [h, m] : tiers_[t].holders) {
      bool earlier = false;
      for (int u = 0; u < t && !earlier; ++u) earlier = tiers_[u].holders.count(h) != 0;
      if (!earlier) ++n;
    }
  }
  return n;
}

bool KvIndex::holds(size_t worker, BlockHash hash) const {
  if (worker >= kMaxWorkers) return false;
  std::shared_lock<std::shared_mutex> lock(mu_);
  Mask per_tier[kTiers];
  return (holders_of(hash, per_tier) & (Mask{1} << worker)) != 0;
}

uint64_t KvIndex::seq_no_gaps() const {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return seq_no_gaps_;
}

}  // namespace tandem::kv

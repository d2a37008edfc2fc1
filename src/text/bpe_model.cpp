#include "text/bpe_model.h"

#include <limits>
#include <queue>

namespace tandem::text {
namespace {

constexpr size_t kSmallWord = 48;
constexpr int32_t kNoRank = std::numeric_limits<int32_t>::max();

}  // namespace

void BpeModel::reserve(size_t n_merges) {
  size_t cap = 16;
  while (cap < n_merges * 2) cap <<= 1;
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{kEmpty, {}});
  mask_ = cap - 1;
  count_ = 0;
  for (const Slot& s : old) {
    if (s.key != kEmpty) {
      add_merge(static_cast<int32_t>(s.key >> 32), static_cast<int32_t>(s.key & 0xffffffffu), s.merge.rank,
                s.merge.result);
    }
  }
}

void BpeModel::grow() { reserve(slots_.empty() ? 8 : slots_.size()); }

void BpeModel::add_merge(int32_t left, int32_t right, int32_t rank, int32_t result) {
  if ((count_ + 1) * 2 > slots_.size()) grow();
  const uint64_t key = pack(left, right);
  size_t i = hash(key) & mask_;
  while (slots_[i].key != kEmpty) {
    if (slots_[i].key == key) return;
    i = (i + 1) & mask_;
  }
  slots_[i] = Slot{key, Merge{rank, result}};
  ++count_;
}

void BpeModel::merge(std::vector<int32_t>& symbols) const {
  if (symbols.size() < 2 || count_ == 0) return;
  if (symbols.size() <= kSmallWord) {
    merge_small(symbols);
  } else {
    merge_heap(symbols);
  }
}

void BpeModel::merge_small(std::vector<int32_t>& symbols) const {
  // ranks[i]: rank of the pair (symbols[i], symbols[i + 1]).
  int32_t ranks[kSmallWord];
  int32_t results[kSmallWord];
  size_t n = symbols.size();
  for (size_t i = 0; i + 1 < n; ++i) {
    const Merge* m = find(symbols[i], symbols[i + 1]);
    ranks[i] = m ? m->rank : kNoRank;
    results[i] = m ? m->result : -1;
  }
  while (n > 1) {
    size_t best = 0;
    int32_t best_rank = kNoRank;
    for (size_t i = 0; i + 1 < n; ++i) {
      if (ranks[i] < best_rank) {
        best_rank = ranks[i];
        best = i;
      }
    }
    if (best_rank == kNoRank) break;
    symbols[best] = results[best];
    for (size_t i = best + 1; i + 1 < n; ++i) {
      symbols[i] = symbols[i + 1];
      if (i + 1 < n - 1) {
        ranks[i] = ranks[i + 1];
        results[i] = results[i + 1];
      }
    }
    --n;
    if (best > 0) {
      const Merge* m = find(symbols[best - 1], symbols[best]);
      ranks[best - 1] = m ? m->rank : kNoRank;
      results[best - 1] = m ? m->result : -1;
    }
    if (best + 1 < n) {
      const Merge* m = find(symbols[best], symbols[best + 1]);
      ranks[best] = m ? m->rank : kNoRank;
      results[best] = m ? m->result : -1;
    }
  }
  symbols.resize(n);
}

void BpeModel::merge_heap(std::vector<int32_t>& symbols) const {
  const size_t n = symbols.size();
  std::vector<int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (size_t i = 0; i < n; ++i) {
    prev[i] = static_cast<int32_t>(i) - 1;
    next[i] = i + 1 < n ? static_cast<int32_t>(i + 1) : -1;
  }
  struct Candidate {
    int32_t rank;
    int32_t pos;
    int32_t result;
    bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> heap;
  auto push_pair = [&](int32_t pos) {
    if (pos < 0 || next[static_cast<size_t>(pos)] < 0) return;
    const Merge* m =
        find(symbols[static_cast<size_t>(pos)], symbols[static_cast<size_t>(next[static_cast<size_t>(pos)])]);
    if (m) heap.push(Candidate{m->rank, pos, m->result});
  };
  for (size_t i = 0; i + 1 < n; ++i) push_pair(static_cast<int32_t>(i));
  while (!heap.empty()) {
    const Candidate c = heap.top();
    heap.pop();
    const auto pos = static_cast<size_t>(c.pos);
    if (!alive[pos] || next[pos] < 0) continue;
    const auto right = static_cast<size_t>(next[pos]);
    const Merge* m = find(symbols[pos], symbols[right]);
    if (!m || m->result != c.result || m->rank != c.rank) continue;  // stale
    symbols[pos] = c.result;
    alive[right] = false;
    next[pos] = next[right];
    if (next[right] >= 0) prev[static_cast<size_t>(next[right])] = c.pos;
    push_pair(prev[pos]);
    push_pair(c.pos);
  }
  size_t out = 0;
  for (size_t i = 0; i < n; ++i) {
    if (alive[i]) symbols[out++] = symbols[i];
  }
  symbols.resize(out);
}

}  // namespace tandem::text

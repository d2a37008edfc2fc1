#include "grammar/compiled_grammar.h"

#include <algorithm>

#include "grammar/stack.h"

namespace tandem::grammar {

Grammar::Grammar(Automaton a, std::shared_ptr<const Vocab> vocab, size_t memory_budget)
    : a_(std::move(a)), vocab_(std::move(vocab)), budget_(memory_budget) {
  used_ = a_.memory_bytes();
  masks_ = std::make_unique<std::atomic<PositionMask*>[]>(a_.nodes.size());
  for (size_t i = 0; i < a_.nodes.size(); ++i) masks_[i].store(nullptr, std::memory_order_relaxed);
}

Grammar::~Grammar() {
  for (size_t i = 0; i < a_.nodes.size(); ++i) delete masks_[i].load(std::memory_order_relaxed);
}

size_t Grammar::cached_positions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

const PositionMask* Grammar::position_mask(int32_t node) const {
  PositionMask* m = masks_[node].load(std::memory_order_acquire);
  if (m != nullptr) return m;
  std::lock_guard<std::mutex> lock(mu_);
  m = masks_[node].load(std::memory_order_acquire);
  if (m != nullptr) return m;
  const size_t cost = vocab_->words() * 4 + 64;
  if (used_ + cost > budget_) return nullptr;
  std::unique_ptr<PositionMask> made = compute(node);
  size_t size = made->accepted.size() * 4 + made->uncertain.size() * 4 + sizeof(PositionMask);
  if (used_ + size > budget_) return nullptr;
  used_ += size;
  ++count_;
  m = made.release();
  masks_[node].store(m, std::memory_order_release);
  return m;
}

std::unique_ptr<PositionMask> Grammar::compute(int32_t node) const {
  auto out = std::make_unique<PositionMask>();
  out->accepted.assign(vocab_->words(), 0);
  const auto& trie = vocab_->trie();
  const auto& ids = vocab_->sorted_ids();
  Walker w(a_);
  const int max_depth = vocab_->max_depth();
  std::vector<std::vector<int32_t>> sets(max_depth + 1);
  std::vector<size_t> arena_at(max_depth + 1, 0);
  std::vector<char> pop_before(max_depth + 2, 0);  // some path completed the rule after >= 1 byte, before depth d
  sets[0].push_back(w.arena().intern(node, kSentinel));
  arena_at[0] = w.arena().size();
  auto accept_range = [&](int32_t b, int32_t e) {
    for (int32_t k = b; k < e; ++k) out->accepted[ids[k] >> 5] |= 1u << (ids[k] & 31);
  };
  auto uncertain_range = [&](int32_t b, int32_t e) {
    for (int32_t k = b; k < e; ++k) out->uncertain.push_back(ids[k]);
  };
  const int32_t n = static_cast<int32_t>(trie.size());
  for (int32_t i = 0; i < n;) {
    const Vocab::TrieNode& t = trie[i];
    const int d = t.depth;
    w.arena().truncate(arena_at[d - 1]);
    bool popped = false;
    w.step(sets[d - 1], t.byte, sets[d], &popped);
    const bool before = pop_before[d] != 0;
    if (!sets[d].empty() || popped) {
      accept_range(t.tok_begin, t.tok_end);
    } else if (before) {
      uncertain_range(t.tok_begin, t.tok_end);
    }
    if (sets[d].empty()) {
      // No stack survives inside the rule: the subtree is rejected, or depends on the stack below.
      if (popped || before) {
        for (int32_t j = i + 1; j < t.subtree_end; ++j) uncertain_range(trie[j].tok_begin, trie[j].tok_end);
      }
      i = t.subtree_end;
      continue;
    }
    arena_at[d] = w.arena().size();
    pop_before[d + 1] = static_cast<char>(before || popped);
    ++i;
  }
  std::sort(out->uncertain.begin(), out->uncertain.end());
  return out;
}

}  // namespace tandem::grammar

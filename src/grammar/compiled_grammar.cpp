#include "grammar/compiled_grammar.h"

#include <algorithm>
#include <cstdio>

#include "grammar/stack.h"

namespace tandem::grammar {

std::shared_ptr<const PositionMask> SharedMasks::find(const std::string& key) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  return it == map_.end() ? nullptr : it->second;
}

void SharedMasks::put(const std::string& key, std::shared_ptr<const PositionMask> m) {
  size_t size = key.size() + m->accepted.size() * 4 + m->uncertain.size() * 4 + 64;
  std::lock_guard<std::mutex> lock(mu_);
  if (used_ + size > budget_ || map_.count(key) != 0) return;
  used_ += size;
  map_.emplace(key, std::move(m));
}

Grammar::Grammar(Automaton a, std::shared_ptr<const Vocab> vocab, size_t memory_budget,
                 std::shared_ptr<SharedMasks> shared)
    : a_(std::move(a)), vocab_(std::move(vocab)), budget_(memory_budget), shared_(std::move(shared)) {
  used_ = a_.memory_bytes();
  masks_ = std::make_unique<std::atomic<const PositionMask*>[]>(a_.nodes.size());
  for (size_t i = 0; i < a_.nodes.size(); ++i) masks_[i].store(nullptr, std::memory_order_relaxed);
}

Grammar::~Grammar() = default;

size_t Grammar::cached_positions() const {
  std::lock_guard<std::mutex> lock(mu_);
  return count_;
}

const PositionMask* Grammar::position_mask(int32_t node) const {
  const PositionMask* m = masks_[node].load(std::memory_order_acquire);
  if (m != nullptr) return m;
  std::lock_guard<std::mutex> lock(mu_);
  m = masks_[node].load(std::memory_order_acquire);
  if (m != nullptr) return m;
  const int32_t rule = a_.node_rule[node];
  std::string key;
  std::shared_ptr<const PositionMask> made;
  if (shared_ != nullptr && !a_.leaf_key[rule].empty()) {
    key = a_.leaf_key[rule] + "@" + std::to_string(node - a_.rule_first[rule]);
    made = shared_->find(key);
  }
  if (made == nullptr) {
    if (used_ + vocab_->words() * 4 + 64 > budget_) return nullptr;
    made = compute(node);
    size_t size = made->accepted.size() * 4 + made->uncertain.size() * 4 + sizeof(PositionMask);
    if (used_ + size > budget_) return nullptr;
    used_ += size;
    if (!key.empty()) shared_->put(key, made);
  }
  ++count_;
  held_.push_back(made);
  masks_[node].store(made.get(), std::memory_order_release);
  return made.get();
}

std::shared_ptr<const PositionMask> Grammar::compute(int32_t node) const {
  auto out = std::make_shared<PositionMask>();
  out->accepted.assign(vocab_->words(), 0);
  const auto& trie = vocab_->trie();
  const auto& ids = vocab_->sorted_ids();
  Walker w(a_);
  const int max_depth = vocab_->max_depth();
  std::vector<std::vector<int32_t>> sets(max_depth + 1);
  std::vector<size_t> arena_at(max_depth + 1, 0);
  std::vector<char> pop_before(max_depth + 2, 0);  // some path completed the rule after >= 1 byte, before depth d
  std::vector<ByteSet> next_bytes(max_depth + 1);  // [d] bytes some stack of sets[d] can read
  auto readable = [&](const std::vector<int32_t>& set, ByteSet& out_bytes) {
    out_bytes.reset();
    for (int32_t f : set) {
      if (f == kEndFrame || f == kDoneFrame) continue;
      for (const ByteEdge& e : a_.nodes[w.arena()[f].node].bytes) out_bytes |= e.set;
    }
  };
  sets[0].push_back(w.arena().intern(node, kSentinel));
  arena_at[0] = w.arena().size();
  readable(sets[0], next_bytes[0]);
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
    bool popped = false;
    if (next_bytes[d - 1].test(t.byte)) {
      w.arena().truncate(arena_at[d - 1]);
      w.step(sets[d - 1], t.byte, sets[d], &popped);
    } else {
      sets[d].clear();  // no stack reads this byte: skip the step
    }
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
    readable(sets[d], next_bytes[d]);
    ++i;
  }
  return out;
}

}  // namespace tandem::grammar

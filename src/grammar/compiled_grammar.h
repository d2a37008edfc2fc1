// grammar::Grammar, the compiled form shared by all matchers of one format: the automaton, the
// vocabulary, and the per-position token masks.
//
// Position masks (the context-independent split): for an automaton node with byte edges, walk the
// vocabulary trie from a single frame (node, kSentinel). A token whose bytes are all read without
// completing the frame's rule below the sentinel, or that completes it exactly at its last byte, is
// allowed whatever the stack below is ("accepted"). A token that completes the rule before its last
// byte depends on the stack below ("uncertain") and is checked at run time from the real stack. All
// other tokens are rejected there. Masks are computed on first use and cached (thread-safe); once the
// grammar's memory budget is spent, a position is walked from the real stack each time instead.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "grammar/automaton.h"
#include "grammar/vocab.h"

namespace tandem::grammar {

struct PositionMask {
  std::vector<uint32_t> accepted;  // [vocab words] bitmask
  std::vector<int32_t> uncertain;  // token ids, in the vocabulary trie's order (sorted by bytes)
};

// Position masks of leaf rules (Automaton::leaf_key), shared by all grammars of one Compiler: the
// string, number and format rules recur in most schemas. Thread-safe; bounded by a byte budget (past
// it, masks are no longer shared, only kept by their grammar).
class SharedMasks {
 public:
  explicit SharedMasks(size_t budget) : budget_(budget) {}
  std::shared_ptr<const PositionMask> find(const std::string& key) const;
  void put(const std::string& key, std::shared_ptr<const PositionMask> m);

 private:
  size_t budget_;
  size_t used_ = 0;
  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<const PositionMask>> map_;
};

class Grammar {
 public:
  Grammar(Automaton a, std::shared_ptr<const Vocab> vocab, size_t memory_budget,
          std::shared_ptr<SharedMasks> shared = nullptr);
  ~Grammar();

  const Automaton& automaton() const { return a_; }
  const Vocab& vocab() const { return *vocab_; }
  // The mask of a node with byte edges; nullptr when the memory budget does not allow caching it.
  const PositionMask* position_mask(int32_t node) const;
  size_t cached_positions() const;

 private:
  std::shared_ptr<const PositionMask> compute(int32_t node) const;

  Automaton a_;
  std::shared_ptr<const Vocab> vocab_;
  size_t budget_;
  mutable std::mutex mu_;
  mutable size_t used_ = 0;
  mutable size_t count_ = 0;
  std::shared_ptr<SharedMasks> shared_;
  mutable std::vector<std::shared_ptr<const PositionMask>> held_;
  std::unique_ptr<std::atomic<const PositionMask*>[]> masks_;
};

}  // namespace tandem::grammar

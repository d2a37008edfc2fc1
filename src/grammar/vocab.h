// The vocabulary as the matcher sees it: token bytes, which tokens a grammar may produce, the stop ids,
// and a trie of the producible tokens (sorted by bytes, shared prefixes walked once) stored in preorder.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar.h"

namespace tandem::grammar {

class Vocab {
 public:
  // One trie node per distinct non-empty token prefix, in preorder. The tokens whose bytes equal the
  // node's path are sorted_ids()[tok_begin, tok_end); the node's subtree is [index, subtree_end).
  struct TrieNode {
    uint8_t byte;
    uint16_t depth;  // 1 for the first byte
    int32_t subtree_end;
    int32_t tok_begin;
    int32_t tok_end;
  };

  explicit Vocab(TokenTable table);

  int32_t size() const { return static_cast<int32_t>(table_.bytes.size()); }
  size_t words() const { return (table_.bytes.size() + 31) / 32; }
  const std::string& bytes(int32_t id) const { return table_.bytes[id]; }
  // Non-special, non-empty and not a stop id: a token a grammar may produce.
  bool producible(int32_t id) const { return producible_[id]; }
  bool is_stop(int32_t id) const { return stop_[id]; }
  const std::vector<int32_t>& stop_ids() const { return stop_ids_; }
  const std::vector<TrieNode>& trie() const { return trie_; }
  const std::vector<int32_t>& sorted_ids() const { return sorted_ids_; }
  int max_depth() const { return max_depth_; }

 private:
  TokenTable table_;
  std::vector<bool> producible_, stop_;
  std::vector<int32_t> stop_ids_;
  std::vector<TrieNode> trie_;
  std::vector<int32_t> sorted_ids_;
  int max_depth_ = 0;
};

}  // namespace tandem::grammar

#include "grammar/vocab.h"

#include <algorithm>
#include <limits>

namespace tandem::grammar {

Vocab::Vocab(TokenTable table) : table_(std::move(table)) {
  const int32_t n = size();
  table_.special.resize(n, false);
  stop_.assign(n, false);
  for (int32_t id : table_.stop_ids) {
    if (id >= 0 && id < n && !stop_[id]) {
      stop_[id] = true;
      stop_ids_.push_back(id);
    }
  }
  producible_.assign(n, false);
  for (int32_t id = 0; id < n; ++id) {
    producible_[id] = !table_.special[id] && !stop_[id] && !table_.bytes[id].empty() &&
                      table_.bytes[id].size() < std::numeric_limits<uint16_t>::max();
    if (producible_[id]) sorted_ids_.push_back(id);
  }
  std::sort(sorted_ids_.begin(), sorted_ids_.end(), [&](int32_t a, int32_t b) {
    int c = table_.bytes[a].compare(table_.bytes[b]);
    return c < 0 || (c == 0 && a < b);
  });
  std::vector<int32_t> path{-1};  // path[d]: node at depth d of the current token (path[0]: root)
  const std::string* prev = nullptr;
  for (int32_t k = 0; k < static_cast<int32_t>(sorted_ids_.size()); ++k) {
    const std::string& s = table_.bytes[sorted_ids_[k]];
    size_t lcp = 0;
    if (prev != nullptr) {
      while (lcp < s.size() && lcp < prev->size() && s[lcp] == (*prev)[lcp]) ++lcp;
    }
    path.resize(lcp + 1);
    for (size_t d = lcp; d < s.size(); ++d) {
      trie_.push_back({static_cast<uint8_t>(s[d]), static_cast<uint16_t>(d + 1), 0, k, k});
      path.push_back(static_cast<int32_t>(trie_.size() - 1));
    }
    TrieNode& end = trie_[path[s.size()]];
    if (end.tok_end == end.tok_begin) end.tok_begin = k;
    end.tok_end = k + 1;
    max_depth_ = std::max(max_depth_, static_cast<int>(s.size()));
    prev = &s;
  }
  // Nodes created without a token of their own have an empty range at the next token's index.
  std::vector<int32_t> open;
  for (int32_t i = 0; i < static_cast<int32_t>(trie_.size()); ++i) {
    while (!open.empty() && trie_[open.back()].depth >= trie_[i].depth) {
      trie_[open.back()].subtree_end = i;
      open.pop_back();
    }
    open.push_back(i);
  }
  for (int32_t i : open) trie_[i].subtree_end = static_cast<int32_t>(trie_.size());
}

}  // namespace tandem::grammar

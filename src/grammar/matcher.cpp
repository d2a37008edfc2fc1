#include <algorithm>
#include <cstring>

#include "grammar/compiled_grammar.h"
#include "grammar/grammar.h"
#include "grammar/stack.h"

namespace tandem::grammar {

// The matcher's state: the walker (arena of frames) and one closed set of stacks per accepted token
// (history.front(): before any token).
class StackSet {
 public:
  explicit StackSet(const Grammar& g) : walker(g.automaton()) {
    std::vector<int32_t> start{walker.arena().intern(g.automaton().rule_start[g.automaton().root], kBottom)};
    walker.close(start, nullptr);
    history.push_back(std::move(start));
  }
  Walker walker;
  std::vector<std::vector<int32_t>> history;
  std::vector<int32_t> scratch;
  std::vector<std::vector<int32_t>> levels;
  std::vector<size_t> arena_at;
};

namespace {

bool contains(const std::vector<int32_t>& set, int32_t f) { return std::find(set.begin(), set.end(), f) != set.end(); }

// Sets the bits of the tokens of `ids` (sorted by bytes) that can be read from frame f, walking shared
// prefixes once. Tokens already set are skipped. Leaves the arena as it found it.
void check_tokens(Walker& w, const Vocab& v, int32_t f, const std::vector<int32_t>& ids, std::span<uint32_t> mask,
                  std::vector<std::vector<int32_t>>& levels, std::vector<size_t>& arena_at) {
  const size_t base = w.arena().size();
  if (levels.size() < static_cast<size_t>(v.max_depth()) + 1) {
    levels.resize(v.max_depth() + 1);
    arena_at.resize(v.max_depth() + 1);
  }
  levels[0].assign(1, f);
  arena_at[0] = base;
  std::string_view prev;
  size_t reached = 0;  // levels[0..reached] hold the sets after prev's first bytes
  for (int32_t id : ids) {
    if (mask[id >> 5] >> (id & 31) & 1u) continue;
    std::string_view b = v.bytes(id);
    size_t lcp = 0;
    while (lcp < b.size() && lcp < prev.size() && lcp < reached && b[lcp] == prev[lcp]) ++lcp;
    w.arena().truncate(arena_at[lcp]);
    size_t d = lcp;
    bool alive = !levels[d].empty();
    while (alive && d < b.size()) {
      w.step(levels[d], static_cast<uint8_t>(b[d]), levels[d + 1], nullptr);
      ++d;
      arena_at[d] = w.arena().size();
      alive = !levels[d].empty();
    }
    reached = d;
    prev = b;
    if (alive) mask[id >> 5] |= 1u << (id & 31);
  }
  w.arena().truncate(base);
}

}  // namespace

Matcher::Matcher(std::shared_ptr<const Grammar> g)
    : grammar_(std::move(g)), stacks_(std::make_unique<StackSet>(*grammar_)) {}
Matcher::~Matcher() = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;

bool Matcher::can_end() const {
  const auto& cur = stacks_->history.back();
  return contains(cur, kEndFrame) || contains(cur, kDoneFrame);
}

bool Matcher::finished() const {
  const auto& cur = stacks_->history.back();
  if (contains(cur, kDoneFrame)) return true;
  if (!contains(cur, kEndFrame)) return false;
  const Automaton& a = grammar_->automaton();
  for (int32_t f : cur) {
    if (f == kEndFrame) continue;
    if (!a.nodes[stacks_->walker.arena()[f].node].bytes.empty()) return false;
  }
  return true;
}

int Matcher::accepted_tokens() const { return static_cast<int>(stacks_->history.size()) - 1; }

void Matcher::rollback(int n_tokens) {
  auto& h = stacks_->history;
  while (n_tokens-- > 0 && h.size() > 1) h.pop_back();
}

bool Matcher::accept(int32_t token) {
  const Vocab& v = grammar_->vocab();
  if (token < 0 || token >= v.size()) return false;
  auto& h = stacks_->history;
  if (contains(h.back(), kDoneFrame)) return false;
  if (v.is_stop(token)) {
    if (!contains(h.back(), kEndFrame)) return false;
    h.push_back({kDoneFrame});
    return true;
  }
  if (!v.producible(token)) return false;
  std::vector<int32_t> next;
  if (!stacks_->walker.advance(h.back(), v.bytes(token), next)) return false;
  h.push_back(std::move(next));
  return true;
}

bool Matcher::accept_bytes(std::string_view bytes) {
  auto& h = stacks_->history;
  if (contains(h.back(), kDoneFrame)) return bytes.empty();
  std::vector<int32_t> next;
  if (!stacks_->walker.advance(h.back(), bytes, next)) return false;
  h.back() = std::move(next);
  return true;
}

bool Matcher::fill_next_token_mask(std::span<uint32_t> mask) const {
  const Vocab& v = grammar_->vocab();
  const size_t words = v.words();
  std::memset(mask.data(), 0, std::min(words, mask.size()) * sizeof(uint32_t));
  if (mask.size() < words) return false;
  const auto& cur = stacks_->history.back();
  Walker& w = stacks_->walker;
  const Automaton& a = grammar_->automaton();
  bool any = false;
  if (contains(cur, kEndFrame) || contains(cur, kDoneFrame)) {
    for (int32_t id : v.stop_ids()) {
      mask[id >> 5] |= 1u << (id & 31);
      any = true;
    }
  }
  if (contains(cur, kDoneFrame)) return any;
  std::vector<int32_t>& one = stacks_->scratch;
  // Frames whose stack-dependent tokens are checked after every certain bit is set.
  std::vector<std::pair<int32_t, const PositionMask*>> uncertain_left;
  for (int32_t f : cur) {
    if (f == kEndFrame) continue;
    const int32_t node = w.arena()[f].node;
    if (a.nodes[node].bytes.empty()) continue;
    const PositionMask* pm = grammar_->position_mask(node);
    if (pm == nullptr) {
      // Over the memory budget: walk every producible token from this stack.
      one.assign(1, f);
      for (int32_t id : v.sorted_ids()) {
        if (!(mask[id >> 5] >> (id & 31) & 1u) && w.walk(one, v.bytes(id))) mask[id >> 5] |= 1u << (id & 31);
      }
      continue;
    }
    if (pm->accepted.empty()) {
      for (int32_t id : pm->accepted_ids) mask[id >> 5] |= 1u << (id & 31);
    } else {
      const uint32_t* src = pm->accepted.data();
      uint32_t* dst = mask.data();
      for (size_t i = 0; i < words; ++i) dst[i] |= src[i];
    }
    uncertain_left.emplace_back(f, pm);
  }
  for (const auto& [f, pm] : uncertain_left) {
    check_tokens(w, v, f, pm->uncertain, mask, stacks_->levels, stacks_->arena_at);
  }
  if (!any) {
    for (size_t i = 0; i < words; ++i) {
      if (mask[i] != 0) {
        any = true;
        break;
      }
    }
  }
  return any;
}

}  // namespace tandem::grammar

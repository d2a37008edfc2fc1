#include "grammar/stack.h"

namespace tandem::grammar {

FrameArena::FrameArena() {
  buckets_.assign(1024, -1);
  mask_ = 1023;
  frames_.push_back({-1, kBottom, -1});  // kEndFrame
  frames_.push_back({-1, kBottom, -1});  // kDoneFrame
}

int32_t FrameArena::intern(int32_t node, int32_t parent) {
  uint32_t h = hash(node, parent) & mask_;
  for (int32_t f = buckets_[h]; f >= 0; f = frames_[f].next) {
    if (frames_[f].node == node && frames_[f].parent == parent) return f;
  }
  int32_t id = static_cast<int32_t>(frames_.size());
  frames_.push_back({node, parent, buckets_[h]});
  buckets_[h] = id;
  if (frames_.size() > buckets_.size()) rehash();
  return id;
}

void FrameArena::rehash() {
  buckets_.assign(buckets_.size() * 2, -1);
  mask_ = static_cast<uint32_t>(buckets_.size() - 1);
  for (int32_t id = 2; id < static_cast<int32_t>(frames_.size()); ++id) {
    uint32_t h = hash(frames_[id].node, frames_[id].parent) & mask_;
    frames_[id].next = buckets_[h];
    buckets_[h] = id;
  }
}

void FrameArena::truncate(size_t n) {
  if (n < 2) n = 2;
  // Later frames head their chains, so removing them newest first restores the chains.
  while (frames_.size() > n) {
    const Frame& f = frames_.back();
    buckets_[hash(f.node, f.parent) & mask_] = f.next;
    frames_.pop_back();
  }
}

bool Walker::mark(int32_t f) {
  if (static_cast<size_t>(f) >= seen_.size()) seen_.resize(arena_.size() * 2 + 64, 0);
  if (seen_[f] == stamp_) return false;
  seen_[f] = stamp_;
  return true;
}

void Walker::close(std::vector<int32_t>& set, bool* popped) {
  ++stamp_;
  if (stamp_ == 0) {
    std::fill(seen_.begin(), seen_.end(), 0);
    stamp_ = 1;
  }
  size_t w = 0;
  for (int32_t f : set) {
    if (mark(f)) set[w++] = f;
  }
  set.resize(w);
  for (size_t i = 0; i < set.size(); ++i) {
    int32_t f = set[i];
    if (f == kEndFrame || f == kDoneFrame) continue;
    const int32_t node = arena_[f].node;
    const int32_t parent = arena_[f].parent;
    const Node& n = a_.nodes[node];
    if (n.final) {
      if (parent == kBottom) {
        if (mark(kEndFrame)) set.push_back(kEndFrame);
      } else if (parent == kSentinel) {
        if (popped != nullptr) *popped = true;
      } else if (mark(parent)) {
        set.push_back(parent);
      }
    }
    for (const RefEdge& e : n.refs) {
      int32_t cont = arena_.intern(e.target, parent);
      int32_t child = arena_.intern(a_.rule_start[e.rule], cont);
      if (mark(child)) set.push_back(child);
    }
  }
}

void Walker::step(const std::vector<int32_t>& in, uint8_t b, std::vector<int32_t>& out, bool* popped) {
  out.clear();
  for (int32_t f : in) {
    if (f == kEndFrame || f == kDoneFrame) continue;
    const int32_t node = arena_[f].node;
    const int32_t parent = arena_[f].parent;
    for (const ByteEdge& e : a_.nodes[node].bytes) {
      if (e.set.test(b)) out.push_back(arena_.intern(e.target, parent));
    }
  }
  if (!out.empty()) close(out, popped);
}

bool Walker::walk(const std::vector<int32_t>& in, std::string_view bytes) {
  size_t mark_size = arena_.size();
  bool ok = advance(in, bytes, tmp_b_);
  arena_.truncate(mark_size);
  return ok;
}

bool Walker::advance(const std::vector<int32_t>& in, std::string_view bytes, std::vector<int32_t>& out) {
  if (bytes.empty()) {
    out = in;
    return true;
  }
  const std::vector<int32_t>* cur = &in;
  for (size_t i = 0; i < bytes.size(); ++i) {
    std::vector<int32_t>& next = (i % 2 == 0) ? tmp_a_ : out;
    step(*cur, static_cast<uint8_t>(bytes[i]), next, nullptr);
    if (next.empty()) {
      out.clear();
      return false;
    }
    cur = &next;
  }
  if (cur != &out) out = *cur;
  return true;
}

}  // namespace tandem::grammar

// Persistent parse stacks. A frame is (node, parent frame): "inside the rule of `node`, at `node`; when
// that rule completes, continue at the parent frame". Frames are hash-consed in an arena, so equal
// stacks share one id and a set of stacks is a small vector of frame ids. The arena only grows, except
// that scratch work (mask computation) truncates it back to a mark, LIFO.
//
// A StackSet is the matcher state: the set of stacks the bytes so far can be in, kept closed (every rule
// call at a stack top is expanded and every completed rule is popped), plus the history of sets per
// accepted token for rollback. Used by one thread at a time.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "grammar/automaton.h"

namespace tandem::grammar {

constexpr int32_t kBottom = -1;    // parent of the root rule's frames
constexpr int32_t kSentinel = -2;  // parent in context-free analysis: the stack below is unknown
constexpr int32_t kEndFrame = 0;   // the root rule has completed (can end)
constexpr int32_t kDoneFrame = 1;  // a stop token was accepted (terminated)

class FrameArena {
 public:
  struct Frame {
    int32_t node;
    int32_t parent;
    int32_t next;  // hash chain
  };

  FrameArena();
  int32_t intern(int32_t node, int32_t parent);
  const Frame& operator[](int32_t id) const { return frames_[id]; }
  size_t size() const { return frames_.size(); }
  void truncate(size_t n);

 private:
  void rehash();
  static uint32_t hash(int32_t node, int32_t parent) {
    return static_cast<uint32_t>((static_cast<uint64_t>(static_cast<uint32_t>(node)) * 0x9E3779B97F4A7C15ull ^
                                  static_cast<uint32_t>(parent) * 0xC2B2AE3D27D4EB4Full) >>
                                 32);
  }
  std::vector<Frame> frames_;
  std::vector<int32_t> buckets_;
  uint32_t mask_ = 0;
};

// Closure and byte steps over sets of frames of one automaton.
class Walker {
 public:
  explicit Walker(const Automaton& a) : a_(a) {}
  FrameArena& arena() { return arena_; }
  const Automaton& automaton() const { return a_; }

  // Expands `set` in place: rule calls pushed, completed rules popped. Sets *popped when a frame whose
  // parent is kSentinel completes.
  void close(std::vector<int32_t>& set, bool* popped);
  // out = closure of the frames reached from `in` by reading byte b. Clears out first.
  void step(const std::vector<int32_t>& in, uint8_t b, std::vector<int32_t>& out, bool* popped);
  // Walks `bytes` from `in` (closed); true if some stack survives. Leaves the arena as it found it.
  bool walk(const std::vector<int32_t>& in, std::string_view bytes);
  // As walk, but keeps the frames and returns the resulting set in out.
  bool advance(const std::vector<int32_t>& in, std::string_view bytes, std::vector<int32_t>& out);

 private:
  bool mark(int32_t f);
  const Automaton& a_;
  FrameArena arena_;
  std::vector<uint32_t> seen_;
  uint32_t stamp_ = 0;
  std::vector<int32_t> tmp_a_, tmp_b_;
};

}  // namespace tandem::grammar

// text::BpeModel: the merge table of a BPE vocabulary and the merge loop.
// A merge turns the adjacent pair (left id, right id) into `result` and has a
// rank; the loop repeatedly applies the lowest-ranked merge present in the
// word, the leftmost one on ties, until none applies. That is HF tokenizers'
// BPE (rank = line of merges.txt) and also SentencePiece/llama.cpp's
// score-ordered BPE (rank = order of the merged piece's score, equal scores
// sharing a rank so that the leftmost pair wins, as there).
//
// Short words use an in-place scan; long ones (whole SentencePiece segments,
// long runs of letters) a heap over a linked list: O(n log n).
//
// Threading: built once, then immutable; merge() is const and thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tandem::text {

class BpeModel {
 public:
  struct Merge {
    int32_t rank = -1;
    int32_t result = -1;
  };

  // Adds a merge; a second merge of the same pair is ignored (the first,
  // lower-ranked one wins, as in HF). Call reserve() first for big tables.
  void add_merge(int32_t left, int32_t right, int32_t rank, int32_t result);
  void reserve(size_t n_merges);
  size_t size() const { return count_; }

  // The merge of (left, right), or nullptr.
  const Merge* find(int32_t left, int32_t right) const {
    if (slots_.empty()) return nullptr;
    const uint64_t key = pack(left, right);
    size_t i = hash(key) & mask_;
    while (true) {
      const Slot& s = slots_[i];
      if (s.key == key) return &s.merge;
      if (s.key == kEmpty) return nullptr;
      i = (i + 1) & mask_;
    }
  }

  // Applies all merges to `symbols` (token ids) in place.
  void merge(std::vector<int32_t>& symbols) const;

 private:
  struct Slot {
    uint64_t key;
    Merge merge;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t pack(int32_t a, int32_t b) {
    return (uint64_t{static_cast<uint32_t>(a)} << 32) | static_cast<uint32_t>(b);
  }
  static size_t hash(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return static_cast<size_t>(k);
  }
  void grow();
  void merge_small(std::vector<int32_t>& symbols) const;
  void merge_heap(std::vector<int32_t>& symbols) const;

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t count_ = 0;
};

}  // namespace tandem::text

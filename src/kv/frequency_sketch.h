// kv::FrequencySketch: approximately how many times each block hash was used
// recently (TinyLFU's count-min sketch): 4 rows of 4-bit-range counters
// (uint8, saturating at 15) indexed by independent slices of the (already
// well-mixed) block hash. An estimate is never below the true count since the
// last aging; all counters are halved every `10 x width` increments, so old
// popularity fades. It outlives the host tier's entries, so a block evicted
// and recomputed keeps its count: the disk tier's admission filter reads it.
//
// Threading: not thread-safe (kv::TierCache's host mutex guards it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "kv/block_hash.h"

namespace tandem::kv {

class FrequencySketch {
 public:
  // `width` counters per row, rounded up to a power of two (>= 64).
  explicit FrequencySketch(size_t width);
  // Counts one use and returns the estimate after it.
  uint32_t add(BlockHash hash);
  uint32_t estimate(BlockHash hash) const;
  static constexpr uint32_t kMax = 15;

 private:
  size_t slot(BlockHash hash, int row) const;

  size_t width_;
  std::vector<uint8_t> counters_;  // [4][width_]
  size_t additions_ = 0;
};

}  // namespace tandem::kv

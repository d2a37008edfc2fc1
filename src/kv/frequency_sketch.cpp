#include "kv/frequency_sketch.h"

#include <algorithm>

namespace tandem::kv {

FrequencySketch::FrequencySketch(size_t width) : width_(64) {
  while (width_ < width) width_ <<= 1;
  counters_.assign(4 * width_, 0);
}

size_t FrequencySketch::slot(BlockHash hash, int row) const {
  // Row r takes 16 bits of the hash from bit 16 r, remixed so widths above
  // 2^16 still spread.
  const uint64_t h = (hash >> (16 * row)) * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(row);
  return static_cast<size_t>(row) * width_ + static_cast<size_t>((h ^ (h >> 29)) & (width_ - 1));
}

uint32_t FrequencySketch::estimate(BlockHash hash) const {
  uint32_t m = kMax;
  for (int r = 0; r < 4; ++r) m = std::min<uint32_t>(m, counters_[slot(hash, r)]);
  return m;
}

uint32_t FrequencySketch::add(BlockHash hash) {
  const uint32_t m = estimate(hash);
  // Conservative update: raise only the counters at the minimum.
  if (m < kMax) {
    for (int r = 0; r < 4; ++r) {
      uint8_t& c = counters_[slot(hash, r)];
      if (c == m) ++c;
    }
  }
  if (++additions_ >= 10 * width_) {
    for (uint8_t& c : counters_) c >>= 1;
    additions_ = 0;
  }
  return std::min(m + 1, kMax);
}

}  // namespace tandem::kv

// Counter-based random numbers for sampling: the draw of a sequence's step is
// a pure function of (seed, step), so a seeded request samples the same
// tokens whatever else shares its batch and whichever worker runs it.
#pragma once

#include <cstdint>

namespace tandem::engine {

// SplitMix64 finalizer (Steele, Lea, Flood 2014): a bijective 64-bit mix.
constexpr uint64_t splitmix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform double in [0, 1) for draw `step` of the stream `seed` (53 bits).
constexpr double counter_uniform(uint64_t seed, uint64_t step) {
  const uint64_t bits = splitmix64(splitmix64(seed) ^ splitmix64(step + 0x632be59bd9b4e019ull));
  return static_cast<double>(bits >> 11) * 0x1.0p-53;
}

}  // namespace tandem::engine

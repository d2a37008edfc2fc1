// The distribution engine::sample() draws from, exposed so tests can check
// the processing pipeline (bias, penalties, temperature, min_p, top_k, top_p)
// with exact probabilities rather than only through random draws.
#pragma once

#include <cstdint>
#include <vector>

#include "engine/sampling.h"

namespace tandem::engine {

struct TokenProb {
  int32_t token = 0;
  double prob = 0.0;
};

// Ids ascending, probabilities > 0 summing to 1 (up to rounding). Greedy
// (temperature < 1e-5) and the all-filtered fallback give one id with
// probability 1. Pure function of `in` (the seed is not used).
std::vector<TokenProb> sampling_distribution(const SampleInput& in);

}  // namespace tandem::engine

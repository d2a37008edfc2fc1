// Constrained decoding on the device: the allowed-token bitmask applied to a
// batch's logits rows IN PLACE (disallowed ids -> -inf) before the sampling
// kernel runs, so every later stage (raw logprobs, bias, penalties, filters,
// the draw, the all-filtered fallback) sees the masked row, as engine::sample
// does on the host (sampling.h). One family, one .cu (token_mask_kernels.cu).
//
// Layout: masks are uint32 words, bit t of word t / 32 (little-endian inside
// the word) set = token t allowed (sampling.h, token_allowed); a row's mask
// has `words` words; ids past words * 32 are disallowed.
// Threads: launch() from the runner's thread on its stream.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace tandem::engine::cuda {

struct TokenMaskParams {
  float* logits = nullptr;               // [n_rows, vocab] float32, modified in place
  const uint32_t* masks = nullptr;       // [n_masks, words]
  const int32_t* mask_of_row = nullptr;  // [n_rows]: index into masks, or -1 (row unconstrained)
  int n_rows = 0;                        // >= 0
  int vocab = 0;                         // >= 1
  int words = 0;                         // >= 1, usually (vocab + 31) / 32
  Status check() const;
  size_t workspace_bytes() const { return 0; }
};
Status launch(const TokenMaskParams& p, cudaStream_t stream);

}  // namespace tandem::engine::cuda

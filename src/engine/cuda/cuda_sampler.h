// CudaSampler: samples one token per logits row where the logits are (device
// memory), with engine::sample's seeded semantics (sampling_kernels.h says
// how and where results may differ by rounding). Per call it packs each row's
// parameters and token lists (bias ids, suppressed, prompt only when a
// repetition penalty needs it, output only when a penalty needs it) into one
// pinned upload, launches one CTA (or a cluster of CTAs, small batches) per
// row on the caller's stream, and copies back only the tokens and logprobs.
// Rows with an allowed-token mask (constrained decoding): their masks go up in
// one more copy and token_mask_kernels.h sets the disallowed logits to -inf
// before the sampling kernel; a row whose mask allows no id of the row gets
// kNoAllowedToken (checked on the host while packing).
//
// Ownership: owns its device buffers (the [max_rows, vocab] penalty-count
// scratch, 4 bytes per entry, is the big one) and pinned staging buffers;
// token-list buffers grow on demand. Threads: one thread (the runner's).
// Failure: kInvalidRequest for more rows than max_rows or a row with
// logprobs > kMaxDeviceLogprobs (check with supports() first); kDevice on any
// CUDA fault.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/cuda/device_buffer.h"
#include "engine/cuda/sampling_kernels.h"
#include "engine/runner.h"
#include "engine/sampling.h"

namespace tandem::engine::cuda {

class CudaSampler {
 public:
  CudaSampler() = default;
  CudaSampler(const CudaSampler&) = delete;
  CudaSampler& operator=(const CudaSampler&) = delete;
  ~CudaSampler();

  // Allocates for up to `max_rows` rows of `vocab` logits (current device).
  Status init(int max_rows, int vocab);

  // True when every row is within the device sampler's limits (logprobs).
  static bool supports(std::span<const SampleRow> rows);

  // Samples rows.size() rows of `logits` (device, float32 [rows.size(), vocab],
  // overwritten: bias and penalties are applied in place) on `stream` and
  // waits for it. out[i] is row i's token, logprob and top alternatives.
  Status sample(float* logits, std::span<const SampleRow> rows, cudaStream_t stream, std::vector<SampledToken>& out);

  // CTAs per row for later calls: 0 (default) lets the kernel pick by batch
  // size (sampling_kernels.h); 1, 2, 4, 8 or 16 force it (tests, benchmarks).
  void set_cluster(int cluster) { cluster_ = cluster; }

 private:
  struct PinnedFree {
    void operator()(void* p) const;
  };
  using Pinned = std::unique_ptr<void, PinnedFree>;
  // Grows the list buffers to hold `n` tokens.
  Status reserve_tokens(int64_t n);
  // Grows the mask buffers to hold `n` masks of words_ words.
  Status reserve_masks(int n);
  // Packs the constrained rows' masks, uploads them and launches the mask
  // kernel on `logits`; empty_rows[i] is set when row i's mask allows nothing.
  Status apply_masks(float* logits, std::span<const SampleRow> rows, cudaStream_t stream);

  int max_rows_ = 0;
  int vocab_ = 0;
  int64_t token_capacity_ = 0;
  int cluster_ = 0;
  DeviceBuffer counts_;    // [max_rows, vocab] uint32, kept all zero between calls
  DeviceBuffer results_;   // [max_rows] SampleRowResult
  DeviceBuffer upload_;    // rows | tokens | bias values (one copy per call)
  DeviceBuffer saved_;     // [token_capacity] float
  Pinned host_upload_;     // staging of upload_
  Pinned host_results_;    // [max_rows] SampleRowResult
  int words_ = 0;          // (vocab + 31) / 32
  int mask_capacity_ = 0;  // masks the mask buffers hold
  DeviceBuffer masks_;     // [n_rows] mask_of_row | [mask_capacity, words] masks
  Pinned host_masks_;      // staging of masks_
  std::vector<bool> empty_rows_;
  std::vector<SampleRowSpec> specs_;
  std::vector<int32_t> tokens_;
  std::vector<float> bias_values_;
};

}  // namespace tandem::engine::cuda

// Sampling on the device: one CTA per logits row, or a cluster of 2-16 CTAs
// per row at small batch (each CTA owns a slice of consecutive ids; partial
// maxima, sums and radix histograms merge through distributed shared memory),
// turns the row into one token with engine::sample's exact semantics
// (sampler.cpp, vLLM order):
//   1. raw log-softmax stats (max, log-sum-exp in double) and the top
//      `logprobs` raw alternatives, when asked;
//   2. logit_bias (in list order), suppressed ids -> -inf, repetition
//      (prompt + output ids, once each), frequency (x count) and presence
//      penalties (output ids), written IN PLACE into the logits row; the raw
//      values of touched ids are saved first (`saved`) for the chosen
//      token's logprob and the all-filtered fallback;
//   3. greedy (temperature < 1e-5): argmax, lowest id on ties;
//   4. else x = l * (1 / temperature); min_p; top_k by a radix select over
//      order-preserving float keys (ties with the k-th kept). When top_k
//      leaves at most 256 candidates they are gathered into one CTA, which
//      applies top_p and draws with the host's arithmetic (double exp, sums
//      in the host's order: id order for z, value order for the top_p
//      prefix). Otherwise top_p by a
//      radix descent over probability-mass histograms (double), then the id
//      cutoff among ties at the boundary value; the draw is an inverse CDF
//      over the kept ids in ASCENDING id order (block prefix sums of
//      exp(x - m) in double, compared with u * z);
//   5. nothing left (every id -inf after step 2): the argmax of the raw row.
// NaN counts as -inf; ids outside [0, vocab) in any list are ignored.
// Results equal the host's except where float rounding of a cumulative sum
// decides (the top_p boundary, the draw): sums run in another order there.
// The cluster size changes only the order of double sums (log-sum-exp, masses),
// so a row's result can depend on its batch only at that rounding level.
//
// One family, one .cu (sampling_kernels.cu). Threads: launch() from the
// runner's thread on its stream; the kernel reads and writes only the buffers
// named below.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "common/status.h"

namespace tandem::engine::cuda {

inline constexpr int kMaxDeviceLogprobs = 20;  // top alternatives per row (OpenAI's limit)

// One row's sampling parameters, packed by CudaSampler. List ranges index
// SampleKernelParams::tokens (and `saved`); a list not needed is empty.
struct SampleRowSpec {
  double u = 0.0;  // counter_uniform(seed, output.size()), in [0, 1)
  float temperature = 1.0f;
  float top_p = 1.0f;
  float min_p = 0.0f;
  float presence = 0.0f;
  float frequency = 0.0f;
  float repetition = 1.0f;
  int32_t top_k = 0;
  int32_t logprobs = -1;                   // -1 or [0, kMaxDeviceLogprobs]
  int32_t bias_begin = 0, bias_count = 0;  // ids in tokens, values in bias_values (same index)
  int32_t suppressed_begin = 0, suppressed_count = 0;
  int32_t prompt_begin = 0, prompt_count = 0;  // only when repetition != 1
  int32_t output_begin = 0, output_count = 0;  // only when a penalty needs them
};

// What the kernel writes per row.
struct SampleRowResult {
  int32_t token = 0;
  float logprob = 0.0f;                 // raw log-softmax of `token` (when logprobs >= 0)
  int32_t n_top = 0;                    // min(logprobs, vocab), or 0
  int32_t top_ids[kMaxDeviceLogprobs];  // best first: (desc raw logit, asc id)
  float top_logprobs[kMaxDeviceLogprobs];
};

struct SampleKernelParams {
  float* logits = nullptr;              // [n_rows, vocab] float32, modified in place
  const SampleRowSpec* rows = nullptr;  // [n_rows]
  const int32_t* tokens = nullptr;      // [n_tokens] every row's lists, packed
  const float* bias_values = nullptr;   // [n_tokens] (used at bias entries only)
  float* saved = nullptr;               // [n_tokens] scratch: raw logits of listed ids
  uint32_t* counts = nullptr;           // [n_rows, vocab] scratch; all zero on entry, left zero
  SampleRowResult* results = nullptr;   // [n_rows]
  int n_rows = 0;                       // >= 0
  int vocab = 0;                        // >= 1
  int64_t n_tokens = 0;                 // >= 0
  int cluster = 0;                      // CTAs per row: 0 picks (sample_cluster_size); else 1, 2, 4, 8, 16
  Status check() const;
  size_t workspace_bytes() const { return 0; }  // scratch is passed in (saved, counts)
};
Status launch(const SampleKernelParams& p, cudaStream_t stream);

// CTAs per row that launch() uses for `p` on the current device (only
// n_rows, vocab and cluster are read): p.cluster when set (kInvalidRequest if
// the device cannot launch that cluster), else the largest of 16, 8, 4, 2 for
// which n_rows clusters are resident at once and each CTA gets >= 4096 ids,
// else 1.
Result<int> sample_cluster_size(const SampleKernelParams& p);

}  // namespace tandem::engine::cuda

// Sampling: from one logits row to one token (engine::sample). A pure function
// of (logits, params, history, seed, step), so a seeded request gives the same
// tokens whatever else is in its batch, on any backend.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <utility>
#include <vector>

namespace tandem::engine {

// Validated sampling parameters of one sequence (model defaults applied).
struct SamplingParams {
  float temperature = 1.0f;                           // 0 = greedy (argmax)
  float top_p = 1.0f;                                 // (0, 1]
  int top_k = 0;                                      // 0 = disabled
  float min_p = 0.0f;                                 // [0, 1]
  float presence_penalty = 0.0f;                      // [-2, 2], OpenAI semantics (output tokens)
  float frequency_penalty = 0.0f;                     // [-2, 2], OpenAI semantics (output tokens)
  float repetition_penalty = 1.0f;                    // > 0, HF/vLLM semantics (prompt + output tokens)
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to logits before sampling
  std::optional<uint64_t> seed;                       // unset: the scheduler draws one at submit
  int logprobs = -1;                                  // -1: none; k >= 0: chosen token's logprob + top k
};

// SampledToken::token when a row's allowed-token mask leaves no token to
// sample (constrained decoding): the caller must end the sequence with an
// error, never emit a token.
inline constexpr int32_t kNoAllowedToken = -1;

// Bit t of word t / 32 (bit t % 32, little-endian inside the word) set = token
// t may be sampled. A mask shorter than the logits row disallows the ids past
// its end; bits past the row are ignored. Empty span = every token allowed.
// Test: bit `token` of `mask`.
inline bool token_allowed(std::span<const uint32_t> mask, int32_t token) {
  const size_t word = static_cast<size_t>(token) / 32;
  return token >= 0 && word < mask.size() && ((mask[word] >> (static_cast<uint32_t>(token) % 32)) & 1u) != 0;
}

struct TokenLogprob {
  int32_t token = 0;
  float logprob = 0.0f;
};

struct SampledToken {
  int32_t token = 0;
  // log-softmax of the raw logits (as vLLM reports); with an allowed-token
  // mask, of the masked raw logits (disallowed ids -inf), as vLLM does: it
  // applies the grammar bitmask to the logits before its sampler computes
  // the raw logprobs.
  float logprob = 0.0f;
  std::vector<TokenLogprob> top;  // top-k alternatives, best first (k = logprobs)
};

// Inputs for one sequence's sampling step.
struct SampleInput {
  std::span<const float> logits;  // [vocab], raw model output
  const SamplingParams* params = nullptr;
  std::span<const int32_t> prompt;      // prompt tokens (repetition penalty)
  std::span<const int32_t> output;      // tokens generated so far (all penalties)
  uint64_t seed = 0;                    // the request's seed
  std::span<const int32_t> suppressed;  // ids that must not be sampled now (EOS before min_tokens)
  std::span<const uint32_t> allowed;    // constrained decoding: token_allowed() bits; empty = all
};

// Samples the next token. The random draw depends only on (seed, output.size()).
// With `allowed` set, the disallowed ids are -inf from the start (before
// logprobs, bias, penalties and filters): the token is always an allowed one,
// and kNoAllowedToken when the mask allows no id of the row.
SampledToken sample(const SampleInput& in);

}  // namespace tandem::engine

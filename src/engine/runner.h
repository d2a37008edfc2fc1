// engine::Runner executes one model step on one device (docs/design.md, "The
// boundaries that matter"). The scheduler owns which KV blocks a sequence uses;
// the runner only reads and writes them.
//
// Threading: a Runner is used by exactly one thread (its worker) after
// construction. It is not thread-safe.
//
// Paged KV layout (shared by every backend, so blocks can be copied whole
// between workers, tiers and devices): the pool is `num_blocks()` blocks of
// `block_bytes()` bytes each. Block b holds, for every layer l in order, the
// K rows then the V rows of its `block_tokens` positions:
//   block[b] = [n_layers][2 (K, V)][block_tokens][n_kv_heads][head_dim]
// in the runner's KV dtype (float32 on the CPU, bf16 on CUDA). Position p of a
// sequence lives in block_table[p / block_tokens], slot p % block_tokens.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/model_spec.h"
#include "engine/sampling.h"

namespace tandem::engine {

// One sequence's part of a step.
struct SequenceStep {
  std::span<const int32_t> tokens;       // new tokens of this step (>= 1)
  int32_t start_pos = 0;                 // position of tokens[0]; earlier positions are in the cache
  std::span<const int32_t> block_table;  // block ids covering [0, start_pos + tokens.size())
  bool want_logits = true;               // return logits for the last new token
};

struct StepBatch {
  std::vector<SequenceStep> seqs;
};

// One want_logits sequence's sampling inputs for step_and_sample: a
// SampleInput without the logits (the runner supplies them). Spans must stay
// valid for the duration of the call.
struct SampleRow {
  const SamplingParams* params = nullptr;
  std::span<const int32_t> prompt;      // prompt tokens (repetition penalty)
  std::span<const int32_t> output;      // tokens generated so far
  uint64_t seed = 0;                    // the request's seed
  std::span<const int32_t> suppressed;  // ids that must not be sampled now
  // Constrained decoding: the allowed-token bitmask (sampling.h,
  // token_allowed); empty = every token. The memory behind it may be written
  // by step_and_sample's `before_sampling` hook: it is read only after that.
  std::span<const uint32_t> allowed;
};

// step_and_sample's hook: called exactly once per call, on the runner's
// thread, after the step's forward pass is enqueued on the device and before
// any row is sampled (and before the masks are read or uploaded), so a
// caller computes the next token masks on the CPU while the device runs the
// forward pass. It must fill the memory behind the rows' `allowed` spans and
// must not call the runner. Not called when the step fails before sampling
// could start. Empty: nothing to do.
using BeforeSampling = std::function<void()>;

class Runner {
 public:
  virtual ~Runner() = default;

  virtual const ModelSpec& spec() const = 0;
  virtual int block_tokens() const = 0;    // positions per KV block
  virtual int num_blocks() const = 0;      // capacity of the KV pool
  virtual size_t block_bytes() const = 0;  // bytes per block (layout above)

  // Runs one forward step: writes K/V of every new token into its block, and
  // writes logits for each sequence with want_logits, in batch order, as
  // row-major float32 [n_rows, spec().vocab] into `logits` (resized).
  // Fails with kInvalidRequest on a malformed batch (block id out of range,
  // table too short) and kDevice on a device fault; the cache content of the
  // touched blocks is then unspecified but other blocks are untouched.
  virtual Status step(const StepBatch& batch, std::vector<float>& logits) = 0;

  // step() followed by sampling: `rows` holds one SampleRow per want_logits
  // sequence, in batch order; `out` is resized to rows.size() and out[i] is
  // what engine::sample returns for row i's logits (same seeded semantics; a
  // device sampler may differ only where float rounding of a cumulative sum
  // decides the draw). Fails like step(), and with kInvalidRequest when
  // rows.size() differs from the want_logits count (nothing is run then).
  // The default runs step() into a runner-owned buffer, calls
  // `before_sampling`, then engine::sample on the host (runner.cpp); a device
  // backend overrides it to sample without copying logits back, calling the
  // hook while the forward pass runs. A row whose mask allows no token gets
  // kNoAllowedToken (the caller ends that sequence with an error).
  virtual Status step_and_sample(const StepBatch& batch, std::span<const SampleRow> rows,
                                 std::vector<SampledToken>& out, const BeforeSampling& before_sampling);

  // Copies whole blocks (src[i] -> dst[i]) within this pool. Fails with
  // kInvalidRequest, copying nothing, when the sizes differ or an id is
  // outside [0, num_blocks()).
  virtual Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) = 0;

  // Moving KV between workers (disaggregated prefill/decode) as whole blocks
  // of bytes in the layout above. export_blocks writes block ids[i] to
  // out[i * block_bytes(), (i + 1) * block_bytes()); import_blocks writes
  // those bytes into block ids[i]. Both fail with kInvalidRequest, touching
  // nothing, when an id is outside [0, num_blocks()) or the buffer is not
  // ids.size() * block_bytes() bytes. The default returns kUnsupported: the
  // CUDA runner does not move blocks yet, which is why the config refuses
  // prefill and decode roles on CUDA workers. The CPU runner copies memory.
  virtual Status export_blocks(std::span<const int32_t> ids, std::span<std::byte> out);
  virtual Status import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in);

 protected:
  // Checks rows.size() against the batch's want_logits count (step_and_sample).
  static Status check_sample_rows(const StepBatch& batch, std::span<const SampleRow> rows);
  // copy_blocks' argument checks, for every backend before it copies.
  Status check_copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) const;
  // export_blocks/import_blocks' argument checks (`what` names the call).
  Status check_block_bytes(const char* what, std::span<const int32_t> ids, size_t bytes) const;

 private:
  std::vector<float> sample_logits_;  // the default step_and_sample's logits
};

}  // namespace tandem::engine

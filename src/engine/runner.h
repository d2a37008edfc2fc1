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
#include <memory>
#include <span>
#include <vector>

#include "common/status.h"
#include "engine/kv_blob.h"
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
  // ids.size() * block_bytes() bytes. Both are synchronous: the bytes are in
  // `out` (export), or in the blocks for the next step (import), when they
  // return. The default returns kUnsupported. The CPU runner copies memory;
  // the CUDA runner copies through pinned staging buffers on a copy stream
  // ordered after its steps (a device fault: kDevice).
  virtual Status export_blocks(std::span<const int32_t> ids, std::span<std::byte> out);
  virtual Status import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in);

  // The same move without a detour through host memory where the backend can
  // avoid it (kv_blob.h). export_blob makes a blob whose block i is block
  // ids[i]; the backend chooses where it lives (the CUDA runner: with kCopy
  // its own GPU's staging pool while that has room, else host memory; with
  // kBorrow a view of its KV pool). With kCopy (or a blob that does not
  // borrows_source()) the source blocks may be overwritten by any later step
  // as soon as it returns (a backend orders its asynchronous copy before
  // them); a borrowing blob needs them unwritten until dropped. import_blob writes
  // blocks [first, first + ids.size()) of `blob` into blocks ids[i]; on
  // return they are ready for the next step and the blob may be dropped.
  // Both fail like export_blocks / import_blocks (kInvalidRequest, touching
  // nothing, for an id out of range, a blob of another block size, or a range
  // outside the blob). Defaults: export_blob makes a HostKvBlob through
  // export_blocks; import_blob reads a host blob's bytes, or copies any other
  // blob to the host first (KvBlob::copy_to_host), into import_blocks.
  virtual Result<std::unique_ptr<KvBlob>> export_blob(std::span<const int32_t> ids, BlobMode mode);
  virtual Status import_blob(std::span<const int32_t> ids, const KvBlob& blob, int first);

  // Host memory for the KV tiers (kv::HostTier): `bytes` bytes, or nullptr
  // when they cannot be had; released with free_host_memory. Tier blocks move
  // through export_blocks/import_blocks from and to this memory. The default
  // takes plain page-aligned memory (the CPU runner copies with memcpy); a
  // device backend overrides both to pin it (cudaHostAlloc) so those copies
  // run at the pinned rate. Worker thread, like every other call.
  virtual void* allocate_host_memory(size_t bytes);
  virtual void free_host_memory(void* p);

 protected:
  // Checks rows.size() against the batch's want_logits count (step_and_sample).
  static Status check_sample_rows(const StepBatch& batch, std::span<const SampleRow> rows);
  // copy_blocks' argument checks, for every backend before it copies.
  Status check_copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) const;
  // export_blocks/import_blocks' argument checks (`what` names the call).
  Status check_block_bytes(const char* what, std::span<const int32_t> ids, size_t bytes) const;
  // import_blob's argument checks: ids in range, the blob's block size, the range.
  Status check_blob_import(std::span<const int32_t> ids, const KvBlob& blob, int first) const;

 private:
  std::vector<float> sample_logits_;  // the default step_and_sample's logits
};

}  // namespace tandem::engine

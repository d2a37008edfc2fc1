// Persistent batch-1 decode kernel: every layer of one decode step (one new
// token of one sequence) in one launch, the LM head excluded (the runner runs
// the final RMSNorm and the LM-head GEMV after it).
//
// Grid: one CTA per SM (cooperative launch, so all CTAs are co-resident; the
// launch is captured in the decode CUDA graphs like any kernel). Phases are
// separated by a grid-wide barrier (a 64-bit arrival counter in global memory:
// fence + relaxed atomic add to arrive, ld.acquire.gpu + fence to leave). Per
// layer, five phases:
//   1. RMSNorm(x) -> this CTA's rows of the fused QKV product -> qkv (f32)
//   2. per (kv head, key split): bias + q/k RMSNorm + RoPE (rope_kv_kernels'
//      math), K/V of the new token into the paged pool (the split holding the
//      last position), attention over its key range -> unnormalized partials
//   3. combine the partials (bf16 like the attention kernel's output) -> this
//      CTA's rows of o-proj, x += (residual add)
//   4. RMSNorm(x) -> rows of gate/up -> gate_up (bf16)
//   5. SwiGLU(gate_up) -> rows of down, x += (residual add)
// Every CTA owns the same contiguous row range of a matrix in every layer
// (rows [m c / G, m (c + 1) / G)), which is one contiguous byte range of the
// row-major weight, so it is fetched with cp.async.bulk (global -> shared,
// completing on an mbarrier) one or two phases before it is needed: QKV and
// gate/up alternate in buffer 0, o-proj and down in buffer 1. HBM keeps
// streaming while CTAs compute or wait at a barrier; after a barrier a CTA reads
// only the small activation vector (L2).
// Accumulation as the unfused path: float32 residual stream, float32 dot
// products of bf16 weights with float32 inputs, qkv float32, gate_up and the
// attention output rounded to bf16.
//
// Memory model: activations written during the kernel (x, qkv, gate_up,
// partials, the new K/V) are read with ld.global.cg (L2, never a stale L1
// line); the barrier orders every CTA's writes before any CTA's later reads.
//
// Applies when the row slices of the largest matrices fit in shared memory
// (configure() returns kUnsupported naming the reason otherwise: then the
// runner keeps the per-kernel path). Threads: host functions on the runner's
// thread. One family, one .cu (decode_step_kernel.cu).
#pragma once

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <cstdint>

#include "common/status.h"
#include "engine/cuda/device_weights.h"
#include "engine/cuda/paged_attention.h"

namespace tandem::engine::cuda {

struct DecodeStepParams {
  // Model (device pointers).
  const DeviceLayer* layers = nullptr;    // device array [n_layers]
  const __nv_bfloat16* embed = nullptr;   // [vocab, hidden]
  const float* inv_freq = nullptr;        // [head_dim / 2]
  // Step metadata (StepPlan's packed array): one token, one sequence.
  const int32_t* ids = nullptr;           // [1]
  const int32_t* positions = nullptr;     // [1]
  const int32_t* kv_slots = nullptr;      // [1]
  const AttnSeq* seq = nullptr;           // [1]; context = start_pos + n_q (n_q == 1)
  const int32_t* block_tables = nullptr;  // the sequence's table at seq->table_offset
  // Activations.
  float* x = nullptr;                     // [hidden] residual stream out (input of the final norm)
  float* qkv = nullptr;                   // [qkv_dim] scratch
  __nv_bfloat16* gate_up = nullptr;       // [2 intermediate] scratch
  __nv_bfloat16* kv_pool = nullptr;       // runner.h layout
  int64_t block_elems = 0;
  // Workspace (workspace_bytes()): partials then the barrier counter. The
  // counter must be zero before the first launch and is left a multiple of
  // the grid after each; do not share it between concurrent launches.
  void* workspace = nullptr;
  // Shape.
  int n_layers = 0, hidden = 0, intermediate = 0, n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int block_tokens = 0;
  float eps = 1e-6f;                      // RMSNorm and q/k norm epsilon
  float scale = 0.0f;                     // softmax scale
  // Launch plan (configure()).
  int grid = 0;
  int buf0_bytes = 0, buf1_bytes = 0, act_bytes = 0, red_floats = 0;
  int act_pieces = 0;                     // 8-element pieces of the widest input vector
  size_t smem_bytes = 0;
  // Bench only (bench/decode/decode_step_bench.cu, built with
  // TANDEM_DECODE_STEP_PROFILE): [grid, n_layers, 5 phases, 4] timestamps, ns.
  unsigned long long* profile = nullptr;

  static constexpr int kThreads = 512;
  static constexpr int kMaxSplits = 32;   // key splits per kv head
  static constexpr int kSplitChunk = 64;  // positions per split before another split is added
  static constexpr int kMaxGroup = 8;     // query heads per kv head

  // Fills the launch plan for `device` (grid = SMs, shared-memory layout) and
  // sets the kernel's shared-memory attribute. kUnsupported with the reason
  // when the shape does not fit (head_dim not 64/128, GQA group > 8, slices
  // over the shared-memory limit, no cooperative launch, pre-sm_90).
  Status configure(int device);
  Status check() const;
  size_t workspace_bytes() const;
};
// Enqueues the kernel (cooperative launch) on `stream`.
Status launch(const DecodeStepParams& p, cudaStream_t stream);

// True only when TANDEM_CUDA_DECODE_KERNEL is "1" (read once per process).
// Opt-in: the first version measured slower than the per-kernel PDL path
// (bench/NOTES.md v9-decode: H200 Qwen3-0.6B 1.26 vs 0.93 ms per token), and
// the revision after it (parallel split combine, one-pass RMSNorm, block
// table in shared memory) has not been run on a GPU yet.
bool decode_step_kernel_enabled();

}  // namespace tandem::engine::cuda

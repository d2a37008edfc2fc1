// engine::cuda::make_cuda_runner: the CUDA backend of engine::Runner (see
// runner.h for the step contract and the paged KV layout, kept exactly, with
// bf16 K/V). No CUDA type appears here: the rest of the process sees a Runner.
//
// What it does: weights in bf16 on the device with Q/K/V and gate/up fused at
// load; matrix products through cuBLASLt (bf16 in, fp32 accumulate, the
// residual add in the epilogue on a float32 residual stream); own kernels for
// embedding, RMSNorm, RoPE (+ bias, q/k norm) fused with the KV write, SwiGLU
// and paged attention (tensor cores, GQA-shared K/V loads, split-KV); decode
// steps (every sequence one token, all want logits) replay a CUDA graph
// captured per batch-size bucket; step() returns logits to the host as float32.
//
// step_and_sample() runs the same step and samples on the device from the
// logits buffer (cuda_sampler.h: engine::sample's semantics), so only tokens
// and logprobs come back; rows asking more than 20 logprobs use the host path.
//
// Memory plan at construction: weights, activations for max_batch_tokens
// tokens and max_running logits rows, then the KV pool = gpu_memory_fraction
// of the device memory still free (minus a small reserve for cuBLASLt and
// graphs, and minus the footprint of later_workers_on_device more workers
// like this one); the block count and the longest context that fits are
// logged. No room for one block: kDevice saying what took the memory.
//
// KV hand-off between workers (export_blocks / import_blocks through pinned
// staging, export_blob / import_blob device to device or peer to peer):
// kv_transfer.h.
//
// Threads: built on any thread, then used by one worker thread (Runner
// contract); every call selects `device` first. Blobs it exported may be
// read and dropped on other threads (kv_blob.h). Failure: bad options or spec
// -> kInvalidRequest; weights that do not match the spec -> kMalformedFile
// naming the tensor; head_dim other than 64/128 -> kUnsupported; OOM or any
// CUDA/cuBLASLt fault -> kDevice with the call that failed. Nothing aborts.
#pragma once

#include <cstdint>
#include <memory>

#include "common/engine_tuning.h"
#include "common/status.h"
#include "engine/model_spec.h"
#include "engine/model_weights.h"
#include "engine/runner.h"

namespace tandem::engine::cuda {

struct CudaRunnerOptions {
  int device = 0;                    // CUDA device ordinal
  int block_tokens = 16;             // positions per KV block
  double gpu_memory_fraction = 0.9;  // of the memory free after weights and activations, for the KV pool
  int max_batch_tokens = 8192;       // new tokens per step (prefill chunk + decodes)
  int max_running = 256;             // sequences per step (also logits rows)
  bool cuda_graphs = true;           // replay decode steps from captured graphs
  int max_blocks = 0;                // > 0: cap the KV pool at this many blocks (tests)
  // Workers still to be built on this device after this one (each with its
  // own weights): the KV pool is sized from the free memory less that many
  // copies of this runner's own footprint (weights + activations), so every
  // worker's pool gets the same share (main/cuda_worker_plan.h).
  int later_workers_on_device = 0;
  // KV hand-off (kv_transfer.h): device blob staging memory outstanding at
  // most, in bytes; < 0: derived, min(2 GiB, KV pool / 8); 0: blobs in host memory.
  int64_t kv_staging_bytes = -1;
  bool peer_copy_same_device = false;  // import same-GPU blobs with cudaMemcpyPeerAsync (tests of the peer path)
  CudaTuning tuning;                   // kernel choices ([engine.cuda], common/engine_tuning.h)
};

// `weights` (bf16, f16 or f32 host tensors, HF conventions) is moved in; each
// tensor's host memory is released once uploaded.
Result<std::unique_ptr<Runner>> make_cuda_runner(const ModelSpec& spec, ModelWeights weights,
                                                 const CudaRunnerOptions& options);

}  // namespace tandem::engine::cuda

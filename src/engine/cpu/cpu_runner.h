// engine::cpu::CpuRunner: the reference Llama-family forward pass on the CPU
// (float32 math), implementing engine::Runner (see runner.h for the step and
// paged-KV contracts). It is the oracle the CUDA runner is tested against, so
// it favours clarity; speed comes from batching every matrix product over all
// tokens of a step (each weight row is read once per step) and an AVX2 inner
// loop (kernels.h).
//
// Threads: one caller thread (the worker), as Runner requires; the runner
// owns a persistent pool of `threads` threads (the caller counts as one).
// Memory: weights as WeightMatrix (f16 by default, see CpuRunnerOptions), the
// KV pool of num_blocks * block_bytes() bytes, float32, allocated up front.
// Determinism: logits of a sequence do not depend on what else is in the
// batch, on how its prompt was chunked, or on the thread count (every
// reduction has a fixed order and each value is computed by one task).
#pragma once

#include <memory>
#include <vector>

#include "common/engine_tuning.h"
#include "common/status.h"
#include "engine/cpu/kernels.h"
#include "engine/cpu/thread_pool.h"
#include "engine/cpu/weight_matrix.h"
#include "engine/model_spec.h"
#include "engine/model_weights.h"
#include "engine/runner.h"

namespace tandem::engine::cpu {

struct CpuRunnerOptions {
  int threads = 0;        // pool size including the caller; 0 = hardware_concurrency
  int block_tokens = 16;  // positions per KV block (>= 1)
  int num_blocks = 0;     // KV pool capacity in blocks (>= 1)
  // Storage of the weight matrices (the math stays float32): kF16 halves the
  // memory traffic of decode; kF32 keeps loader values bit-exact; kBF16 is
  // what CUDA uses. 16-bit inputs are kept as they are unless kF32 is asked.
  DType weight_storage = DType::kF16;
  CpuTuning tuning;  // kernel table ([engine.cpu], common/engine_tuning.h)
};

class CpuRunner final : public Runner {
 public:
  const ModelSpec& spec() const override { return spec_; }
  int block_tokens() const override { return block_tokens_; }
  int num_blocks() const override { return num_blocks_; }
  size_t block_bytes() const override { return block_floats_ * sizeof(float); }
  Status step(const StepBatch& batch, std::vector<float>& logits) override;
  Status copy_blocks(std::span<const int32_t> src, std::span<const int32_t> dst) override;
  Status export_blocks(std::span<const int32_t> ids, std::span<std::byte> out) override;
  Status import_blocks(std::span<const int32_t> ids, std::span<const std::byte> in) override;

  int threads() const { return pool_.size(); }
  // Name of the kernel table in use ("avx2" or "portable"), for logs and tests.
  const char* kernels_name() const { return kernels_.name; }
  // Raw KV pool, [num_blocks][block_floats] (runner.h layout), for tests and
  // block transfer.
  const float* kv_data() const { return kv_.data(); }

 private:
  friend Result<std::unique_ptr<Runner>> make_cpu_runner(const ModelSpec&, ModelWeights, const CpuRunnerOptions&);
  struct Layer {
    std::vector<float> attn_norm;  // [hidden]
    WeightMatrix wqkv;             // [(n_heads + 2 n_kv_heads) head_dim, hidden]
    std::vector<float> bqkv;       // [(n_heads + 2 n_kv_heads) head_dim] or empty
    std::vector<float> q_norm;     // [head_dim] or empty
    std::vector<float> k_norm;     // [head_dim] or empty
    WeightMatrix wo;               // [hidden, n_heads head_dim]
    std::vector<float> ffn_norm;   // [hidden]
    WeightMatrix w_gate_up;        // [2 intermediate, hidden]: gate rows, then up rows
    WeightMatrix w_down;           // [hidden, intermediate]
  };
  // One new token of the step.
  struct TokenRef {
    int seq;      // index in the batch
    int32_t pos;  // absolute position
    int32_t id;   // token id
  };

  explicit CpuRunner(const ModelSpec& spec, const CpuRunnerOptions& options);
  Status validate(const StepBatch& batch) const;
  void plan(const StepBatch& batch);
  void layer_forward(const StepBatch& batch, int l);
  void attention(const StepBatch& batch, int l);
  void matmul(const WeightMatrix& w, const float* x, int n_tokens, float* y, bool accumulate);
  float* kv_row(int32_t block, int layer, int which, int slot);

  ModelSpec spec_;
  int block_tokens_;
  int num_blocks_;
  size_t block_floats_ = 0;  // n_layers * 2 * block_tokens * n_kv_heads * head_dim
  ThreadPool pool_;
  const Kernels& kernels_;

  WeightMatrix embed_;    // [vocab, hidden]
  WeightMatrix lm_head_;  // [vocab, hidden]; empty when tied (embed_ is used)
  std::vector<Layer> layers_;
  std::vector<float> final_norm_;
  std::vector<double> inv_freq_;  // [head_dim / 2]
  std::vector<float> kv_;         // the KV pool

  // Per-step scratch (sizes follow the step's token count T).
  std::vector<TokenRef> tokens_;
  std::vector<float> rope_cos_, rope_sin_;  // [T, head_dim / 2]
  std::vector<float> x_;                    // residual stream [T, hidden]
  std::vector<float> xn_;                   // normed input [T, hidden]
  std::vector<float> qkv_;                  // [T, (n_heads + 2 n_kv_heads) head_dim]
  std::vector<float> attn_;                 // [T, n_heads head_dim]
  std::vector<float> gate_up_;              // [T, 2 intermediate]
  std::vector<float> act_;                  // [T, intermediate]
  std::vector<std::vector<float>> scores_;  // per pool thread: [group, context]
  std::vector<int> logit_tokens_;           // token index of each logits row
  std::vector<float> final_x_;              // [rows, hidden]
};

// Builds a CPU runner. `weights` is moved in (its tensors are converted and
// released). Fails with kMalformedFile naming the tensor whose shape does not
// match `spec`, kInvalidRequest on bad options or spec, kDevice when the KV
// pool cannot be allocated.
Result<std::unique_ptr<Runner>> make_cpu_runner(const ModelSpec& spec, ModelWeights weights,
                                                const CpuRunnerOptions& options);

}  // namespace tandem::engine::cpu

// The CPU twins of the CUDA ops: the CPU backend's code on the checks' data.
// The named layer ops (engine/cpu/layer_ops.h: rms_norm, silu_mul, rope_*)
// are called by the checks directly; what CpuRunner computes inline is here,
// from the same pieces and in the same order as cpu_runner.cpp:
//   - cpu_matmul: CpuRunner::matmul (the kernel table's matmul_rows over bf16
//     weight rows, float32 activations and accumulation, rows split in tasks);
//   - cpu_qkv_post: the QKV post-processing of CpuRunner::layer_forward (bias,
//     per-head q/k rms_norm, rope_apply with rope_cos_sin's angles);
//   - cpu_attention: CpuRunner::attention, which is a private member: the same
//     loop over (token, KV head), the kernel table's dot and axpy, softmax
//     with a double sum, here over a KV pool given as float values.
// Threads: the test thread; work is spread over host_pool().
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace tandem::gpu_ops {

// y[t, r] (+)= sum_i w[r, i] * x[t, i], t < n, r < m: w bf16 [m, k], x float [n, k], y float [n, m].
void cpu_matmul(std::span<const uint16_t> w_bf16, int m, int k, std::span<const float> x, int n, std::span<float> y,
                bool accumulate);

struct QkvPost {
  std::span<const float> bias;    // [(n_heads + 2 n_kv_heads) head_dim], or empty
  std::span<const float> q_norm;  // [head_dim], or empty (then k_norm is empty too)
  std::span<const float> k_norm;  // [head_dim], or empty
  float eps = 1e-6f;
  int n_heads = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
};
// One token's q | k | v row, in place: + bias, q/k RMSNorm per head, RoPE of q and k at `pos`.
void cpu_qkv_post(float* row, const QkvPost& p, const std::vector<double>& inv_freq, int64_t pos);

// A KV pool in runner.h's layout (block = [layers][K, V][block_tokens][n_kv_heads][head_dim]) as float values.
struct KvPoolView {
  std::span<const float> values;
  int64_t block_elems = 0;
  int block_tokens = 0;
  int n_kv_heads = 0;
  int head_dim = 0;
  int layer = 0;
  // The [n_kv_heads, head_dim] K (which = 0) or V (which = 1) row of one slot.
  const float* row(int32_t block, int which, int slot) const;
};

struct SeqRef {
  int start_pos = 0;                 // cached positions before the new tokens
  int n_q = 0;                       // new tokens
  std::vector<int32_t> block_table;  // covers [0, start_pos + n_q)
};

// Causal attention of every new token (token j of a sequence sits at position start_pos + j and sees
// positions [0, start_pos + j]); q, out: [n_tokens, n_heads, head_dim], tokens in sequence order.
void cpu_attention(std::span<const float> q, const KvPoolView& kv, std::span<const SeqRef> seqs, int n_heads,
                   std::span<float> out);

}  // namespace tandem::gpu_ops

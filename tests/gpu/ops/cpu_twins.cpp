#include "gpu/ops/cpu_twins.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "engine/cpu/kernels.h"
#include "engine/cpu/layer_ops.h"
#include "gpu/ops/op_check.h"

namespace tandem::gpu_ops {

void cpu_matmul(std::span<const uint16_t> w_bf16, int m, int k, std::span<const float> x, int n, std::span<float> y,
                bool accumulate) {
  if (w_bf16.size() != static_cast<size_t>(m) * k || x.size() < static_cast<size_t>(n) * k ||
      y.size() < static_cast<size_t>(n) * m) {
    throw std::runtime_error("cpu_matmul: operand sizes do not match [m, k] x [n, k]");
  }
  engine::cpu::MatmulArgs base;
  base.w = reinterpret_cast<const std::byte*>(w_bf16.data());
  base.w_type = engine::DType::kBF16;
  base.w_row_bytes = static_cast<size_t>(k) * sizeof(uint16_t);
  base.k = k;
  base.x = x.data();
  base.x_stride = static_cast<size_t>(k);
  base.y = y.data();
  base.y_stride = static_cast<size_t>(m);
  base.n_tokens = n;
  base.accumulate = accumulate;
  const engine::cpu::Kernels& kernels = engine::cpu::select_kernels(tandem::CpuKernels::kAuto);
  constexpr int kRowsPerTask = 96;  // whole register tiles (multiples of 24), as CpuRunner's tasks
  host_pool().parallel_for((m + kRowsPerTask - 1) / kRowsPerTask, [&](int task, int) {
    engine::cpu::MatmulArgs a = base;
    a.row_begin = task * kRowsPerTask;
    a.row_end = std::min(m, a.row_begin + kRowsPerTask);
    kernels.matmul_rows(a);
  });
}

void cpu_qkv_post(float* row, const QkvPost& p, const std::vector<double>& inv_freq, int64_t pos) {
  const int hd = p.head_dim;
  const size_t qkv_dim = static_cast<size_t>(p.n_heads + 2 * p.n_kv_heads) * hd;
  float* q = row;
  float* k = q + static_cast<size_t>(p.n_heads) * hd;
  if (!p.bias.empty()) {
    for (size_t i = 0; i < qkv_dim; ++i) q[i] += p.bias[i];
  }
  std::vector<float> c(static_cast<size_t>(hd / 2)), s(static_cast<size_t>(hd / 2));
  engine::cpu::rope_cos_sin(inv_freq, pos, c.data(), s.data());
  for (int h = 0; h < p.n_heads; ++h) {
    if (!p.q_norm.empty()) engine::cpu::rms_norm(q + h * hd, p.q_norm.data(), p.eps, hd, q + h * hd);
    engine::cpu::rope_apply(q + h * hd, c.data(), s.data(), hd);
  }
  for (int h = 0; h < p.n_kv_heads; ++h) {
    if (!p.k_norm.empty()) engine::cpu::rms_norm(k + h * hd, p.k_norm.data(), p.eps, hd, k + h * hd);
    engine::cpu::rope_apply(k + h * hd, c.data(), s.data(), hd);
  }
}

const float* KvPoolView::row(int32_t block, int which, int slot) const {
  const int64_t per_kv = static_cast<int64_t>(block_tokens) * n_kv_heads * head_dim;
  return values.data() + block * block_elems + (static_cast<int64_t>(layer) * 2 + which) * per_kv +
         static_cast<int64_t>(slot) * n_kv_heads * head_dim;
}

void cpu_attention(std::span<const float> q, const KvPoolView& kv, std::span<const SeqRef> seqs, int n_heads,
                   std::span<float> out) {
  struct TokenRef {
    int seq;
    int pos;
  };
  std::vector<TokenRef> tokens;
  for (size_t i = 0; i < seqs.size(); ++i) {
    for (int j = 0; j < seqs[i].n_q; ++j) tokens.push_back({static_cast<int>(i), seqs[i].start_pos + j});
  }
  const int hd = kv.head_dim;
  const int kvh = kv.n_kv_heads;
  const int group = n_heads / kvh;
  const int T = static_cast<int>(tokens.size());
  if (q.size() != static_cast<size_t>(T) * n_heads * hd || out.size() != q.size()) {
    throw std::runtime_error("cpu_attention: q / out sizes do not match the sequences");
  }
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const engine::cpu::Kernels& kernels = engine::cpu::select_kernels(tandem::CpuKernels::kAuto);
  const int bt = kv.block_tokens;
  host_pool().parallel_for(T * kvh, [&](int task, int) {
    const int t = task / kvh;
    const int g = task % kvh;
    const TokenRef& tok = tokens[t];
    const std::vector<int32_t>& table = seqs[tok.seq].block_table;
    const int ctx = tok.pos + 1;
    std::vector<float> scores(static_cast<size_t>(group) * ctx);  // [group, ctx]
    const float* qg = q.data() + static_cast<size_t>(t) * n_heads * hd + static_cast<size_t>(g) * group * hd;
    for (int p = 0; p < ctx; ++p) {
      const float* k = kv.row(table[p / bt], 0, p % bt) + static_cast<size_t>(g) * hd;
      for (int j = 0; j < group; ++j)
        scores[static_cast<size_t>(j) * ctx + p] = kernels.dot(qg + j * hd, k, hd) * scale;
    }
    for (int j = 0; j < group; ++j) engine::cpu::softmax_in_place(scores.data() + static_cast<size_t>(j) * ctx, ctx);
    float* o = out.data() + static_cast<size_t>(t) * n_heads * hd + static_cast<size_t>(g) * group * hd;
    std::fill(o, o + static_cast<size_t>(group) * hd, 0.0f);
    for (int p = 0; p < ctx; ++p) {
      const float* v = kv.row(table[p / bt], 1, p % bt) + static_cast<size_t>(g) * hd;
      for (int j = 0; j < group; ++j) kernels.axpy(scores[static_cast<size_t>(j) * ctx + p], v, o + j * hd, hd);
    }
  });
}

}  // namespace tandem::gpu_ops

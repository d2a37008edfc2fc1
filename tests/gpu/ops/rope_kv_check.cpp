// rope_kv (engine/cuda/rope_kv_kernels.h): QKV bias, q/k RMSNorm, RoPE and the K/V write into the paged
// pool, against CpuRunner::layer_forward's QKV post-processing (cpu_qkv_post: engine::cpu::rms_norm,
// rope_cos_sin, rope_apply) at every token's position. Checked: the rotated q; K and V in the token's block
// slot of layer 1 of a two-layer pool (block ids shuffled); every other pool value unchanged.
// The kernel takes the frequencies as input: they come from engine::cpu::rope_inv_freq (rounded to float,
// as the CUDA runner uploads its own), so the scaling cases check the kernel on each scaling's frequencies.
#include <algorithm>
#include <numeric>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "engine/cpu/layer_ops.h"
#include "engine/cuda/rope_kv_kernels.h"
#include "gpu/ops/cpu_twins.h"
#include "gpu/ops/model_shapes.h"
#include "gpu/ops/op_check.h"

namespace tandem::gpu_ops {
namespace {

using engine::cuda::PdlMode;
using engine::cuda::RopeKvParams;

// Bounds per (token, head) row of head_dim values.
constexpr Tolerance kRopeKv{8e-3, 4e-3,
                            "q, k, v rounded to bf16 (<= 2^-8 relative); the GPU's fp32 angle pos * inv_freq "
                            "(error <= pos 2^-23 rad, 1e-3 at pos 8000) vs the CPU's double angle"};

struct RopeKvCase {
  Model model;
  const char* rope_name;  // the model's own scaling, or a variant on its shape
  engine::RopeConfig rope;
  bool f32_input;  // float32 QKV (decode GEMV path) or bf16 (cuBLASLt prefill path)
  std::string label() const {
    return std::string(model_name(model)) + ".rope_" + rope_name + (f32_input ? "_qkv_f32" : "_qkv_bf16");
  }
};

void PrintTo(const RopeKvCase& c, std::ostream* os) { *os << c.label(); }

// Case table: every model with its own RoPE (Qwen3: q/k norm; Llama-3.1: llama3 scaling; Qwen2.5: QKV bias)
// and SmolLM2's shape with linear scaling (factor 4), each from float32 and bf16 QKV.
std::vector<RopeKvCase> rope_kv_cases() {
  engine::RopeConfig linear = model_spec(Model::kSmolLM2_135M).rope;
  linear.scaling = engine::RopeScalingType::kLinear;
  linear.factor = 4.0f;
  const std::vector<std::pair<Model, std::pair<const char*, engine::RopeConfig>>> ropes = {
      {Model::kQwen3_0_6B, {"default", model_spec(Model::kQwen3_0_6B).rope}},
      {Model::kLlama31_8B, {"llama3", model_spec(Model::kLlama31_8B).rope}},
      {Model::kSmolLM2_135M, {"default", model_spec(Model::kSmolLM2_135M).rope}},
      {Model::kSmolLM2_135M, {"linear4", linear}},
      {Model::kQwen25_0_5B, {"default", model_spec(Model::kQwen25_0_5B).rope}},
  };
  std::vector<RopeKvCase> cases;
  for (const auto& [model, rope] : ropes) {
    for (bool f32 : {true, false}) cases.push_back({model, rope.first, rope.second, f32});
  }
  return cases;
}

class RopeKvCheck : public OpTest<RopeKvCase> {};

TEST_P(RopeKvCheck, MatchesCpuQkvPost) {
  const RopeKvCase& c = GetParam();
  const engine::ModelSpec& s = model_spec(c.model);
  const int hd = s.head_dim, nh = s.n_heads, kvh = s.n_kv_heads;
  const int qkv_dim = (nh + 2 * kvh) * hd;
  constexpr int kBlockTokens = 16, kLayer = 1;
  const uint64_t seed = seed_of(c.label());

  // A step of decodes at block edges, a prefill chunk crossing two block boundaries, a late decode and a
  // two-token step: (start_pos, new tokens).
  const std::vector<std::pair<int, int>> seqs = {{15, 1}, {16, 1}, {100, 40}, {7999, 1}, {3000, 2}};
  int n_blocks = 0;
  for (auto [start, n_q] : seqs) n_blocks += (start + n_q + kBlockTokens - 1) / kBlockTokens;
  n_blocks += 3;  // spares no token writes
  std::vector<int32_t> ids(n_blocks);
  std::iota(ids.begin(), ids.end(), 0);
  const std::vector<float> order = random_f32(ids.size(), 0.0f, 1.0f, seed + 1);
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) { return order[a] < order[b]; });
  std::vector<int32_t> positions, slots;
  int next_block = 0;
  for (auto [start, n_q] : seqs) {
    const int needed = (start + n_q + kBlockTokens - 1) / kBlockTokens;
    std::vector<int32_t> table(ids.begin() + next_block, ids.begin() + next_block + needed);
    next_block += needed;
    for (int j = 0; j < n_q; ++j) {
      const int pos = start + j;
      positions.push_back(pos);
      slots.push_back(table[pos / kBlockTokens] * kBlockTokens + pos % kBlockTokens);
    }
  }
  const int T = static_cast<int>(positions.size());

  // Inputs: the product's QKV rows, bias, q/k norm weights, frequencies, a pool of random values.
  std::vector<float> qkv = random_f32(static_cast<size_t>(T) * qkv_dim, -2.0f, 2.0f, seed + 2);
  const std::vector<uint16_t> qkv_bits = f32_to_bf16(qkv);
  if (!c.f32_input) qkv = bf16_to_f32(qkv_bits);  // the CPU twin sees the bf16 product's values
  const std::vector<uint16_t> bias = s.qkv_bias ? random_bf16(qkv_dim, -0.5f, 0.5f, seed + 3) : std::vector<uint16_t>{};
  const std::vector<uint16_t> q_norm = s.qk_norm ? random_bf16(hd, 0.5f, 1.5f, seed + 4) : std::vector<uint16_t>{};
  const std::vector<uint16_t> k_norm = s.qk_norm ? random_bf16(hd, 0.5f, 1.5f, seed + 5) : std::vector<uint16_t>{};
  const std::vector<double> inv_freq = engine::cpu::rope_inv_freq(hd, c.rope);
  const std::vector<float> inv_freq_f(inv_freq.begin(), inv_freq.end());
  const int64_t kv_row = static_cast<int64_t>(kvh) * hd;
  const int64_t block_elems = static_cast<int64_t>(s.n_layers) * 2 * kBlockTokens * kv_row;
  const std::vector<uint16_t> pool = random_bf16(static_cast<size_t>(n_blocks * block_elems), -1.0f, 1.0f, seed + 6);

  const DeviceArray<float> d_qkv(qkv);
  const DeviceArray<uint16_t> d_qkv_bf16(qkv_bits);
  const DeviceArray<uint16_t> d_bias(bias), d_q_norm(q_norm), d_k_norm(k_norm);
  const DeviceArray<float> d_inv_freq(inv_freq_f);
  const DeviceArray<int32_t> d_positions(positions), d_slots(slots);
  DeviceArray<uint16_t> d_q(std::vector<uint16_t>(static_cast<size_t>(T) * nh * hd, kBf16NaN));
  DeviceArray<uint16_t> d_pool(pool);
  RopeKvParams p;
  p.qkv = c.f32_input ? d_qkv.get() : nullptr;
  p.qkv_bf16 = c.f32_input ? nullptr : bf16_ptr(d_qkv_bf16);
  p.bias = s.qkv_bias ? bf16_ptr(d_bias) : nullptr;
  p.q_norm = s.qk_norm ? bf16_ptr(d_q_norm) : nullptr;
  p.k_norm = s.qk_norm ? bf16_ptr(d_k_norm) : nullptr;
  p.inv_freq = d_inv_freq.get();
  p.positions = d_positions.get();
  p.kv_slots = d_slots.get();
  p.q_out = bf16_ptr(d_q);
  p.kv_pool = bf16_ptr(d_pool);
  p.block_elems = block_elems;
  p.layer = kLayer;
  p.n_tokens = T;
  p.n_heads = nh;
  p.n_kv_heads = kvh;
  p.head_dim = hd;
  p.block_tokens = kBlockTokens;
  p.eps = s.rms_eps;
  p.pdl = c.f32_input ? PdlMode::kTriggerAfterWait : PdlMode::kOff;  // as the runner launches each path
  require(engine::cuda::launch(p, nullptr), "rope_kv launch");
  sync("rope_kv");

  // CPU twin, token by token.
  const std::vector<float> bias_f = bf16_to_f32(bias), q_norm_f = bf16_to_f32(q_norm), k_norm_f = bf16_to_f32(k_norm);
  QkvPost post;
  post.bias = bias_f;
  post.q_norm = q_norm_f;
  post.k_norm = k_norm_f;
  post.eps = s.rms_eps;
  post.n_heads = nh;
  post.n_kv_heads = kvh;
  post.head_dim = hd;
  std::vector<float> want = qkv;
  for (int t = 0; t < T; ++t)
    cpu_qkv_post(want.data() + static_cast<size_t>(t) * qkv_dim, post, inv_freq, positions[t]);

  // q, and K / V read back from each token's slot; the rest of the pool must be as it was.
  const std::vector<float> got_q = bf16_to_f32(d_q.download());
  const std::vector<uint16_t> got_pool = d_pool.download();
  std::vector<float> want_q, want_k, want_v, got_k, got_v;
  std::vector<uint8_t> written(pool.size(), 0);
  for (int t = 0; t < T; ++t) {
    const float* row = want.data() + static_cast<size_t>(t) * qkv_dim;
    want_q.insert(want_q.end(), row, row + static_cast<size_t>(nh) * hd);
    want_k.insert(want_k.end(), row + static_cast<size_t>(nh) * hd, row + static_cast<size_t>(nh) * hd + kv_row);
    want_v.insert(want_v.end(), row + static_cast<size_t>(nh) * hd + kv_row, row + qkv_dim);
    const int64_t block = slots[t] / kBlockTokens, slot = slots[t] % kBlockTokens;
    for (int which = 0; which < 2; ++which) {
      const int64_t at = block * block_elems + ((kLayer * 2 + which) * kBlockTokens + slot) * kv_row;
      const std::vector<float> vals = bf16_to_f32(std::span<const uint16_t>(got_pool.data() + at, kv_row));
      (which == 0 ? got_k : got_v).insert((which == 0 ? got_k : got_v).end(), vals.begin(), vals.end());
      std::fill(written.begin() + at, written.begin() + at + kv_row, 1);
    }
  }
  std::vector<uint16_t> rest_got, rest_before;
  for (size_t i = 0; i < pool.size(); ++i) {
    if (written[i] == 0) {
      rest_got.push_back(got_pool[i]);
      rest_before.push_back(pool[i]);
    }
  }
  const std::string name = c.label() + " [" + std::to_string(T) + " tokens, pos <= 7999]";
  expect_close(name + " q", got_q, want_q, static_cast<size_t>(hd), kRopeKv);
  expect_close(name + " K in its block slot", got_k, want_k, static_cast<size_t>(hd), kRopeKv);
  expect_close(name + " V in its block slot", got_v, want_v, static_cast<size_t>(hd), kRopeKv);
  expect_untouched(name + " rest of the pool", rest_got, rest_before);
}

INSTANTIATE_TEST_SUITE_P(RopeKv, RopeKvCheck, ::testing::ValuesIn(rope_kv_cases()),
                         [](const ::testing::TestParamInfo<RopeKvCase>& info) {
                           return test_name(info.param.label());
                         });

}  // namespace
}  // namespace tandem::gpu_ops

// CpuRunner against a straightforward double-precision forward pass written
// here from the model formulas (contiguous K/V, no paging, no batching), for
// every architecture feature of ModelSpec; plus batch invariance, chunked
// prefill, block copies and batch validation.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>

#include "engine/cpu/cpu_runner.h"

namespace tandem::engine::cpu {
namespace {

Tensor random_tensor(std::vector<int64_t> shape, std::mt19937& rng, float scale, float offset = 0.0f) {
  Tensor t;
  t.dtype = DType::kF32;
  t.shape = std::move(shape);
  t.data.resize(static_cast<size_t>(t.numel()) * 4);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = offset + scale * d(rng);
  return t;
}

ModelSpec small_spec(Architecture arch) {
  ModelSpec s;
  s.arch = arch;
  s.n_layers = 2;
  s.hidden = 48;
  s.n_heads = 4;
  s.n_kv_heads = 2;
  s.head_dim = 12;
  s.intermediate = 72;
  s.vocab = 97;
  s.max_position = 256;
  s.rms_eps = 1e-5f;
  s.rope.theta = 10000.0f;
  return s;
}

ModelWeights random_weights(const ModelSpec& s, uint32_t seed) {
  std::mt19937 rng(seed);
  ModelWeights w;
  const int64_t q = s.n_heads * s.head_dim, kv = s.n_kv_heads * s.head_dim;
  w.embed = random_tensor({s.vocab, s.hidden}, rng, 1.0f);
  for (int l = 0; l < s.n_layers; ++l) {
    LayerWeights L;
    const float ws = 1.0f / std::sqrt(static_cast<float>(s.hidden));
    L.attn_norm = random_tensor({s.hidden}, rng, 0.1f, 1.0f);
    L.wq = random_tensor({q, s.hidden}, rng, ws);
    L.wk = random_tensor({kv, s.hidden}, rng, ws);
    L.wv = random_tensor({kv, s.hidden}, rng, ws);
    if (s.qkv_bias) {
      L.bq = random_tensor({q}, rng, 0.1f);
      L.bk = random_tensor({kv}, rng, 0.1f);
      L.bv = random_tensor({kv}, rng, 0.1f);
    }
    if (s.qk_norm) {
      L.q_norm = random_tensor({s.head_dim}, rng, 0.1f, 1.0f);
      L.k_norm = random_tensor({s.head_dim}, rng, 0.1f, 1.0f);
    }
    L.wo = random_tensor({s.hidden, q}, rng, 1.0f / std::sqrt(static_cast<float>(q)));
    L.ffn_norm = random_tensor({s.hidden}, rng, 0.1f, 1.0f);
    L.w_gate = random_tensor({s.intermediate, s.hidden}, rng, ws);
    L.w_up = random_tensor({s.intermediate, s.hidden}, rng, ws);
    L.w_down = random_tensor({s.hidden, s.intermediate}, rng, 1.0f / std::sqrt(static_cast<float>(s.intermediate)));
    w.layers.push_back(std::move(L));
  }
  w.final_norm = random_tensor({s.hidden}, rng, 0.1f, 1.0f);
  if (!s.tied_embeddings)
    w.lm_head = random_tensor({s.vocab, s.hidden}, rng, 1.0f / std::sqrt(static_cast<float>(s.hidden)));
  return w;
}

// ---- Reference: the formulas, in double, one sequence, every position. ----
using Vec = std::vector<double>;

Vec matvec(const Tensor& w, const Vec& x) {
  const int64_t rows = w.shape[0], cols = w.shape[1];
  Vec y(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) y[r] += static_cast<double>(w.f32()[r * cols + c]) * x[c];
  }
  return y;
}

Vec rmsnorm(const Vec& x, const float* w, double eps) {
  double ms = 0.0;
  for (double v : x) ms += v * v;
  ms /= x.size();
  Vec y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = x[i] / std::sqrt(ms + eps) * w[i];
  return y;
}

// Hugging Face's rope_init functions, written with the HF variable names.
double inv_freq_ref(const ModelSpec& s, int i) {
  const double base = 1.0 / std::pow(static_cast<double>(s.rope.theta), 2.0 * i / s.head_dim);
  const RopeConfig& r = s.rope;
  if (r.scaling == RopeScalingType::kLinear) return base / r.factor;
  if (r.scaling != RopeScalingType::kLlama3) return base;
  const double low_freq_wavelen = r.original_max_position / r.low_freq_factor;
  const double high_freq_wavelen = r.original_max_position / r.high_freq_factor;
  const double wavelen = 2 * std::numbers::pi / base;
  const double inv_freq_llama = wavelen > low_freq_wavelen ? base / r.factor : base;
  const double smooth_factor =
      (r.original_max_position / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
  const double smoothed = (1 - smooth_factor) * inv_freq_llama / r.factor + smooth_factor * inv_freq_llama;
  const bool is_medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
  return is_medium ? smoothed : inv_freq_llama;
}

// Rotate-half RoPE as a complex rotation of (x[i], x[i + d/2]).
void rope_ref(const ModelSpec& s, double* x, int pos) {
  const int h = s.head_dim / 2;
  for (int i = 0; i < h; ++i) {
    const double a = pos * inv_freq_ref(s, i);
    const double re = x[i], im = x[i + h];
    x[i] = re * std::cos(a) - im * std::sin(a);
    x[i + h] = re * std::sin(a) + im * std::cos(a);
  }
}

// Logits [n_tokens][vocab] at every position of `tokens`.
std::vector<Vec> reference_logits(const ModelSpec& s, const ModelWeights& w, const std::vector<int32_t>& tokens) {
  const int n = static_cast<int>(tokens.size());
  const int hd = s.head_dim, group = s.n_heads / s.n_kv_heads;
  std::vector<Vec> x(n);
  for (int t = 0; t < n; ++t)
    x[t] = Vec(w.embed.f32() + tokens[t] * s.hidden, w.embed.f32() + (tokens[t] + 1) * s.hidden);
  for (int l = 0; l < s.n_layers; ++l) {
    const LayerWeights& L = w.layers[l];
    std::vector<Vec> q(n), k(n), v(n);
    for (int t = 0; t < n; ++t) {
      const Vec xn = rmsnorm(x[t], L.attn_norm.f32(), s.rms_eps);
      q[t] = matvec(L.wq, xn);
      k[t] = matvec(L.wk, xn);
      v[t] = matvec(L.wv, xn);
      if (s.qkv_bias) {
        for (size_t i = 0; i < q[t].size(); ++i) q[t][i] += L.bq.f32()[i];
        for (size_t i = 0; i < k[t].size(); ++i) k[t][i] += L.bk.f32()[i];
        for (size_t i = 0; i < v[t].size(); ++i) v[t][i] += L.bv.f32()[i];
      }
      for (int h = 0; h < s.n_heads; ++h) {
        if (s.qk_norm) {
          const Vec head = rmsnorm(Vec(q[t].begin() + h * hd, q[t].begin() + (h + 1) * hd), L.q_norm.f32(), s.rms_eps);
          std::copy(head.begin(), head.end(), q[t].begin() + h * hd);
        }
        rope_ref(s, q[t].data() + h * hd, t);
      }
      for (int h = 0; h < s.n_kv_heads; ++h) {
        if (s.qk_norm) {
          const Vec head = rmsnorm(Vec(k[t].begin() + h * hd, k[t].begin() + (h + 1) * hd), L.k_norm.f32(), s.rms_eps);
          std::copy(head.begin(), head.end(), k[t].begin() + h * hd);
        }
        rope_ref(s, k[t].data() + h * hd, t);
      }
    }
    for (int t = 0; t < n; ++t) {
      Vec attn(s.n_heads * hd, 0.0);
      for (int h = 0; h < s.n_heads; ++h) {
        const int g = h / group;
        Vec score(t + 1);
        double mx = -1e300;
        for (int p = 0; p <= t; ++p) {
          double d = 0.0;
          for (int i = 0; i < hd; ++i) d += q[t][h * hd + i] * k[p][g * hd + i];
          score[p] = d / std::sqrt(static_cast<double>(hd));
          mx = std::max(mx, score[p]);
        }
        double z = 0.0;
        for (double& sc : score) z += (sc = std::exp(sc - mx));
        for (int p = 0; p <= t; ++p) {
          for (int i = 0; i < hd; ++i) attn[h * hd + i] += score[p] / z * v[p][g * hd + i];
        }
      }
      const Vec o = matvec(L.wo, attn);
      for (int i = 0; i < s.hidden; ++i) x[t][i] += o[i];
      const Vec xn = rmsnorm(x[t], L.ffn_norm.f32(), s.rms_eps);
      const Vec g = matvec(L.w_gate, xn), u = matvec(L.w_up, xn);
      Vec act(s.intermediate);
      for (int i = 0; i < s.intermediate; ++i) act[i] = g[i] / (1.0 + std::exp(-g[i])) * u[i];
      const Vec d = matvec(L.w_down, act);
      for (int i = 0; i < s.hidden; ++i) x[t][i] += d[i];
    }
  }
  std::vector<Vec> out(n);
  for (int t = 0; t < n; ++t)
    out[t] = matvec(s.tied_embeddings ? w.embed : w.lm_head, rmsnorm(x[t], w.final_norm.f32(), s.rms_eps));
  return out;
}

double rel_l2(std::span<const float> got, const Vec& want) {
  double num = 0.0, den = 0.0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / den);
}

std::unique_ptr<Runner> make_runner(const ModelSpec& s, const ModelWeights& w, int threads = 2,
                                    DType storage = DType::kF32, int block_tokens = 4, int num_blocks = 64) {
  CpuRunnerOptions o;
  o.threads = threads;
  o.block_tokens = block_tokens;
  o.num_blocks = num_blocks;
  o.weight_storage = storage;
  auto r = make_cpu_runner(s, w, o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return std::move(r.value());
}

std::vector<int32_t> random_tokens(int n, int vocab, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int32_t> t(n);
  for (int32_t& v : t) v = static_cast<int32_t>(rng() % vocab);
  return t;
}

struct ArchCase {
  const char* name;
  ModelSpec spec;
};

std::vector<ArchCase> arch_cases() {
  std::vector<ArchCase> cases;
  ModelSpec llama = small_spec(Architecture::kLlama);
  llama.tied_embeddings = true;
  cases.push_back({"llama_gqa_tied", llama});
  ModelSpec llama3 = small_spec(Architecture::kLlama);
  llama3.rope = {500000.0f, RopeScalingType::kLlama3, 8.0f, 1.0f, 4.0f, 64};
  llama3.head_dim = 32;  // enough frequencies to cover all three llama3 bands
  llama3.n_heads = 2;
  llama3.n_kv_heads = 1;
  cases.push_back({"llama3_scaling_mqa", llama3});
  ModelSpec linear = small_spec(Architecture::kMistral);
  linear.rope = {10000.0f, RopeScalingType::kLinear, 4.0f};
  linear.n_kv_heads = 4;  // plain multi-head attention
  cases.push_back({"mistral_linear_rope_mha", linear});
  ModelSpec qwen2 = small_spec(Architecture::kQwen2);
  qwen2.qkv_bias = true;
  qwen2.tied_embeddings = true;
  qwen2.rope.theta = 1e6f;
  cases.push_back({"qwen2_bias", qwen2});
  ModelSpec qwen3 = small_spec(Architecture::kQwen3);
  qwen3.qk_norm = true;
  qwen3.head_dim = 16;  // != hidden / n_heads, as in Qwen3
  qwen3.rms_eps = 1e-6f;
  cases.push_back({"qwen3_qk_norm", qwen3});
  return cases;
}

TEST(CpuRunnerTest, MatchesReferenceForEveryArchitecture) {
  for (const ArchCase& c : arch_cases()) {
    SCOPED_TRACE(c.name);
    const ModelWeights w = random_weights(c.spec, 7);
    const std::vector<int32_t> tokens = random_tokens(23, c.spec.vocab, 11);
    const std::vector<Vec> ref = reference_logits(c.spec, w, tokens);
    auto runner = make_runner(c.spec, w);
    const std::vector<int32_t> table = {5, 9, 2, 17, 30, 1, 60};  // scattered on purpose
    // Prefill 19 tokens, then decode 4 one by one.
    std::vector<float> logits;
    StepBatch b;
    b.seqs.push_back({std::span(tokens).first(19), 0, table, true});
    ASSERT_TRUE(runner->step(b, logits).ok());
    ASSERT_EQ(logits.size(), static_cast<size_t>(c.spec.vocab));
    EXPECT_LT(rel_l2(logits, ref[18]), 2e-5);
    for (int t = 19; t < 23; ++t) {
      b.seqs[0] = {std::span(tokens).subspan(t, 1), t, table, true};
      ASSERT_TRUE(runner->step(b, logits).ok());
      EXPECT_LT(rel_l2(logits, ref[t]), 2e-5) << "position " << t;
    }
  }
}

TEST(CpuRunnerTest, CompactWeightsStayCloseToReference) {
  const ModelSpec s = arch_cases()[0].spec;
  const ModelWeights w = random_weights(s, 3);
  const std::vector<int32_t> tokens = random_tokens(12, s.vocab, 5);
  const std::vector<Vec> ref = reference_logits(s, w, tokens);
  const std::vector<int32_t> table = {0, 1, 2};
  // f16 keeps 11 significant bits (relative rounding 2^-12), bf16 8 (2^-9):
  // the logits error scales accordingly.
  for (auto [storage, tol] : {std::pair{DType::kF16, 2e-3}, std::pair{DType::kBF16, 1.5e-2}}) {
    auto runner = make_runner(s, w, 2, storage);
    std::vector<float> logits;
    StepBatch b;
    b.seqs.push_back({tokens, 0, table, true});
    ASSERT_TRUE(runner->step(b, logits).ok());
    EXPECT_LT(rel_l2(logits, ref.back()), tol) << dtype_name(storage);
    EXPECT_GT(rel_l2(logits, ref.back()), 1e-7) << "storage had no effect: " << dtype_name(storage);
  }
}

// Runs prefill of `prompt` (chunked into `chunks`) for one sequence alone and
// returns the logits of the last chunk's last token.
std::vector<float> run_alone(Runner& r, std::span<const int32_t> prompt, std::span<const int32_t> table,
                             std::vector<int> chunks) {
  std::vector<float> logits;
  int pos = 0;
  for (int n : chunks) {
    StepBatch b;
    b.seqs.push_back({prompt.subspan(pos, n), pos, table, true});
    EXPECT_TRUE(r.step(b, logits).ok());
    pos += n;
  }
  return logits;
}

TEST(CpuRunnerTest, MixedBatchEqualsEachSequenceAlone) {
  for (const ArchCase& c : arch_cases()) {
    SCOPED_TRACE(c.name);
    const ModelWeights w = random_weights(c.spec, 21);
    for (DType storage : {DType::kF32, DType::kF16}) {
      const std::vector<int32_t> a = random_tokens(13, c.spec.vocab, 1);  // prefill 10, then chunk of 3
      const std::vector<int32_t> bt = random_tokens(9, c.spec.vocab, 2);  // prefill 8, then decode 1
      const std::vector<int32_t> ct = random_tokens(6, c.spec.vocab, 3);  // fresh prefill of 6
      const std::vector<int32_t> ta = {0, 1, 2, 3}, tb = {4, 5, 6}, tc = {7, 8};

      // Alone, one runner per sequence (1 thread) so nothing else is in the cache.
      auto solo = make_runner(c.spec, w, 1, storage);
      const std::vector<float> la = run_alone(*solo, a, ta, {10, 3});
      const std::vector<float> lb = run_alone(*solo, bt, tb, {8, 1});
      const std::vector<float> lc = run_alone(*solo, ct, tc, {6});

      // Together: the earlier parts first (also batched), then one mixed step, 3 threads.
      auto mixed = make_runner(c.spec, w, 3, storage);
      std::vector<float> logits;
      StepBatch first;
      first.seqs.push_back({std::span(a).first(10), 0, ta, false});
      first.seqs.push_back({std::span(bt).first(8), 0, tb, true});
      ASSERT_TRUE(mixed->step(first, logits).ok());
      ASSERT_EQ(logits.size(), static_cast<size_t>(c.spec.vocab));  // only seq b wanted logits
      StepBatch step;
      step.seqs.push_back({std::span(bt).subspan(8, 1), 8, tb, true});
      step.seqs.push_back({ct, 0, tc, true});
      step.seqs.push_back({std::span(a).subspan(10, 3), 10, ta, true});
      ASSERT_TRUE(mixed->step(step, logits).ok());
      const size_t V = c.spec.vocab;
      ASSERT_EQ(logits.size(), 3 * V);
      for (size_t i = 0; i < V; ++i) {
        ASSERT_EQ(logits[i], lb[i]) << "seq b, logit " << i;
        ASSERT_EQ(logits[V + i], lc[i]) << "seq c, logit " << i;
        ASSERT_EQ(logits[2 * V + i], la[i]) << "seq a, logit " << i;
      }
    }
  }
}

TEST(CpuRunnerTest, ChunkedPrefillEqualsUnchunkedAndFillsTheSameCache) {
  const ModelSpec s = arch_cases()[4].spec;  // qwen3: the most per-token work
  const ModelWeights w = random_weights(s, 5);
  const std::vector<int32_t> prompt = random_tokens(29, s.vocab, 8);
  const std::vector<int32_t> table = {3, 4, 5, 6, 7, 8, 9, 10};
  auto whole = make_runner(s, w, 2, DType::kF16);
  auto chunked = make_runner(s, w, 2, DType::kF16);
  const std::vector<float> l1 = run_alone(*whole, prompt, table, {29});
  const std::vector<float> l2 = run_alone(*chunked, prompt, table, {7, 1, 13, 8});
  ASSERT_EQ(l1, l2);
  const auto* r1 = dynamic_cast<CpuRunner*>(whole.get());
  const auto* r2 = dynamic_cast<CpuRunner*>(chunked.get());
  ASSERT_NE(r1, nullptr);
  EXPECT_EQ(std::memcmp(r1->kv_data(), r2->kv_data(), r1->block_bytes() * r1->num_blocks()), 0);
}

TEST(CpuRunnerTest, ThreadCountDoesNotChangeResults) {
  const ModelSpec s = arch_cases()[1].spec;
  const ModelWeights w = random_weights(s, 9);
  const std::vector<int32_t> prompt = random_tokens(17, s.vocab, 4);
  const std::vector<int32_t> table = {0, 1, 2, 3, 4};
  std::vector<float> base;
  for (int threads : {1, 2, 5}) {
    auto r = make_runner(s, w, threads, DType::kF16);
    const std::vector<float> l = run_alone(*r, prompt, table, {17});
    if (base.empty()) base = l;
    EXPECT_EQ(l, base) << threads << " threads";
  }
}

TEST(CpuRunnerTest, KernelChoiceComesFromTheOptions) {
  const ModelSpec s = arch_cases()[0].spec;
  const ModelWeights w = random_weights(s, 3);
  CpuRunnerOptions o;
  o.threads = 1;
  o.num_blocks = 16;
  o.tuning.kernels = CpuKernels::kPortable;
  auto portable = make_cpu_runner(s, w, o);
  ASSERT_TRUE(portable.ok()) << portable.status().to_string();
  EXPECT_STREQ(dynamic_cast<CpuRunner&>(*portable.value()).kernels_name(), "portable");
  o.tuning.kernels = CpuKernels::kAuto;
  auto automatic = make_cpu_runner(s, w, o);
  ASSERT_TRUE(automatic.ok()) << automatic.status().to_string();
  EXPECT_STREQ(dynamic_cast<CpuRunner&>(*automatic.value()).kernels_name(),
               avx2_kernels() != nullptr ? "avx2" : "portable");
  // Both tables compute the same logits up to summation order.
  const std::vector<int32_t> prompt = random_tokens(9, s.vocab, 5);
  const std::vector<int32_t> table = {0};
  const std::vector<float> a = run_alone(*portable.value(), prompt, table, {9});
  const std::vector<float> b = run_alone(*automatic.value(), prompt, table, {9});
  EXPECT_LT(rel_l2(a, Vec(b.begin(), b.end())), 1e-5);
}

TEST(CpuRunnerTest, CopiedBlocksContinueTheSequence) {
  const ModelSpec s = arch_cases()[0].spec;
  const ModelWeights w = random_weights(s, 12);
  const std::vector<int32_t> prompt = random_tokens(11, s.vocab, 6);
  auto r = make_runner(s, w);
  const std::vector<int32_t> src = {10, 11, 12}, dst = {20, 21, 22};
  run_alone(*r, std::span(prompt).first(10), src, {10});
  ASSERT_TRUE(r->copy_blocks(src, dst).ok());
  std::vector<float> from_src, from_dst;
  StepBatch b;
  b.seqs.push_back({std::span(prompt).subspan(10, 1), 10, src, true});
  ASSERT_TRUE(r->step(b, from_src).ok());
  b.seqs[0].block_table = dst;
  ASSERT_TRUE(r->step(b, from_dst).ok());
  EXPECT_EQ(from_src, from_dst);
  const std::vector<int32_t> bad = {64};
  EXPECT_EQ(r->copy_blocks(bad, std::span(dst).first(1)).kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(r->copy_blocks(src, std::span(dst).first(2)).kind(), ErrorKind::kInvalidRequest);
}

// Disaggregated serving moves a prompt's blocks from one worker's runner to
// another's as bytes; the receiver continues the sequence exactly.
TEST(CpuRunnerTest, ExportedBlocksImportedIntoAnotherRunnerContinueTheSequence) {
  const ModelSpec s = arch_cases()[0].spec;
  const ModelWeights w = random_weights(s, 12);
  const std::vector<int32_t> prompt = random_tokens(11, s.vocab, 6);
  auto from = make_runner(s, w);
  auto to = make_runner(s, w);
  const std::vector<int32_t> src = {10, 11, 12}, dst = {3, 7, 5};
  run_alone(*from, std::span(prompt).first(10), src, {10});
  std::vector<std::byte> bytes(src.size() * from->block_bytes());
  ASSERT_TRUE(from->export_blocks(src, bytes).ok());
  ASSERT_TRUE(to->import_blocks(dst, bytes).ok());
  std::vector<float> at_source, at_target;
  StepBatch b;
  b.seqs.push_back({std::span(prompt).subspan(10, 1), 10, src, true});
  ASSERT_TRUE(from->step(b, at_source).ok());
  b.seqs[0].block_table = dst;
  ASSERT_TRUE(to->step(b, at_target).ok());
  EXPECT_EQ(at_source, at_target);
  const std::vector<int32_t> bad = {64};
  EXPECT_EQ(from->export_blocks(bad, std::span(bytes).first(from->block_bytes())).kind(), ErrorKind::kInvalidRequest);
  EXPECT_EQ(to->import_blocks(dst, std::span(bytes).first(from->block_bytes())).kind(), ErrorKind::kInvalidRequest);
}

// A blob that only copies itself to the host (what a device blob is to the
// CPU runner): Runner::import_blob's default path.
class CopyOnlyBlob final : public KvBlob {
 public:
  explicit CopyOnlyBlob(const HostKvBlob& from) : from_(from) {}
  int device() const override { return 3; }
  int num_blocks() const override { return from_.num_blocks(); }
  size_t block_bytes() const override { return from_.block_bytes(); }
  Status copy_to_host(int first, std::span<std::byte> out) const override {
    ++reads;
    return from_.copy_to_host(first, out);
  }
  mutable int reads = 0;

 private:
  const HostKvBlob& from_;
};

// export_blob / import_blob (the hand-off's blob API) on the CPU runner: a
// host blob by default, any blob imported through its bytes or
// copy_to_host, a sub-range of the blob, and argument errors that touch
// nothing.
TEST(CpuRunnerTest, BlobsMoveBlocksLikeBytes) {
  const ModelSpec s = arch_cases()[0].spec;
  const ModelWeights w = random_weights(s, 12);
  const std::vector<int32_t> prompt = random_tokens(11, s.vocab, 6);
  auto from = make_runner(s, w);
  auto to = make_runner(s, w);
  auto to2 = make_runner(s, w);
  const std::vector<int32_t> src = {10, 11, 12};
  run_alone(*from, std::span(prompt).first(10), src, {10});
  auto blob = from->export_blob(src, BlobMode::kCopy);
  ASSERT_TRUE(blob.ok()) << blob.status().to_string();
  ASSERT_EQ((*blob)->device(), KvBlob::kHostDevice);
  ASSERT_FALSE((*blob)->borrows_source());
  auto asked_to_borrow = from->export_blob(src, BlobMode::kBorrow);  // the CPU runner copies anyway
  ASSERT_TRUE(asked_to_borrow.ok());
  EXPECT_FALSE((*asked_to_borrow)->borrows_source());
  ASSERT_EQ((*blob)->num_blocks(), 3);
  ASSERT_EQ((*blob)->bytes(), 3 * from->block_bytes());
  std::vector<std::byte> bytes(src.size() * from->block_bytes());
  ASSERT_TRUE(from->export_blocks(src, bytes).ok());
  EXPECT_TRUE(std::equal(bytes.begin(), bytes.end(), (*blob)->host_bytes().begin()));

  // Block 0 of the blob to block 3, blocks 1..2 to 7, 5: as if block 0 were cached.
  const std::vector<int32_t> dst = {3, 7, 5};
  ASSERT_TRUE(to->import_blob(std::span(dst).first(1), **blob, 0).ok());
  ASSERT_TRUE(to->import_blob(std::span(dst).subspan(1), **blob, 1).ok());
  const CopyOnlyBlob opaque(static_cast<const HostKvBlob&>(**blob));
  ASSERT_TRUE(to2->import_blob(dst, opaque, 0).ok());
  EXPECT_EQ(opaque.reads, 1);
  std::vector<std::byte> back(bytes.size()), back2(bytes.size());
  ASSERT_TRUE(to->export_blocks(dst, back).ok());
  ASSERT_TRUE(to2->export_blocks(dst, back2).ok());
  EXPECT_EQ(back, bytes);
  EXPECT_EQ(back2, bytes);

  std::vector<float> at_source, at_target;
  StepBatch b;
  b.seqs.push_back({std::span(prompt).subspan(10, 1), 10, src, true});
  ASSERT_TRUE(from->step(b, at_source).ok());
  b.seqs[0].block_table = dst;
  ASSERT_TRUE(to->step(b, at_target).ok());
  EXPECT_EQ(at_source, at_target);

  // Errors: nothing is copied.
  std::vector<std::byte> before(to2->block_bytes()), after(to2->block_bytes());
  const std::vector<int32_t> one = {20};
  ASSERT_TRUE(to2->export_blocks(one, before).ok());
  EXPECT_EQ(to2->import_blob(one, **blob, 3).kind(), ErrorKind::kInvalidRequest);   // past the blob's end
  EXPECT_EQ(to2->import_blob(one, **blob, -1).kind(), ErrorKind::kInvalidRequest);  // negative start
  const std::vector<int32_t> out_of_range = {64};
  EXPECT_EQ(to2->import_blob(out_of_range, **blob, 0).kind(), ErrorKind::kInvalidRequest);
  HostKvBlob other_size(1, to2->block_bytes() / 2);
  EXPECT_EQ(to2->import_blob(one, other_size, 0).kind(), ErrorKind::kInvalidRequest);
  ASSERT_TRUE(to2->export_blocks(one, after).ok());
  EXPECT_EQ(before, after);
  EXPECT_FALSE(from->export_blob(out_of_range, BlobMode::kCopy).ok());
  std::vector<std::byte> small(from->block_bytes() / 2);
  EXPECT_EQ((*blob)->copy_to_host(0, small).kind(), ErrorKind::kInvalidRequest);  // not whole blocks
  std::vector<std::byte> two(2 * from->block_bytes());
  EXPECT_EQ((*blob)->copy_to_host(2, two).kind(), ErrorKind::kInvalidRequest);  // past the end
  ASSERT_TRUE((*blob)->copy_to_host(1, two).ok());
  EXPECT_TRUE(std::equal(two.begin(), two.end(), bytes.begin() + static_cast<std::ptrdiff_t>(from->block_bytes())));
}

TEST(CpuRunnerTest, RejectsMalformedBatchesAndKeepsWorking) {
  ModelSpec s = arch_cases()[0].spec;
  s.max_position = 32;
  const ModelWeights w = random_weights(s, 13);
  auto r = make_runner(s, w, 2, DType::kF32, 4, 16);
  const std::vector<int32_t> tok = {1, 2, 3, 4, 5};
  const std::vector<int32_t> table = {0, 1};
  std::vector<float> logits;
  auto expect_invalid = [&](SequenceStep seq, const char* needle) {
    StepBatch b;
    b.seqs.push_back(seq);
    const Status st = r->step(b, logits);
    EXPECT_EQ(st.kind(), ErrorKind::kInvalidRequest) << needle;
    EXPECT_NE(st.message().find(needle), std::string::npos) << st.message();
  };
  const std::vector<int32_t> out_of_range = {0, 16};
  const std::vector<int32_t> negative = {-1};
  const std::vector<int32_t> bad_token = {1, 97};
  const std::vector<int32_t> long_table(8, 3);
  expect_invalid({tok, 0, out_of_range, true}, "block_table[1] = 16");
  expect_invalid({tok, 0, negative, true}, "block_table");
  expect_invalid({tok, 0, std::span(table).first(1), true}, "need 2");
  expect_invalid({std::span(tok).first(0), 0, table, true}, "no tokens");
  expect_invalid({bad_token, 0, table, true}, "token 97");
  expect_invalid({tok, -3, table, true}, "negative");
  expect_invalid({tok, 30, long_table, true}, "maximum position");
  expect_invalid({tok, 0, long_table, true}, "same KV block slot");  // all positions in block 3
  // Two sequences writing the same slot.
  StepBatch clash;
  clash.seqs.push_back({std::span(tok).first(1), 0, table, true});
  clash.seqs.push_back({std::span(tok).first(1), 0, table, true});
  EXPECT_EQ(r->step(clash, logits).kind(), ErrorKind::kInvalidRequest);
  // Still serves a good batch, with the same result as a fresh runner.
  auto fresh = make_runner(s, w, 2, DType::kF32, 4, 16);
  EXPECT_EQ(run_alone(*r, tok, table, {5}), run_alone(*fresh, tok, table, {5}));
}

TEST(CpuRunnerTest, FactoryNamesWhatIsWrong) {
  const ModelSpec s = arch_cases()[3].spec;  // qwen2: biases required
  CpuRunnerOptions o;
  o.num_blocks = 4;
  {
    ModelWeights w = random_weights(s, 1);
    w.layers[1].wk.shape = {5, 48};
    auto r = make_cpu_runner(s, std::move(w), o);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().kind(), ErrorKind::kMalformedFile);
    EXPECT_NE(r.status().message().find("layers.1.wk"), std::string::npos) << r.status().message();
  }
  {
    ModelWeights w = random_weights(s, 1);
    w.layers[0].bv = Tensor{};
    auto r = make_cpu_runner(s, std::move(w), o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find("layers.0.bv"), std::string::npos) << r.status().message();
  }
  {
    ModelWeights w = random_weights(s, 1);
    w.layers.pop_back();
    EXPECT_EQ(make_cpu_runner(s, std::move(w), o).status().kind(), ErrorKind::kMalformedFile);
  }
  {
    CpuRunnerOptions bad = o;
    bad.num_blocks = 0;
    EXPECT_EQ(make_cpu_runner(s, random_weights(s, 1), bad).status().kind(), ErrorKind::kInvalidRequest);
    bad = o;
    bad.block_tokens = 0;
    EXPECT_EQ(make_cpu_runner(s, random_weights(s, 1), bad).status().kind(), ErrorKind::kInvalidRequest);
  }
  {
    ModelSpec odd = s;
    odd.n_kv_heads = 3;
    EXPECT_EQ(make_cpu_runner(odd, random_weights(s, 1), o).status().kind(), ErrorKind::kInvalidRequest);
  }
}

TEST(CpuRunnerTest, ReportsLayoutOfRunnerContract) {
  const ModelSpec s = arch_cases()[0].spec;
  auto r = make_runner(s, random_weights(s, 2), 2, DType::kF32, 16, 8);
  EXPECT_EQ(r->block_tokens(), 16);
  EXPECT_EQ(r->num_blocks(), 8);
  EXPECT_EQ(r->block_bytes(), static_cast<size_t>(s.n_layers) * 2 * 16 * s.n_kv_heads * s.head_dim * 4);
}

// The K row of position p in layer l sits where runner.h says:
// block[b] = [n_layers][2][block_tokens][n_kv_heads][head_dim].
TEST(CpuRunnerTest, KvLayoutMatchesContract) {
  ModelSpec s = arch_cases()[0].spec;
  s.n_layers = 1;
  const ModelWeights w = random_weights(s, 4);
  auto r = make_runner(s, w, 1, DType::kF32, 4, 8);
  const std::vector<int32_t> tok = {7, 8, 9, 10, 11, 12};
  const std::vector<int32_t> table = {6, 2};
  run_alone(*r, tok, table, {6});
  const auto* cr = dynamic_cast<CpuRunner*>(r.get());
  const size_t kvw = static_cast<size_t>(s.n_kv_heads) * s.head_dim;
  // V of position 5 = Wv * rmsnorm(embed[12]) (V gets no RoPE).
  const float* v = cr->kv_data() + 2 * cr->block_bytes() / 4 + (1 * 4 + 5 % 4) * kvw;
  const Vec x(w.embed.f32() + 12 * s.hidden, w.embed.f32() + 13 * s.hidden);
  const Vec want = matvec(w.layers[0].wv, rmsnorm(x, w.layers[0].attn_norm.f32(), s.rms_eps));
  EXPECT_LT(rel_l2(std::span(v, kvw), want), 1e-6);
}

}  // namespace
}  // namespace tandem::engine::cpu

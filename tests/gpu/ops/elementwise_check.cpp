// The element-wise kernels (engine/cuda/elementwise_kernels.h) against the CPU runner's:
//   - embedding gather vs WeightMatrix::row_to_f32 of the bf16 table (CpuRunner's embedding);
//   - RMSNorm vs engine::cpu::rms_norm (the float32 stream normalized into bf16 for the products), also over
//     a row subset (the logits rows before the LM head) and with PDL;
//   - SwiGLU vs engine::cpu::silu_mul on the gate | up rows of the product.
// The residual add has no kernel of its own: it is the GEMM's beta = 1 epilogue (gemm_check.cpp) and the
// GEMV's accumulate (gemv_check.cpp).
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "engine/cpu/half.h"
#include "engine/cpu/layer_ops.h"
#include "engine/cpu/weight_matrix.h"
#include "engine/cuda/elementwise_kernels.h"
#include "gpu/ops/model_shapes.h"
#include "gpu/ops/op_check.h"

namespace tandem::gpu_ops {
namespace {

using engine::cuda::PdlMode;

constexpr Tolerance kExact{0.0, 0.0, "a copy: bf16 -> float32 is exact"};
constexpr Tolerance kBf16Out{6e-3, 3e-3,
                             "output rounded to bf16 (<= 2^-8 relative per value); float32 vs double sum of squares, "
                             "__expf vs std::exp"};

// ---- embedding ----

struct EmbeddingCase {
  Model model;
  std::string label() const { return std::string(model_name(model)) + ".embedding"; }
};

void PrintTo(const EmbeddingCase& c, std::ostream* os) { *os << c.label(); }

// Case table: every model's full vocabulary x hidden table; 40 ids with the first and last rows and repeats.
std::vector<EmbeddingCase> embedding_cases() {
  std::vector<EmbeddingCase> cases;
  for (Model m : kModels) cases.push_back({m});
  return cases;
}

class EmbeddingCheck : public OpTest<EmbeddingCase> {};

TEST_P(EmbeddingCheck, MatchesCpuRowToF32) {
  const EmbeddingCase& c = GetParam();
  const engine::ModelSpec& s = model_spec(c.model);
  const uint64_t seed = seed_of(c.label());
  const size_t elems = static_cast<size_t>(s.vocab) * s.hidden;
  engine::Tensor table;
  table.dtype = engine::DType::kBF16;
  table.shape = {s.vocab, s.hidden};
  {
    const std::vector<uint16_t> bits = random_bf16(elems, -1.0f, 1.0f, seed);
    table.data.resize(elems * sizeof(uint16_t));
    std::memcpy(table.data.data(), bits.data(), table.data.size());
  }
  DeviceArray<uint16_t> d_table(elems);
  check_cuda(cudaMemcpy(d_table.get(), table.data.data(), table.data.size(), cudaMemcpyHostToDevice), "upload table");
  std::vector<int32_t> ids = {0, s.vocab - 1, 1, s.vocab / 2, 0, s.vocab - 1};
  const std::vector<float> r = random_f32(34, 0.0f, 1.0f, seed + 1);
  for (float v : r) ids.push_back(static_cast<int32_t>(v * static_cast<float>(s.vocab - 1)));
  const DeviceArray<int32_t> d_ids(ids);
  const int n = static_cast<int>(ids.size());
  DeviceArray<float> d_out(static_cast<size_t>(n) * s.hidden);
  engine::cuda::EmbeddingParams p;
  p.table = bf16_ptr(d_table);
  p.ids = d_ids.get();
  p.out = d_out.get();
  p.n_tokens = n;
  p.hidden = s.hidden;
  require(engine::cuda::launch(p, nullptr), "embedding launch");
  sync("embedding");
  engine::Tensor* parts[] = {&table};
  auto matrix = engine::cpu::WeightMatrix::stack(parts, engine::DType::kBF16, "embed");
  require(matrix.status(), "WeightMatrix::stack");
  std::vector<float> want(static_cast<size_t>(n) * s.hidden);
  for (int t = 0; t < n; ++t) matrix->row_to_f32(ids[t], want.data() + static_cast<size_t>(t) * s.hidden);
  expect_close(
      c.label() + " [" + std::to_string(s.vocab) + "x" + std::to_string(s.hidden) + "] " + std::to_string(n) + " ids",
      d_out.download(), want, static_cast<size_t>(s.hidden), kExact);
}

INSTANTIATE_TEST_SUITE_P(Embedding, EmbeddingCheck, ::testing::ValuesIn(embedding_cases()),
                         [](const ::testing::TestParamInfo<EmbeddingCase>& info) {
                           return test_name(info.param.label());
                         });

// ---- RMSNorm ----

struct RmsNormCase {
  Model model;
  int n_rows;       // rows normalized
  int stream_rows;  // rows of the residual stream (> n_rows: a subset, as for the logits rows)
  PdlMode pdl;
  std::string label() const {
    std::string l = std::string(model_name(model)) + ".rmsnorm_rows" + std::to_string(n_rows);
    if (stream_rows != n_rows) l += "_of" + std::to_string(stream_rows);
    if (pdl != PdlMode::kOff) l += "_pdl";
    return l;
  }
};

void PrintTo(const RmsNormCase& c, std::ostream* os) { *os << c.label(); }

// Case table: per model a decode row (PDL, as the final norm of a decode step), a small batch, a prefill chunk,
// and 4 logits rows picked out of a 300-row stream.
std::vector<RmsNormCase> rms_norm_cases() {
  std::vector<RmsNormCase> cases;
  for (Model m : kModels) {
    cases.push_back({m, 1, 1, PdlMode::kTriggerAfterWait});
    cases.push_back({m, 9, 9, PdlMode::kOff});
    cases.push_back({m, 300, 300, PdlMode::kOff});
    cases.push_back({m, 4, 300, PdlMode::kTriggerAfterWait});
  }
  return cases;
}

class RmsNormCheck : public OpTest<RmsNormCase> {};

TEST_P(RmsNormCheck, MatchesCpuRmsNorm) {
  const RmsNormCase& c = GetParam();
  const engine::ModelSpec& s = model_spec(c.model);
  const int h = s.hidden;
  const uint64_t seed = seed_of(c.label());
  std::vector<float> x = random_f32(static_cast<size_t>(c.stream_rows) * h, -1.0f, 1.0f, seed);
  for (int r = 0; r < c.stream_rows; ++r) {  // rows of different scale, as a residual stream has
    for (int j = 0; j < h; ++j) x[static_cast<size_t>(r) * h + j] *= 0.25f + static_cast<float>(r % 13);
  }
  const std::vector<uint16_t> w = random_bf16(h, 0.5f, 1.5f, seed + 1);
  std::vector<int32_t> rows;
  if (c.stream_rows != c.n_rows) rows = {5, 0, c.stream_rows - 1, 17};
  const DeviceArray<float> d_x(x);
  const DeviceArray<uint16_t> d_w(w);
  const DeviceArray<int32_t> d_rows(rows);
  DeviceArray<uint16_t> d_out(std::vector<uint16_t>(static_cast<size_t>(c.n_rows) * h, kBf16NaN));
  engine::cuda::RmsNormParams p;
  p.x = d_x.get();
  p.rows = rows.empty() ? nullptr : d_rows.get();
  p.weight = bf16_ptr(d_w);
  p.out = bf16_ptr(d_out);
  p.n_rows = c.n_rows;
  p.hidden = h;
  p.eps = s.rms_eps;
  p.pdl = c.pdl;
  require(engine::cuda::launch(p, nullptr), "rms_norm launch");
  sync("rms_norm");
  const std::vector<float> wf = bf16_to_f32(w);
  std::vector<float> want(static_cast<size_t>(c.n_rows) * h);
  for (int r = 0; r < c.n_rows; ++r) {
    const int src = rows.empty() ? r : rows[r];
    engine::cpu::rms_norm(x.data() + static_cast<size_t>(src) * h, wf.data(), s.rms_eps, h,
                          want.data() + static_cast<size_t>(r) * h);
  }
  expect_close(c.label() + " [hidden " + std::to_string(h) + "]", bf16_to_f32(d_out.download()), want,
               static_cast<size_t>(h), kBf16Out);
}

INSTANTIATE_TEST_SUITE_P(RmsNorm, RmsNormCheck, ::testing::ValuesIn(rms_norm_cases()),
                         [](const ::testing::TestParamInfo<RmsNormCase>& info) {
                           return test_name(info.param.label());
                         });

// ---- SwiGLU ----

struct SiluMulCase {
  Model model;
  int n_tokens;
  std::string label() const { return std::string(model_name(model)) + ".swiglu_tokens" + std::to_string(n_tokens); }
};

void PrintTo(const SiluMulCase& c, std::ostream* os) { *os << c.label(); }

// Case table: per model 1, 7 and 300 tokens of the intermediate size.
std::vector<SiluMulCase> silu_mul_cases() {
  std::vector<SiluMulCase> cases;
  for (Model m : kModels) {
    for (int n : {1, 7, 300}) cases.push_back({m, n});
  }
  return cases;
}

class SiluMulCheck : public OpTest<SiluMulCase> {};

TEST_P(SiluMulCheck, MatchesCpuSiluMul) {
  const SiluMulCase& c = GetParam();
  const int inter = model_spec(c.model).intermediate;
  const size_t n_out = static_cast<size_t>(c.n_tokens) * inter;
  const std::vector<uint16_t> gate_up = random_bf16(2 * n_out, -8.0f, 8.0f, seed_of(c.label()));
  const DeviceArray<uint16_t> d_in(gate_up);
  DeviceArray<uint16_t> d_out(std::vector<uint16_t>(n_out, kBf16NaN));
  engine::cuda::SiluMulParams p;
  p.gate_up = bf16_ptr(d_in);
  p.out = bf16_ptr(d_out);
  p.n_tokens = c.n_tokens;
  p.inter = inter;
  require(engine::cuda::launch(p, nullptr), "silu_mul launch");
  sync("silu_mul");
  const std::vector<float> gu = bf16_to_f32(gate_up);
  std::vector<float> want(n_out);
  for (int t = 0; t < c.n_tokens; ++t) {
    const float* g = gu.data() + static_cast<size_t>(t) * 2 * inter;
    engine::cpu::silu_mul(g, g + inter, inter, want.data() + static_cast<size_t>(t) * inter);
  }
  expect_close(c.label() + " [intermediate " + std::to_string(inter) + "]", bf16_to_f32(d_out.download()), want,
               static_cast<size_t>(inter), kBf16Out);
}

INSTANTIATE_TEST_SUITE_P(SiluMul, SiluMulCheck, ::testing::ValuesIn(silu_mul_cases()),
                         [](const ::testing::TestParamInfo<SiluMulCase>& info) {
                           return test_name(info.param.label());
                         });

}  // namespace
}  // namespace tandem::gpu_ops

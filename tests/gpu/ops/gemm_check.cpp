// cuBLASLt products through GemmLt (engine/cuda/gemm_lt.h) against the CPU runner's matrix product, at the
// prefill shapes the runner gives it: n > 2 tokens (n <= 2 goes to the GEMV, gemv_check.cpp), outputs and
// epilogues as cuda_runner.cpp asks for them (QKV bf16, and float32 as the decode GEMV path writes it; o and down
// float32 with beta = 1, the residual add fused into the epilogue; gate_up bf16; LM head float32).
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "engine/cpu/half.h"
#include "engine/cuda/gemm_lt.h"
#include "gpu/ops/cpu_twins.h"
#include "gpu/ops/model_shapes.h"
#include "gpu/ops/op_check.h"

namespace tandem::gpu_ops {
namespace {

using engine::cuda::GemmArgs;
using engine::cuda::GemmLt;
using engine::cuda::GemmOut;

// Bounds per token row of y.
constexpr Tolerance kF32Out{2e-4, 5e-5,
                            "same bf16 operands; tensor-core fp32 accumulation in another order (~sqrt(k) 2^-24 "
                            "relative)"};
constexpr Tolerance kBf16Out{6e-3, 3e-3,
                             "y rounded to bf16 (<= 2^-8 relative per value) on top of the fp32 differences"};

struct GemmCase {
  Model model;
  Product product;
  GemmOut out;
  float beta;           // 1: y += x W^T (the residual add)
  std::vector<int> ns;  // tokens
  std::string label() const {
    return std::string(model_name(model)) + "." + product_name(product) + (out == GemmOut::kBF16 ? "_bf16" : "_f32") +
           (beta != 0.0f ? "_residual" : "");
  }
};

void PrintTo(const GemmCase& c, std::ostream* os) { *os << c.label(); }

// Case table: per model the runner's five prefill products (and the float32 QKV variant) at a short, an
// odd and a prefill-chunk-sized token count; the LM head at logits-row counts of a mixed step.
std::vector<GemmCase> gemm_cases() {
  const std::vector<int> prefill = {3, 77, 512};
  std::vector<GemmCase> cases;
  for (Model m : kModels) {
    cases.push_back({m, Product::kQkv, GemmOut::kBF16, 0.0f, prefill});
    cases.push_back({m, Product::kQkv, GemmOut::kF32, 0.0f, prefill});
    cases.push_back({m, Product::kO, GemmOut::kF32, 1.0f, prefill});
    cases.push_back({m, Product::kGateUp, GemmOut::kBF16, 0.0f, prefill});
    cases.push_back({m, Product::kDown, GemmOut::kF32, 1.0f, prefill});
    cases.push_back({m, Product::kLmHead, GemmOut::kF32, 0.0f, {3, 37}});
  }
  return cases;
}

class GemmCheck : public OpTest<GemmCase> {};

TEST_P(GemmCheck, MatchesCpuMatmul) {
  const GemmCase& c = GetParam();
  const MatrixShape sh = product_shape(c.model, c.product);
  const int m = sh.m, k = sh.k;
  const bool bf16_out = c.out == GemmOut::kBF16;
  const Tolerance& tol = bf16_out ? kBf16Out : kF32Out;
  const uint64_t seed = seed_of(c.label());
  const std::vector<uint16_t> w = random_bf16(static_cast<size_t>(m) * k, -0.05f, 0.05f, seed);
  const DeviceArray<uint16_t> d_w(w);
  GemmLt gemm;
  require(gemm.init(size_t{32} << 20), "GemmLt::init");  // the runner's workspace
  for (int n : c.ns) {
    const std::vector<uint16_t> x = random_bf16(static_cast<size_t>(n) * k, -2.0f, 2.0f, seed + n);
    const DeviceArray<uint16_t> d_x(x);
    // y: [n, m] float32 (a random residual stream when beta = 1) or bf16. With beta = 0 it starts as a huge
    // finite value (8e37 as float32 and as bf16), so a value not written fails, while cuBLASLt may still read
    // y (0 * y = 0) as it may in the runner.
    std::vector<float> ref(static_cast<size_t>(n) * m, 0.0f);
    std::vector<uint32_t> init(static_cast<size_t>(n) * m, 0x7E7E7E7Eu);
    if (c.beta != 0.0f) {
      ref = random_f32(static_cast<size_t>(n) * m, -1.0f, 1.0f, seed + 1000 + n);
      std::memcpy(init.data(), ref.data(), init.size() * sizeof(uint32_t));
    }
    DeviceArray<uint32_t> d_y(init);
    cpu_matmul(w, m, k, bf16_to_f32(x), n, ref, c.beta != 0.0f);
    GemmArgs a;
    a.w = bf16_ptr(d_w);
    a.x = bf16_ptr(d_x);
    a.y = d_y.get();
    a.out = c.out;
    a.m = m;
    a.n = n;
    a.k = k;
    a.beta = c.beta;
    require(gemm.run(a, nullptr), "GemmLt::run");
    sync("gemm");
    const std::vector<uint32_t> words = d_y.download();
    std::vector<float> got(static_cast<size_t>(n) * m);
    for (size_t i = 0; i < got.size(); ++i) {
      if (bf16_out) {
        uint16_t h;
        std::memcpy(&h, reinterpret_cast<const uint16_t*>(words.data()) + i, sizeof h);
        got[i] = engine::cpu::bf16_to_f32(h);
      } else {
        std::memcpy(&got[i], &words[i], sizeof(float));
      }
    }
    expect_close(c.label() + " [" + std::to_string(m) + "x" + std::to_string(k) + "] n=" + std::to_string(n), got, ref,
                 static_cast<size_t>(m), tol);
  }
}

INSTANTIATE_TEST_SUITE_P(Gemm, GemmCheck, ::testing::ValuesIn(gemm_cases()),
                         [](const ::testing::TestParamInfo<GemmCase>& info) { return test_name(info.param.label()); });

}  // namespace
}  // namespace tandem::gpu_ops

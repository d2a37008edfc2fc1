// GEMV (engine/cuda/gemv_kernels.h) against the CPU runner's matrix product.
//
// Case table: every model x every product (the decode step runs all five through the GEMV, the LM head
// included); each case runs every input prologue (bf16 x, RMSNorm-fused on the float32 residual stream,
// SwiGLU-fused on the gate | up rows) x n = 1..8 x output (float32, float32 accumulated into y, bf16), PDL
// off and on alternately. n = 1 with k < 4096 takes the short-row kernel (unless the environment turns it
// off), everything else the general one; each case line says which applies. The CPU twin multiplies the same bf16
// weights with the same float32 input rows the prologue forms (engine::cpu::rms_norm / silu_mul of the same values).
// Rows of y past n must keep their bytes.
#include <cstring>
#include <ostream>
#include <string>
#include <vector>

#include "engine/cpu/half.h"
#include "engine/cpu/layer_ops.h"
#include "engine/cuda/gemv_kernels.h"
#include "gpu/ops/cpu_twins.h"
#include "gpu/ops/model_shapes.h"
#include "gpu/ops/op_check.h"

namespace tandem::gpu_ops {
namespace {

using engine::cuda::GemvInput;
using engine::cuda::GemvParams;
using engine::cuda::PdlMode;

// Bounds per token row of y.
constexpr Tolerance kF32Out{1e-5, 5e-6,
                            "same bf16 weights and float32 inputs; fp32 accumulation in another order "
                            "(~sqrt(k) 2^-24 relative), __expf in the SwiGLU prologue"};
constexpr Tolerance kBf16Out{6e-3, 3e-3,
                             "y rounded to bf16 (<= 2^-8 relative per value) on top of the fp32 differences"};

struct GemvCase {
  Model model;
  Product product;
  std::string label() const { return std::string(model_name(model)) + "." + product_name(product); }
};

void PrintTo(const GemvCase& c, std::ostream* os) { *os << c.label(); }

std::vector<GemvCase> gemv_cases() {
  std::vector<GemvCase> cases;
  for (Model m : kModels) {
    for (Product p : kProducts) cases.push_back({m, p});
  }
  return cases;
}

const char* input_name(GemvInput in) {
  switch (in) {
    case GemvInput::kBf16: return "bf16";
    case GemvInput::kRmsNorm: return "rmsnorm";
    case GemvInput::kSiluMul: return "swiglu";
  }
  return "?";
}

enum class OutMode { kF32, kF32Accumulate, kBf16 };

const char* mode_name(OutMode mode) {
  switch (mode) {
    case OutMode::kF32: return "y f32";
    case OutMode::kF32Accumulate: return "y f32 +=";
    case OutMode::kBf16: return "y bf16";
  }
  return "?";
}

// One input prologue's device operands and the float32 rows x_t the CPU twin multiplies with.
struct GemvInputs {
  DeviceArray<uint16_t> x;       // kBf16: [8, k]; kSiluMul: [8, 2k]
  DeviceArray<float> x_f32;      // kRmsNorm: [8, k]
  DeviceArray<uint16_t> norm_w;  // kRmsNorm: [k]
  std::vector<float> effective;  // [8, k]
};

GemvInputs make_inputs(GemvInput in, int k, float eps, uint64_t seed) {
  constexpr int kN = GemvParams::kMaxN;
  GemvInputs g;
  g.effective.resize(static_cast<size_t>(kN) * k);
  switch (in) {
    case GemvInput::kBf16: {
      const std::vector<uint16_t> xb = random_bf16(static_cast<size_t>(kN) * k, -2.0f, 2.0f, seed);
      g.x = DeviceArray<uint16_t>(xb);
      g.effective = bf16_to_f32(xb);
      break;
    }
    case GemvInput::kRmsNorm: {
      std::vector<float> xf = random_f32(static_cast<size_t>(kN) * k, -1.0f, 1.0f, seed);
      for (int t = 0; t < kN; ++t) {  // rows of different scale: each row's own norm matters
        for (int j = 0; j < k; ++j) xf[static_cast<size_t>(t) * k + j] *= 0.5f + 4.0f * t;
      }
      const std::vector<uint16_t> nw = random_bf16(k, 0.5f, 1.5f, seed + 1);
      const std::vector<float> nwf = bf16_to_f32(nw);
      for (int t = 0; t < kN; ++t) {
        engine::cpu::rms_norm(xf.data() + static_cast<size_t>(t) * k, nwf.data(), eps, k,
                              g.effective.data() + static_cast<size_t>(t) * k);
      }
      g.x_f32 = DeviceArray<float>(xf);
      g.norm_w = DeviceArray<uint16_t>(nw);
      break;
    }
    case GemvInput::kSiluMul: {
      const std::vector<uint16_t> xb = random_bf16(static_cast<size_t>(kN) * 2 * k, -4.0f, 4.0f, seed);
      const std::vector<float> xv = bf16_to_f32(xb);
      for (int t = 0; t < kN; ++t) {
        const float* gate = xv.data() + static_cast<size_t>(t) * 2 * k;
        engine::cpu::silu_mul(gate, gate + k, k, g.effective.data() + static_cast<size_t>(t) * k);
      }
      g.x = DeviceArray<uint16_t>(xb);
      break;
    }
  }
  return g;
}

class GemvCheck : public OpTest<GemvCase> {};

TEST_P(GemvCheck, MatchesCpuMatmul) {
  const GemvCase& c = GetParam();
  const MatrixShape sh = product_shape(c.model, c.product);
  const int m = sh.m, k = sh.k;
  constexpr int kN = GemvParams::kMaxN;
  const float eps = model_spec(c.model).rms_eps;
  const uint64_t seed = seed_of(c.label());
  const std::vector<uint16_t> w = random_bf16(static_cast<size_t>(m) * k, -0.05f, 0.05f, seed);
  const DeviceArray<uint16_t> d_w(w);
  const std::vector<float> y0 = random_f32(static_cast<size_t>(kN) * m, -1.0f, 1.0f, seed + 2);
  // y as 32-bit words: [8, m] float32, or its first half as [8, m] bf16.
  DeviceArray<uint32_t> d_y(static_cast<size_t>(kN) * m);
  std::vector<uint32_t> poison(static_cast<size_t>(kN) * m, 0xFFFFFFFFu), acc_init(poison.size());
  std::memcpy(acc_init.data(), y0.data(), acc_init.size() * sizeof(uint32_t));
  const std::string paths = k < 4096 ? "k < 4096: short-row kernel at n=1 by default" : "general kernel at every n";
  int launches = 0;
  for (GemvInput in : {GemvInput::kBf16, GemvInput::kRmsNorm, GemvInput::kSiluMul}) {
    const GemvInputs inputs = make_inputs(in, k, eps, seed + 10 + static_cast<uint64_t>(in));
    std::vector<float> ref(static_cast<size_t>(kN) * m);
    cpu_matmul(w, m, k, inputs.effective, kN, ref, false);
    for (OutMode mode : {OutMode::kF32, OutMode::kF32Accumulate, OutMode::kBf16}) {
      const Tolerance& tol = mode == OutMode::kBf16 ? kBf16Out : kF32Out;
      const std::vector<uint32_t>& init = mode == OutMode::kF32Accumulate ? acc_init : poison;
      Comparison all;
      std::vector<uint16_t> past_got, past_init;  // bytes of y past row n, all n
      for (int n = 1; n <= kN; ++n) {
        d_y.upload(init);
        GemvParams p;
        p.w = bf16_ptr(d_w);
        p.input = in;
        p.x = bf16_ptr(inputs.x);
        p.x_f32 = inputs.x_f32.get();
        p.norm_weight = bf16_ptr(inputs.norm_w);
        p.eps = eps;
        p.y = d_y.get();
        p.y_f32 = mode != OutMode::kBf16;
        p.accumulate = mode == OutMode::kF32Accumulate;
        p.m = m;
        p.n = n;
        p.k = k;
        p.pdl = launches++ % 2 == 1 ? PdlMode::kTriggerAfterWait : PdlMode::kOff;
        require(engine::cuda::launch(p, nullptr), "gemv launch");
        sync("gemv");
        const std::vector<uint32_t> words = d_y.download();
        std::vector<float> got(static_cast<size_t>(n) * m), want(static_cast<size_t>(n) * m);
        for (size_t i = 0; i < got.size(); ++i) {
          if (mode == OutMode::kBf16) {
            uint16_t h;
            std::memcpy(&h, reinterpret_cast<const uint16_t*>(words.data()) + i, sizeof h);
            got[i] = engine::cpu::bf16_to_f32(h);
          } else {
            std::memcpy(&got[i], &words[i], sizeof(float));
          }
          want[i] = ref[i] + (mode == OutMode::kF32Accumulate ? y0[i] : 0.0f);
        }
        merge(all, compare(got, want, static_cast<size_t>(m), tol, "n=" + std::to_string(n)), tol);
        const size_t past = static_cast<size_t>(n) * m * (mode == OutMode::kBf16 ? 1 : 2);  // in 16-bit units
        const auto* g16 = reinterpret_cast<const uint16_t*>(words.data());
        const auto* i16 = reinterpret_cast<const uint16_t*>(init.data());
        past_got.insert(past_got.end(), g16 + past, g16 + 2 * words.size());
        past_init.insert(past_init.end(), i16 + past, i16 + 2 * words.size());
      }
      const std::string name = c.label() + " [" + std::to_string(m) + "x" + std::to_string(k) + "] " + input_name(in) +
                               ", " + mode_name(mode);
      expect_within(name + ", n=1..8 (" + paths + ")", all, tol);
      expect_untouched(name + ", y rows past n", past_got, past_init);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Gemv, GemvCheck, ::testing::ValuesIn(gemv_cases()),
                         [](const ::testing::TestParamInfo<GemvCase>& info) { return test_name(info.param.label()); });

}  // namespace
}  // namespace tandem::gpu_ops

// The CPU kernel tables against double-precision formulas, their batch
// invariance (a token's outputs do not depend on the other tokens), and the
// scalar f16/bf16 conversions against the hardware (F16C) and exact values.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "engine/cpu/half.h"
#include "engine/cpu/kernels.h"

namespace tandem::engine::cpu {
namespace {

std::vector<const Kernels*> tables() {
  std::vector<const Kernels*> t = {&portable_kernels()};
  if (avx2_kernels() != nullptr) t.push_back(avx2_kernels());
  return t;
}

// Row-major [rows, k] weights stored as `type`, plus the exact float values stored.
struct Weights {
  std::vector<std::byte> bytes;
  std::vector<float> values;
};

Weights make_weights(int rows, int k, DType type, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  Weights w;
  w.bytes.resize(static_cast<size_t>(rows) * k * dtype_size(type));
  w.values.resize(static_cast<size_t>(rows) * k);
  for (size_t i = 0; i < w.values.size(); ++i) {
    const float v = d(rng);
    if (type == DType::kF32) {
      w.values[i] = v;
      std::memcpy(w.bytes.data() + i * 4, &v, 4);
    } else {
      const uint16_t h = type == DType::kF16 ? f32_to_f16(v) : f32_to_bf16(v);
      w.values[i] = type == DType::kF16 ? f16_to_f32(h) : bf16_to_f32(h);
      std::memcpy(w.bytes.data() + i * 2, &h, 2);
    }
  }
  return w;
}

TEST(CpuKernelsTest, MatmulMatchesDoubleReference) {
  std::mt19937 rng(1);
  for (const Kernels* kt : tables()) {
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
      for (int k : {8, 13, 64, 200}) {
        for (int n_tokens : {1, 2, 3, 4, 5, 7, 9}) {
          SCOPED_TRACE(std::string(kt->name) + " " + dtype_name(type) + " k=" + std::to_string(k) +
                       " T=" + std::to_string(n_tokens));
          const int rows = 29;  // not a multiple of any tile height
          const Weights w = make_weights(rows, k, type, rng);
          std::normal_distribution<float> d(0.0f, 1.0f);
          std::vector<float> x(static_cast<size_t>(n_tokens) * k);
          for (float& v : x) v = d(rng);
          std::vector<float> y(static_cast<size_t>(n_tokens) * rows, 1.0f);
          MatmulArgs a;
          a.w = w.bytes.data();
          a.w_type = type;
          a.w_row_bytes = static_cast<size_t>(k) * dtype_size(type);
          a.k = k;
          a.x = x.data();
          a.x_stride = k;
          a.y = y.data();
          a.y_stride = rows;
          a.row_begin = 2;  // rows outside [2, 27) stay untouched
          a.row_end = 27;
          a.n_tokens = n_tokens;
          a.accumulate = true;
          kt->matmul_rows(a);
          for (int t = 0; t < n_tokens; ++t) {
            for (int r = 0; r < rows; ++r) {
              if (r < 2 || r >= 27) {
                ASSERT_EQ(y[t * rows + r], 1.0f);
                continue;
              }
              double want = 1.0, mag = 1.0;
              for (int i = 0; i < k; ++i) {
                want += static_cast<double>(w.values[r * k + i]) * x[t * k + i];
                mag += std::fabs(static_cast<double>(w.values[r * k + i]) * x[t * k + i]);
              }
              ASSERT_NEAR(y[t * rows + r], want, 1e-6 * mag) << "t=" << t << " r=" << r;
            }
          }
        }
      }
    }
  }
}

TEST(CpuKernelsTest, MatmulIsBatchInvariant) {
  std::mt19937 rng(2);
  const int rows = 53, k = 72, max_tokens = 11;
  for (const Kernels* kt : tables()) {
    for (DType type : {DType::kF32, DType::kF16, DType::kBF16}) {
      const Weights w = make_weights(rows, k, type, rng);
      std::normal_distribution<float> d(0.0f, 1.0f);
      std::vector<float> x(static_cast<size_t>(max_tokens) * k);
      for (float& v : x) v = d(rng);
      auto run = [&](int first, int n, int row_begin, int row_end) {
        std::vector<float> y(static_cast<size_t>(n) * rows, 0.0f);
        MatmulArgs a;
        a.w = w.bytes.data();
        a.w_type = type;
        a.w_row_bytes = static_cast<size_t>(k) * dtype_size(type);
        a.k = k;
        a.x = x.data() + static_cast<size_t>(first) * k;
        a.x_stride = k;
        a.y = y.data();
        a.y_stride = rows;
        a.row_begin = row_begin;
        a.row_end = row_end;
        a.n_tokens = n;
        kt->matmul_rows(a);
        return y;
      };
      const std::vector<float> all = run(0, max_tokens, 0, rows);
      for (int t = 0; t < max_tokens; ++t) {
        const std::vector<float> one = run(t, 1, 0, rows);
        for (int r = 0; r < rows; ++r) ASSERT_EQ(one[r], all[t * rows + r]) << kt->name << " t=" << t;
      }
      // Splitting the rows differently (as different thread counts do) changes nothing.
      std::vector<float> split = run(0, max_tokens, 0, 7);
      const std::vector<float> rest = run(0, max_tokens, 7, rows);
      for (int t = 0; t < max_tokens; ++t) {
        for (int r = 7; r < rows; ++r) split[t * rows + r] = rest[t * rows + r];
      }
      ASSERT_EQ(split, all) << kt->name;
    }
  }
}

TEST(CpuKernelsTest, DotAndAxpy) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (const Kernels* kt : tables()) {
    for (int n : {1, 7, 8, 64, 67}) {
      std::vector<float> a(n), b(n), y(n);
      for (int i = 0; i < n; ++i) {
        a[i] = d(rng);
        b[i] = d(rng);
        y[i] = d(rng);
      }
      double want = 0.0;
      for (int i = 0; i < n; ++i) want += static_cast<double>(a[i]) * b[i];
      EXPECT_NEAR(kt->dot(a.data(), b.data(), n), want, 1e-5 * n) << kt->name;
      std::vector<float> y2 = y;
      kt->axpy(0.75f, a.data(), y2.data(), n);
      for (int i = 0; i < n; ++i) EXPECT_NEAR(y2[i], y[i] + 0.75 * a[i], 1e-6) << kt->name;
    }
  }
}

TEST(CpuKernelsTest, AutoIsAvx2WhereSupportedAndPortableIsPortable) {
  EXPECT_STREQ(select_kernels(CpuKernels::kAuto).name, avx2_kernels() != nullptr ? "avx2" : "portable");
  EXPECT_EQ(&select_kernels(CpuKernels::kPortable), &portable_kernels());
}

TEST(HalfTest, EveryF16RoundTripsThroughF32) {
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) {
      EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(f))));
      continue;
    }
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(f32_to_f16(1e6f), 0x7c00);                   // overflow: +inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -26)), 0x0000);  // below half the smallest subnormal
}

#if defined(__x86_64__)
__attribute__((target("f16c"))) uint16_t hw_f32_to_f16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}

TEST(HalfTest, F32ToF16MatchesF16cHardware) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2")) GTEST_SKIP() << "CPU without F16C/AVX2";
  std::mt19937 rng(4);
  for (int i = 0; i < 2000000; ++i) {
    // Random bit patterns over the whole float range, with many near the f16 range.
    uint32_t bits = rng();
    if (i % 2) bits = (bits & 0x807fffffu) | (static_cast<uint32_t>(100 + rng() % 60) << 23);
    const float f = std::bit_cast<float>(bits);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), hw_f32_to_f16(f)) << std::hexfloat << f;
  }
}
#endif

TEST(HalfTest, Bf16RoundsToNearestEven) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(bf16_to_f32(0x3f80), 1.0f);
  // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties to even (1.0).
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3f82);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::nanf("")))));
  for (uint32_t h = 0; h < 65536; ++h) {
    const float f = bf16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_bf16(f), h);
  }
}

}  // namespace
}  // namespace tandem::engine::cpu

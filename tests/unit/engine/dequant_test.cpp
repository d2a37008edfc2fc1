// Hand-built blocks checked against values computed from the published block
// layouts; tests/reference/loaders checks bit-exactness against gguf-py.
#include "engine/dequant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

namespace tandem::engine {
namespace {

using model_files::GgmlType;

std::vector<std::byte> bytes(std::initializer_list<int> v) {
  std::vector<std::byte> out;
  for (int x : v) out.push_back(static_cast<std::byte>(x));
  return out;
}

void put_f16(std::vector<std::byte>& b, size_t off, float v) {
  uint16_t h = f32_to_f16(v);
  std::memcpy(b.data() + off, &h, 2);
}

TEST(DequantTest, F16Conversions) {
  EXPECT_EQ(f16_to_f32(0x3C00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xC000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x7BFF), 65504.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7C00)));
  EXPECT_TRUE(std::isnan(f16_to_f32(0x7E00)));
  EXPECT_TRUE(std::signbit(f16_to_f32(0x8000)));
  // Every non-NaN half survives f16 -> f32 -> f16.
  for (uint32_t h = 0; h < 0x10000; ++h) {
    float f = f16_to_f32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << h;
  }
  // Ties round to even; overflow goes to infinity; tiny values to (signed) zero.
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3C00);
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3C02);
  EXPECT_EQ(f32_to_f16(65520.0f), 0x7C00);
  EXPECT_EQ(f32_to_f16(65519.0f), 0x7BFF);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f32_to_f16(-std::ldexp(1.0f, -30)), 0x8000);
  EXPECT_EQ(f32_to_f16(std::numeric_limits<float>::quiet_NaN()) & 0x7E00, 0x7E00);
}

TEST(DequantTest, Bf16Conversions) {
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3F80);
  EXPECT_EQ(bf16_to_f32(0x3F80), 1.0f);
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -8)), 0x3F80);      // tie -> even
  EXPECT_EQ(f32_to_bf16(1.0f + 3 * std::ldexp(1.0f, -8)), 0x3F82);  // tie -> even (up)
  EXPECT_EQ(f32_to_bf16(1.0f + std::ldexp(1.0f, -9)), 0x3F80);
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::max()))));
}

TEST(DequantTest, Q4_0AndQ4_1AndQ8_0) {
  std::vector<std::byte> q40(18);
  put_f16(q40, 0, 0.5f);
  for (int j = 0; j < 16; ++j) q40[2 + j] = static_cast<std::byte>(j | ((15 - j) << 4));
  std::vector<float> y(32);
  dequantize_to_f32(GgmlType::kQ4_0, q40, y);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * (j - 8));
    EXPECT_EQ(y[j + 16], 0.5f * (15 - j - 8));
  }
  std::vector<std::byte> q41(20);
  put_f16(q41, 0, 0.25f);
  put_f16(q41, 2, -1.0f);
  for (int j = 0; j < 16; ++j) q41[4 + j] = static_cast<std::byte>(j | (j << 4));
  dequantize_to_f32(GgmlType::kQ4_1, q41, y);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.25f * j - 1.0f);
    EXPECT_EQ(y[j + 16], 0.25f * j - 1.0f);
  }
  std::vector<std::byte> q80(34);
  put_f16(q80, 0, 2.0f);
  for (int j = 0; j < 32; ++j) q80[2 + j] = static_cast<std::byte>(static_cast<int8_t>(j * 8 - 128));
  dequantize_to_f32(GgmlType::kQ8_0, q80, y);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(y[j], 2.0f * (j * 8 - 128));
}

TEST(DequantTest, Q4_KScalesAndMins) {
  std::vector<std::byte> b(144);
  put_f16(b, 0, 1.0f);  // d
  put_f16(b, 2, 0.5f);  // dmin
  // Sub-block j: scale j+1 (6 bits), min 2j; j >= 4 uses the packed high bits.
  uint8_t sc[8], mn[8];
  for (int j = 0; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>(j < 4 ? j + 1 : 16 + 5 * j);  // > 15 for j >= 4 (uses high bits)
    mn[j] = static_cast<uint8_t>(j < 4 ? 2 * j : 10 * j - 20);
  }
  uint8_t* s = reinterpret_cast<uint8_t*>(b.data() + 4);
  for (int j = 0; j < 4; ++j) {
    s[j] = static_cast<uint8_t>(sc[j] | ((sc[j + 4] >> 4) << 6));
    s[j + 4] = static_cast<uint8_t>(mn[j] | ((mn[j + 4] >> 4) << 6));
    s[j + 8] = static_cast<uint8_t>((sc[j + 4] & 0x0F) | ((mn[j + 4] & 0x0F) << 4));
  }
  uint8_t* qs = reinterpret_cast<uint8_t*>(b.data() + 16);
  for (int i = 0; i < 128; ++i) qs[i] = static_cast<uint8_t>((i % 16) | ((15 - i % 16) << 4));
  std::vector<float> y(256);
  dequantize_to_f32(GgmlType::kQ4_K, b, y);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 32, l = e % 32, k = e / 64;
    const uint8_t q = qs[32 * k + l];
    const int v = (j % 2 == 0) ? (q & 0x0F) : (q >> 4);
    EXPECT_EQ(y[e], 1.0f * sc[j] * v - 0.5f * mn[j]) << e;
  }
}

TEST(DequantTest, Q6_KLayout) {
  std::vector<std::byte> b(210);
  uint8_t* ql = reinterpret_cast<uint8_t*>(b.data());
  uint8_t* qh = ql + 128;
  int8_t* sc = reinterpret_cast<int8_t*>(ql + 192);
  for (int i = 0; i < 128; ++i) ql[i] = static_cast<uint8_t>(i * 37);
  for (int i = 0; i < 64; ++i) qh[i] = static_cast<uint8_t>(i * 91 + 7);
  for (int i = 0; i < 16; ++i) sc[i] = static_cast<int8_t>(i * 9 - 60);
  put_f16(b, 208, 0.125f);
  std::vector<float> y(256);
  dequantize_to_f32(GgmlType::kQ6_K, b, y);
  // Element e of half n, group g, lane l (ggml-common.h block_q6_K).
  for (int e = 0; e < 256; ++e) {
    const int n = e / 128, g = (e % 128) / 32, l = e % 32;
    const uint8_t low = ql[64 * n + l + 32 * (g % 2)];
    const int lo = g < 2 ? (low & 0x0F) : (low >> 4);
    const int hi = (qh[32 * n + l] >> (2 * g)) & 3;
    EXPECT_EQ(y[e], 0.125f * sc[e / 16] * ((lo | (hi << 4)) - 32)) << e;
  }
}

TEST(DequantTest, ConvertToBf16MatchesRoundedF32) {
  std::vector<std::byte> q80(34 * 300);
  for (size_t i = 0; i < q80.size(); ++i) q80[i] = static_cast<std::byte>((i * 131) & 0xFF);
  for (size_t blk = 0; blk < 300; ++blk) put_f16(q80, blk * 34, 0.01f * static_cast<float>(blk + 1));
  std::vector<float> f(32 * 300);
  dequantize_to_f32(GgmlType::kQ8_0, q80, f);
  std::vector<std::byte> out(f.size() * 2);
  convert_ggml_data(GgmlType::kQ8_0, q80, DType::kBF16, out);
  for (size_t i = 0; i < f.size(); ++i) {
    uint16_t h;
    std::memcpy(&h, out.data() + 2 * i, 2);
    ASSERT_EQ(h, f32_to_bf16(f[i])) << i;
  }
  // Same-type conversion is a byte copy.
  std::vector<std::byte> bf = bytes({0x80, 0x3F, 0x00, 0xC0});
  std::vector<std::byte> copy(4);
  convert_ggml_data(GgmlType::kBF16, bf, DType::kBF16, copy);
  EXPECT_EQ(copy, bf);
  std::vector<std::byte> f32(8);
  convert_ggml_data(GgmlType::kBF16, bf, DType::kF32, f32);
  float v[2];
  std::memcpy(v, f32.data(), 8);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.0f);
}

}  // namespace
}  // namespace tandem::engine

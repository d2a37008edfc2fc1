// Block formats follow ggml's published layouts (ggml-common.h); the float
// operations and their order follow gguf-py's numpy dequantizers so results
// are bit-identical. Contraction into FMA would change rounding, so it is off.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include "engine/dequant.h"

#include <array>
#include <vector>

#include "common/check.h"

namespace tandem::engine {

using model_files::ggml_type_supported;
using model_files::ggml_type_traits;
using model_files::GgmlType;
using model_files::GgmlTypeTraits;

namespace {

constexpr int kQK = 32;    // elements per block of the legacy quants
constexpr int kQKK = 256;  // elements per k-quant super-block

uint16_t load_u16(const std::byte* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

float load_f16(const std::byte* p) { return f16_to_f32(load_u16(p)); }

const uint8_t* as_u8(const std::byte* p) { return reinterpret_cast<const uint8_t*>(p); }

// Block {f16 d; u8 qs[16]}: y[j] = d * (lo(qs[j]) - 8), y[j+16] = d * (hi(qs[j]) - 8).
void dequant_q4_0(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const uint8_t* qs = as_u8(b + 2);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + kQK / 2] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

// Block {f16 d; f16 m; u8 qs[16]}: y = d * q + m.
void dequant_q4_1(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const float m = load_f16(b + 2);
  const uint8_t* qs = as_u8(b + 4);
  for (int j = 0; j < kQK / 2; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + kQK / 2] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// Block {f16 d; i8 qs[32]}: y = q * d.
void dequant_q8_0(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const int8_t* qs = reinterpret_cast<const int8_t*>(b + 2);
  for (int j = 0; j < kQK; ++j) y[j] = static_cast<float>(qs[j]) * d;
}

// 6-bit scale and min of sub-block j (0..7) from the 12 packed scale bytes.
void scale_min_k4(int j, const uint8_t* q, uint8_t& sc, uint8_t& m) {
  if (j < 4) {
    sc = q[j] & 63;
    m = q[j + 4] & 63;
  } else {
    sc = static_cast<uint8_t>((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4));
    m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

// Super-block {f16 d; f16 dmin; u8 scales[12]; u8 qs[128]}: eight sub-blocks
// of 32; sub-block 2k uses the low nibbles of qs[32k..32k+32), 2k+1 the high.
// y = (d * sc) * q - (dmin * m).
void dequant_q4_k(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const float dmin = load_f16(b + 2);
  const uint8_t* scales = as_u8(b + 4);
  const uint8_t* qs = as_u8(b + 16);
  for (int k = 0; k < 4; ++k) {
    uint8_t sc = 0, m = 0;
    scale_min_k4(2 * k, scales, sc, m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    scale_min_k4(2 * k + 1, scales, sc, m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(m);
    const uint8_t* q = qs + 32 * k;
    float* out = y + 64 * k;
    for (int l = 0; l < 32; ++l) out[l] = d1 * static_cast<float>(q[l] & 0x0F) - m1;
    for (int l = 0; l < 32; ++l) out[l + 32] = d2 * static_cast<float>(q[l] >> 4) - m2;
  }
}

// Super-block {f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128]}: as
// Q4_K, plus a fifth bit per element: bit g of qh[l] for sub-block g.
void dequant_q5_k(const std::byte* b, float* y) {
  const float d = load_f16(b);
  const float dmin = load_f16(b + 2);
  const uint8_t* scales = as_u8(b + 4);
  const uint8_t* qh = as_u8(b + 16);
  const uint8_t* qs = as_u8(b + 48);
  for (int k = 0; k < 4; ++k) {
    uint8_t sc = 0, m = 0;
    scale_min_k4(2 * k, scales, sc, m);
    const float d1 = d * static_cast<float>(sc);
    const float m1 = dmin * static_cast<float>(m);
    scale_min_k4(2 * k + 1, scales, sc, m);
    const float d2 = d * static_cast<float>(sc);
    const float m2 = dmin * static_cast<float>(m);
    const uint8_t* q = qs + 32 * k;
    const int lo_bit = 2 * k;
    const int hi_bit = 2 * k + 1;
    float* out = y + 64 * k;
    for (int l = 0; l < 32; ++l) {
      const int v = (q[l] & 0x0F) | (((qh[l] >> lo_bit) & 1) << 4);
      out[l] = d1 * static_cast<float>(v) - m1;
    }
    for (int l = 0; l < 32; ++l) {
      const int v = (q[l] >> 4) | (((qh[l] >> hi_bit) & 1) << 4);
      out[l + 32] = d2 * static_cast<float>(v) - m2;
    }
  }
}

// Super-block {u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d}: two halves of
// 128; in half n, element 32*g + l (g = 0..3) takes its low 4 bits from
// ql[64n + l + 32*(g&1)] (low nibble for g < 2, high for g >= 2) and its top 2
// bits from qh[32n + l] >> 2g; y = (d * scales[e / 16]) * (q - 32).
void dequant_q6_k(const std::byte* b, float* y) {
  const uint8_t* ql = as_u8(b);
  const uint8_t* qh = as_u8(b + 128);
  const int8_t* sc = reinterpret_cast<const int8_t*>(b + 192);
  const float d = load_f16(b + 208);
  for (int n = 0; n < 2; ++n) {
    const uint8_t* l4 = ql + 64 * n;
    const uint8_t* h2 = qh + 32 * n;
    for (int g = 0; g < 4; ++g) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t low = l4[l + 32 * (g & 1)];
        const int lo = g < 2 ? (low & 0x0F) : (low >> 4);
        const int hi = (h2[l] >> (2 * g)) & 3;
        const int q = (lo | (hi << 4)) - 32;
        const int e = 128 * n + 32 * g + l;
        const float ds = d * static_cast<float>(sc[e / 16]);
        y[e] = ds * static_cast<float>(q);
      }
    }
  }
}

// Elements per chunk when converting through a float buffer.
constexpr size_t kChunk = 16 * kQKK;

void store(std::span<const float> src, DType out, std::byte* dst) {
  switch (out) {
    case DType::kF32: std::memcpy(dst, src.data(), src.size() * 4); return;
    case DType::kBF16:
      for (size_t i = 0; i < src.size(); ++i) {
        uint16_t h = f32_to_bf16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
    case DType::kF16:
      for (size_t i = 0; i < src.size(); ++i) {
        uint16_t h = f32_to_f16(src[i]);
        std::memcpy(dst + 2 * i, &h, 2);
      }
      return;
  }
}

bool same_type(GgmlType type, DType out) {
  return (type == GgmlType::kF32 && out == DType::kF32) || (type == GgmlType::kF16 && out == DType::kF16) ||
         (type == GgmlType::kBF16 && out == DType::kBF16);
}

}  // namespace

float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {
      // Subnormal: normalize.
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400u) == 0);
      bits = sign | (static_cast<uint32_t>(127 - 15 - e) << 23) | ((mant & 0x3FFu) << 13);
    }
  } else if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u);   // NaN
  if (abs >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // rounds to >= 65520: inf
  if (abs < 0x38800000u) {
    // Result is subnormal (or zero): value = abs_float / 2^-24, rounded to even.
    if (abs < 0x33000000u) return sign;  // < 2^-25: rounds to zero
    const uint32_t exp = abs >> 23;
    const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
    const uint32_t shift = 126 - exp;  // bits to drop so that 1 ulp = 2^-24
    uint32_t q = mant >> shift;
    const uint32_t rem = mant & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1u))) ++q;
    return static_cast<uint16_t>(sign | q);
  }
  // Normal: rebias exponent, round mantissa from 23 to 10 bits (to even).
  uint32_t v = abs - ((127u - 15u) << 23);
  const uint32_t rem = v & 0x1FFFu;
  v >>= 13;
  if (rem > 0x1000u || (rem == 0x1000u && (v & 1u))) ++v;
  return static_cast<uint16_t>(sign | v);
}

void dequantize_to_f32(GgmlType type, std::span<const std::byte> src, std::span<float> dst) {
  TANDEM_CHECK(ggml_type_supported(type));
  const GgmlTypeTraits t = ggml_type_traits(type);
  TANDEM_CHECK(src.size() % static_cast<size_t>(t.block_bytes) == 0);
  const size_t blocks = src.size() / static_cast<size_t>(t.block_bytes);
  TANDEM_CHECK(dst.size() == blocks * static_cast<size_t>(t.block_elems));
  const std::byte* in = src.data();
  float* out = dst.data();
  switch (type) {
    case GgmlType::kF32: std::memcpy(out, in, dst.size() * 4); return;
    case GgmlType::kF16:
      for (size_t i = 0; i < dst.size(); ++i) out[i] = f16_to_f32(load_u16(in + 2 * i));
      return;
    case GgmlType::kBF16:
      for (size_t i = 0; i < dst.size(); ++i) out[i] = bf16_to_f32(load_u16(in + 2 * i));
      return;
    case GgmlType::kQ4_0:
      for (size_t i = 0; i < blocks; ++i) dequant_q4_0(in + i * 18, out + i * kQK);
      return;
    case GgmlType::kQ4_1:
      for (size_t i = 0; i < blocks; ++i) dequant_q4_1(in + i * 20, out + i * kQK);
      return;
    case GgmlType::kQ8_0:
      for (size_t i = 0; i < blocks; ++i) dequant_q8_0(in + i * 34, out + i * kQK);
      return;
    case GgmlType::kQ4_K:
      for (size_t i = 0; i < blocks; ++i) dequant_q4_k(in + i * 144, out + i * kQKK);
      return;
    case GgmlType::kQ5_K:
      for (size_t i = 0; i < blocks; ++i) dequant_q5_k(in + i * 176, out + i * kQKK);
      return;
    case GgmlType::kQ6_K:
      for (size_t i = 0; i < blocks; ++i) dequant_q6_k(in + i * 210, out + i * kQKK);
      return;
    default:
      // Unreachable: ggml_type_supported() was checked above.
      TANDEM_CHECK_MSG(false, ggml_type_traits(type).name);
  }
}

void convert_ggml_data(GgmlType type, std::span<const std::byte> src, DType out, std::span<std::byte> dst) {
  TANDEM_CHECK(ggml_type_supported(type));
  const GgmlTypeTraits t = ggml_type_traits(type);
  TANDEM_CHECK(src.size() % static_cast<size_t>(t.block_bytes) == 0);
  const size_t blocks = src.size() / static_cast<size_t>(t.block_bytes);
  const size_t n = blocks * static_cast<size_t>(t.block_elems);
  TANDEM_CHECK(dst.size() == n * dtype_size(out));
  if (same_type(type, out)) {
    std::memcpy(dst.data(), src.data(), src.size());
    return;
  }
  if (out == DType::kF32) {
    dequantize_to_f32(type, src, std::span<float>(reinterpret_cast<float*>(dst.data()), n));
    return;
  }
  // Through a float buffer, a chunk of whole blocks at a time.
  const size_t chunk_blocks = kChunk / static_cast<size_t>(t.block_elems);
  std::vector<float> buf(chunk_blocks * static_cast<size_t>(t.block_elems));
  for (size_t b = 0; b < blocks; b += chunk_blocks) {
    const size_t nb = std::min(chunk_blocks, blocks - b);
    const size_t ne = nb * static_cast<size_t>(t.block_elems);
    std::span<float> f(buf.data(), ne);
    dequantize_to_f32(type,
                      src.subspan(b * static_cast<size_t>(t.block_bytes), nb * static_cast<size_t>(t.block_bytes)), f);
    store(f, out, dst.data() + b * static_cast<size_t>(t.block_elems) * dtype_size(out));
  }
}

}  // namespace tandem::engine

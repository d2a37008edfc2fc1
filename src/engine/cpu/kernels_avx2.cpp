// AVX2 + FMA + F16C kernels. Compiled with per-function target attributes (no
// -march flags), so the binary runs on any x86-64; avx2_kernels() returns the
// table only when the CPU supports these features.
//
// Matrix product: register tiles of R weight rows x C tokens (R*C <= 12
// accumulators of 8 floats). Each dot product has its own accumulator,
// updated with one FMA per 8 columns in column order, then reduced by hsum()
// and finished by scalar FMAs over the k % 8 tail: the same operations for
// every tile shape, hence batch-invariant results.
#include "engine/cpu/kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/cpu/half.h"

#define TANDEM_AVX2 __attribute__((target("avx2,fma,f16c")))

namespace tandem::engine::cpu {
namespace {

template <DType D>
TANDEM_AVX2 inline __m256 load8(const std::byte* row, int i) {
  if constexpr (D == DType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row) + i);
  } else if constexpr (D == DType::kF16) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + static_cast<size_t>(i) * 2)));
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + static_cast<size_t>(i) * 2));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
}

template <DType D>
inline float load1(const std::byte* row, int i) {
  if constexpr (D == DType::kF32) {
    float v;
    std::memcpy(&v, row + static_cast<size_t>(i) * 4, 4);
    return v;
  } else {
    uint16_t h;
    std::memcpy(&h, row + static_cast<size_t>(i) * 2, 2);
    if constexpr (D == DType::kF16) {
      return f16_to_f32(h);
    } else {
      return bf16_to_f32(h);
    }
  }
}

TANDEM_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Rows [r0, r0 + R) x tokens [t0, t0 + C).
template <DType D, int R, int C>
TANDEM_AVX2 void tile(const MatmulArgs& a, int r0, int t0) {
  const std::byte* w[R];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) w[r] = a.w + static_cast<size_t>(r0 + r) * a.w_row_bytes;
  const float* x[C];
#pragma GCC unroll 4
  for (int c = 0; c < C; ++c) x[c] = a.x + static_cast<size_t>(t0 + c) * a.x_stride;

  __m256 acc[R][C];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) acc[r][c] = _mm256_setzero_ps();
  }
  const int k8 = a.k & ~7;
  // Software prefetch of the next tile's rows (same columns), one cache line
  // per row every 64 bytes of progress: the hardware prefetcher does poorly
  // on many short interleaved row streams.
  constexpr int kElem = D == DType::kF32 ? 4 : 2;
  const std::byte* next = w[R - 1] + a.w_row_bytes;
  for (int i = 0; i < k8; i += 8) {
    if ((i * kElem) % 64 == 0) {
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        _mm_prefetch(reinterpret_cast<const char*>(next + r * a.w_row_bytes + static_cast<size_t>(i) * kElem),
                     _MM_HINT_T0);
      }
    }
    __m256 wv[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) wv[r] = load8<D>(w[r], i);
#pragma GCC unroll 4
    for (int c = 0; c < C; ++c) {
      const __m256 xv = _mm256_loadu_ps(x[c] + i);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][c] = _mm256_fmadd_ps(wv[r], xv, acc[r][c]);
    }
  }
  for (int c = 0; c < C; ++c) {
    float* y = a.y + static_cast<size_t>(t0 + c) * a.y_stride + r0;
    for (int r = 0; r < R; ++r) {
      float s = hsum(acc[r][c]);
      for (int i = k8; i < a.k; ++i) s = std::fma(load1<D>(w[r], i), x[c][i], s);
      y[r] = a.accumulate ? y[r] + s : s;
    }
  }
}

// Rows [rb, re) for tokens [t0, t0 + C): R-row tiles, then single rows.
template <DType D, int R, int C>
TANDEM_AVX2 void token_tile(const MatmulArgs& a, int rb, int re, int t0) {
  int r = rb;
  for (; r + R <= re; r += R) tile<D, R, C>(a, r, t0);
  for (; r < re; ++r) tile<D, 1, C>(a, r, t0);
}

// Blocks of rows small enough to stay in L1/L2 while every token tile passes
// over them, so each weight byte comes from memory once per call.
template <DType D>
TANDEM_AVX2 void matmul_rows_t(const MatmulArgs& a) {
  const int block_rows = std::max(24, static_cast<int>((32 * 1024) / std::max<size_t>(a.w_row_bytes, 1)) / 24 * 24);
  for (int rb = a.row_begin; rb < a.row_end; rb += block_rows) {
    const int re = std::min(a.row_end, rb + block_rows);
    int t = 0;
    for (; t + 4 <= a.n_tokens; t += 4) token_tile<D, 3, 4>(a, rb, re, t);
    switch (a.n_tokens - t) {
      case 3: token_tile<D, 4, 3>(a, rb, re, t); break;
      case 2: token_tile<D, 6, 2>(a, rb, re, t); break;
      case 1: token_tile<D, 8, 1>(a, rb, re, t); break;
      default: break;
    }
  }
}

TANDEM_AVX2 void matmul_rows(const MatmulArgs& a) {
  switch (a.w_type) {
    case DType::kF32: return matmul_rows_t<DType::kF32>(a);
    case DType::kF16: return matmul_rows_t<DType::kF16>(a);
    case DType::kBF16: return matmul_rows_t<DType::kBF16>(a);
  }
}

TANDEM_AVX2 float dot(const float* a, const float* b, int n) {
  __m256 acc = _mm256_setzero_ps();
  const int n8 = n & ~7;
  for (int i = 0; i < n8; i += 8) acc = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc);
  float s = hsum(acc);
  for (int i = n8; i < n; ++i) s = std::fma(a[i], b[i], s);
  return s;
}

TANDEM_AVX2 void axpy(float a, const float* x, float* y, int n) {
  const __m256 av = _mm256_set1_ps(a);
  const int n8 = n & ~7;
  for (int i = 0; i < n8; i += 8) {
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(av, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
  }
  for (int i = n8; i < n; ++i) y[i] = std::fma(a, x[i], y[i]);
}

const Kernels kAvx2{"avx2", &matmul_rows, &dot, &axpy};

// F16C from CPUID leaf 1 (ECX bit 29): clang before 16 rejects
// __builtin_cpu_supports("f16c"), and the fuzz build uses clang.
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}

}  // namespace

const Kernels* avx2_kernels() {
  __builtin_cpu_init();
  const bool ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
  return ok ? &kAvx2 : nullptr;
}

}  // namespace tandem::engine::cpu

#else

namespace tandem::engine::cpu {
const Kernels* avx2_kernels() { return nullptr; }
}  // namespace tandem::engine::cpu

#endif

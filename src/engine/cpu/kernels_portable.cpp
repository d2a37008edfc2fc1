// Portable kernels: each dot product is one call of dot_row(), with eight
// interleaved partial sums combined in a fixed order.
#include <cstring>

#include "engine/cpu/half.h"
#include "engine/cpu/kernels.h"

namespace tandem::engine::cpu {
namespace {

template <DType D>
inline float load_w(const std::byte* row, int i) {
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

template <DType D>
float dot_row(const std::byte* w, const float* x, int k) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  const int k8 = k & ~7;
  for (int i = 0; i < k8; i += 8) {
    for (int j = 0; j < 8; ++j) s[j] += load_w<D>(w, i + j) * x[i + j];
  }
  float total = ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  for (int i = k8; i < k; ++i) total += load_w<D>(w, i) * x[i];
  return total;
}

template <DType D>
void matmul_rows_t(const MatmulArgs& a) {
  for (int t = 0; t < a.n_tokens; ++t) {
    const float* x = a.x + static_cast<size_t>(t) * a.x_stride;
    float* y = a.y + static_cast<size_t>(t) * a.y_stride;
    for (int r = a.row_begin; r < a.row_end; ++r) {
      const float v = dot_row<D>(a.w + static_cast<size_t>(r) * a.w_row_bytes, x, a.k);
      y[r] = a.accumulate ? y[r] + v : v;
    }
  }
}

void matmul_rows(const MatmulArgs& a) {
  switch (a.w_type) {
    case DType::kF32: return matmul_rows_t<DType::kF32>(a);
    case DType::kF16: return matmul_rows_t<DType::kF16>(a);
    case DType::kBF16: return matmul_rows_t<DType::kBF16>(a);
  }
}

float dot(const float* a, const float* b, int n) {
  return dot_row<DType::kF32>(reinterpret_cast<const std::byte*>(a), b, n);
}

void axpy(float a, const float* x, float* y, int n) {
  for (int i = 0; i < n; ++i) y[i] += a * x[i];
}

const Kernels kPortable{"portable", &matmul_rows, &dot, &axpy};

}  // namespace

const Kernels& portable_kernels() { return kPortable; }

const Kernels& select_kernels(CpuKernels choice) {
  if (choice == CpuKernels::kPortable) return kPortable;
  const Kernels* avx2 = avx2_kernels();
  return avx2 != nullptr ? *avx2 : kPortable;
}

void convert_to_f32(const std::byte* src, DType type, float* dst, int64_t n) {
  switch (type) {
    case DType::kF32: std::memcpy(dst, src, static_cast<size_t>(n) * 4); return;
    case DType::kF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + i * 2, 2);
        dst[i] = f16_to_f32(h);
      }
      return;
    case DType::kBF16:
      for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + i * 2, 2);
        dst[i] = bf16_to_f32(h);
      }
      return;
  }
}

}  // namespace tandem::engine::cpu

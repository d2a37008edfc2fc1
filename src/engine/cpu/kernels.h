// The CPU runner's inner loops, behind one table of function pointers chosen
// per runner (select_kernels): an AVX2/FMA/F16C implementation
// (kernels_avx2.cpp, compiled with target attributes, used only when the CPU
// reports those features) and a portable one (kernels_portable.cpp), which
// [engine.cpu] kernels = "portable" asks for.
//
// Determinism contract (batch invariance): every output element is computed
// by the same sequence of float operations whatever the batch size, the tile
// it falls in, or the thread that runs it. Results may differ between the
// two tables (different summation order), never within one.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/engine_tuning.h"
#include "engine/model_weights.h"

namespace tandem::engine::cpu {

// y[t, r] (+)= sum_i W[r, i] * x[t, i] for r in [row_begin, row_end), t in [0, n_tokens).
// W: row-major [rows, k] of w_type (kF32, kF16 or kBF16), rows w_row_bytes apart.
// x: float [n_tokens, x_stride] (k used); y: float [n_tokens, y_stride].
struct MatmulArgs {
  const std::byte* w = nullptr;
  DType w_type = DType::kF32;
  size_t w_row_bytes = 0;
  int k = 0;
  const float* x = nullptr;
  size_t x_stride = 0;
  float* y = nullptr;
  size_t y_stride = 0;
  int row_begin = 0;
  int row_end = 0;
  int n_tokens = 0;
  bool accumulate = false;  // add to y instead of overwriting it
};

struct Kernels {
  const char* name;
  void (*matmul_rows)(const MatmulArgs& args);
  float (*dot)(const float* a, const float* b, int n);     // sum a[i] * b[i]
  void (*axpy)(float a, const float* x, float* y, int n);  // y[i] += a * x[i]
};

const Kernels& portable_kernels();
// The AVX2 table, or nullptr when this build or this CPU lacks AVX2/FMA/F16C.
const Kernels* avx2_kernels();
// The table for `choice`: portable when asked, else AVX2 where available.
const Kernels& select_kernels(CpuKernels choice);

// Converts n elements of type `type` at src to float.
void convert_to_f32(const std::byte* src, DType type, float* dst, int64_t n);

}  // namespace tandem::engine::cpu

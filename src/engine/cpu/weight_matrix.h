// A weight matrix as the CPU kernels read it: row-major [rows, cols], stored
// as f32, f16 or bf16 (converted to float32 inside the kernels; all math is
// float32). Built once at runner construction by stacking one or more loader
// tensors vertically (e.g. [wq; wk; wv] so one pass computes Q, K and V).
//
// Storage rule: 16-bit inputs keep their type unless f32 is requested; f32
// inputs become the requested type, except that a matrix holding a finite
// value outside the f16 range (|x| > 65504) stays f32 rather than overflow.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "engine/model_weights.h"

namespace tandem::engine::cpu {

class WeightMatrix {
 public:
  WeightMatrix() = default;

  // Stacks `parts` (each [rows_i, cols], same cols) into one matrix stored as
  // `storage`. The parts' data is released. Fails with kMalformedFile naming
  // `name` when a part is absent, not 2-D, or its cols differ.
  static Result<WeightMatrix> stack(std::span<Tensor* const> parts, DType storage, const std::string& name);

  int rows() const { return rows_; }
  int cols() const { return cols_; }
  DType dtype() const { return dtype_; }
  size_t row_bytes() const { return static_cast<size_t>(cols_) * dtype_size(dtype_); }
  const std::byte* data() const { return data_.data(); }
  size_t bytes() const { return data_.size(); }
  // Writes row r as float [cols].
  void row_to_f32(int r, float* out) const;

 private:
  int rows_ = 0;
  int cols_ = 0;
  DType dtype_ = DType::kF32;
  std::vector<std::byte> data_;
};

}  // namespace tandem::engine::cpu

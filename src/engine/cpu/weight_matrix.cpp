#include "engine/cpu/weight_matrix.h"

#include <cmath>
#include <cstring>

#include "engine/cpu/half.h"
#include "engine/cpu/kernels.h"

namespace tandem::engine::cpu {
namespace {

bool fits_f16(const Tensor& t) {
  if (t.dtype != DType::kF32) return t.dtype == DType::kF16;
  const float* p = t.f32();
  const int64_t n = t.numel();
  for (int64_t i = 0; i < n; ++i) {
    if (std::isfinite(p[i]) && std::fabs(p[i]) > 65504.0f) return false;
  }
  return true;
}

// Element type a part is stored as, given the requested storage.
DType storage_for(const Tensor& t, DType requested) {
  if (requested == DType::kF32) return DType::kF32;
  if (t.dtype != DType::kF32) return t.dtype;  // 16-bit input: kept exactly
  if (requested == DType::kF16 && !fits_f16(t)) return DType::kF32;
  return requested;
}

void convert_into(const Tensor& t, DType to, std::byte* dst) {
  const int64_t n = t.numel();
  if (t.dtype == to) {
    std::memcpy(dst, t.data.data(), t.data.size());
    return;
  }
  if (to == DType::kF32) {
    convert_to_f32(t.data.data(), t.dtype, reinterpret_cast<float*>(dst), n);
    return;
  }
  // f32 -> 16-bit (storage_for only converts down from f32).
  const float* src = t.f32();
  for (int64_t i = 0; i < n; ++i) {
    const uint16_t h = to == DType::kF16 ? f32_to_f16(src[i]) : f32_to_bf16(src[i]);
    std::memcpy(dst + i * 2, &h, 2);
  }
}

}  // namespace

Result<WeightMatrix> WeightMatrix::stack(std::span<Tensor* const> parts, DType storage, const std::string& name) {
  if (parts.empty()) return Status(ErrorKind::kInternal, name + ": no tensors to stack");
  int64_t rows = 0;
  const int64_t cols = parts[0]->shape.size() == 2 ? parts[0]->shape[1] : -1;
  for (const Tensor* t : parts) {
    if (!t->empty() && (t->shape.size() != 2 || t->shape[1] != cols)) {
      return Status(ErrorKind::kMalformedFile, name + ": expected a 2-D tensor with " + std::to_string(cols) +
                                                   " columns, got shape " + shape_string(t->shape));
    }
    if (Status s = check_tensor_data(*t, name); !s.ok()) return s;
    rows += t->shape[0];
  }
  if (rows <= 0 || cols <= 0 || rows > (int64_t{1} << 30) || cols > (int64_t{1} << 30)) {
    return Status(ErrorKind::kMalformedFile, name + ": unsupported shape");
  }
  // One storage type for the whole stack: the widest any part needs.
  DType type = storage_for(*parts[0], storage);
  for (const Tensor* t : parts) {
    const DType d = storage_for(*t, storage);
    if (d != type) type = DType::kF32;
  }
  WeightMatrix m;
  m.rows_ = static_cast<int>(rows);
  m.cols_ = static_cast<int>(cols);
  m.dtype_ = type;
  m.data_.resize(static_cast<size_t>(rows * cols) * dtype_size(type));
  std::byte* dst = m.data_.data();
  for (Tensor* t : parts) {
    convert_into(*t, type, dst);
    dst += static_cast<size_t>(t->numel()) * dtype_size(type);
    t->data.clear();
    t->data.shrink_to_fit();
  }
  return m;
}

void WeightMatrix::row_to_f32(int r, float* out) const {
  convert_to_f32(data_.data() + static_cast<size_t>(r) * row_bytes(), dtype_, out, cols_);
}

}  // namespace tandem::engine::cpu

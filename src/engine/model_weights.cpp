#include "engine/model_weights.h"

namespace tandem::engine {

size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::kF32: return 4;
    case DType::kF16: return 2;
    case DType::kBF16: return 2;
  }
  return 0;
}

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::kF32: return "f32";
    case DType::kF16: return "f16";
    case DType::kBF16: return "bf16";
  }
  return "unknown";
}

int64_t Tensor::numel() const {
  if (shape.empty()) return 0;
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_string(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

Status check_tensor_data(const Tensor& t, const std::string& name) {
  if (t.empty()) return Status(ErrorKind::kMalformedFile, name + ": tensor is missing");
  if (t.data.size() != static_cast<size_t>(t.numel()) * dtype_size(t.dtype)) {
    return Status(ErrorKind::kMalformedFile, name + ": data size does not match shape " + shape_string(t.shape));
  }
  return {};
}

Status check_tensor_shape(const Tensor& t, const std::vector<int64_t>& want, const std::string& name) {
  if (!t.empty() && t.shape != want) {
    return Status(ErrorKind::kMalformedFile,
                  name + ": shape " + shape_string(t.shape) + ", expected " + shape_string(want));
  }
  return check_tensor_data(t, name);
}

}  // namespace tandem::engine

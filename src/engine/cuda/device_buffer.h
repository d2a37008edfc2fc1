// DeviceBuffer: one cudaMalloc'd allocation, freed on destruction. Move-only.
// allocate() reports OOM as a kDevice Status naming what was being allocated.
// Threads: owned by one runner; not thread-safe.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "common/status.h"

namespace tandem::engine::cuda {

class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { reset(); }

  Status allocate(size_t bytes, const std::string& what) {
    reset();
    if (bytes == 0) return {};
    void* p = nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();  // clear the (non-sticky) allocation error
      return Status(ErrorKind::kDevice, "cuda: cannot allocate " + std::to_string(bytes >> 20) + " MiB for " + what +
                                            ": " + cudaGetErrorString(e));
    }
    ptr_ = p;
    bytes_ = bytes;
    return {};
  }
  void reset() {
    if (ptr_ != nullptr) cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  template <class T = void>
  T* get() const {
    return static_cast<T*>(ptr_);
  }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace tandem::engine::cuda

#include "engine/cuda/cuda_devices.h"

#include <cuda_runtime.h>

namespace tandem::engine::cuda {

Result<std::vector<DeviceInfo>> list_devices() {
  int count = 0;
  if (cudaError_t e = cudaGetDeviceCount(&count); e != cudaSuccess) {
    cudaGetLastError();  // reset the runtime's last-error state
    return Status(ErrorKind::kDevice, std::string("CUDA: ") + cudaGetErrorString(e));
  }
  std::vector<DeviceInfo> out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaError_t e = cudaGetDeviceProperties(&prop, i); e != cudaSuccess) {
      return Status(ErrorKind::kDevice, "CUDA device " + std::to_string(i) + ": " + cudaGetErrorString(e));
    }
    DeviceInfo d;
    d.ordinal = i;
    d.name = prop.name;
    d.compute_major = prop.major;
    d.compute_minor = prop.minor;
    d.total_bytes = prop.totalGlobalMem;
    if (cudaSetDevice(i) == cudaSuccess) {
      size_t free_b = 0, total_b = 0;
      if (cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) d.free_bytes = free_b;
    }
    cudaGetLastError();
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace tandem::engine::cuda

// engine::cuda::list_devices: the CUDA devices this process can use, for
// backend selection (`tandem serve`, [engine] backend = "auto") and `tandem
// doctor`. Keeps CUDA types inside src/engine/cuda (docs/style.md rule 2).
//
// Failure: kDevice with the CUDA runtime's message when there is no usable
// driver or device (e.g. "no CUDA-capable device is detected"). Thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace tandem::engine::cuda {

struct DeviceInfo {
  int ordinal = 0;
  std::string name;       // "NVIDIA H100 80GB HBM3"
  int compute_major = 0;  // 9 for Hopper
  int compute_minor = 0;
  size_t total_bytes = 0;
  size_t free_bytes = 0;
};

Result<std::vector<DeviceInfo>> list_devices();

}  // namespace tandem::engine::cuda

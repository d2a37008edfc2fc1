// What GPUs this host has, for `tandem doctor` and backend selection. Reads the
// NVIDIA driver's /proc files (no CUDA needed); CUDA builds add what the CUDA
// runtime reports (devices and memory).
#pragma once

#include <string>
#include <vector>

namespace tandem {

struct DeviceReport {
  std::string driver_version;     // "" when no NVIDIA driver is loaded
  std::vector<std::string> gpus;  // one human line per GPU
  bool cuda_built = false;        // this binary has the CUDA backend
  int cuda_devices = 0;           // devices the CUDA runtime sees (CUDA builds)
  std::string error;              // why CUDA sees no device, when it does not
};

DeviceReport probe_devices();

}  // namespace tandem

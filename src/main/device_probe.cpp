#include "main/device_probe.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#ifdef TANDEM_HAVE_CUDA
#include "engine/cuda/cuda_devices.h"
#endif

namespace tandem {
namespace {

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::ostringstream os;
  os << in.rdbuf();
  return os.str();
}

}  // namespace

DeviceReport probe_devices() {
  DeviceReport r;
  std::string version = read_file("/proc/driver/nvidia/version");
  std::smatch m;
  if (std::regex_search(version, m, std::regex(R"(Kernel Module\s+([0-9.]+))"))) {
    r.driver_version = m[1];
  } else if (std::regex_search(version, m, std::regex(R"(([0-9]{3,}\.[0-9.]+))"))) {
    r.driver_version = m[1];
  }
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/driver/nvidia/gpus", ec)) {
    std::string info = read_file(e.path() / "information");
    if (std::regex_search(info, m, std::regex(R"(Model:\s*(.*))"))) {
      r.gpus.push_back(std::string(m[1]) + " at " + e.path().filename().string());
    }
  }
#ifdef TANDEM_HAVE_CUDA
  r.cuda_built = true;
  auto devices = engine::cuda::list_devices();
  if (!devices.ok()) {
    r.error = devices.status().message();
  } else {
    r.gpus.clear();  // the CUDA runtime's view replaces the /proc one
    for (const auto& d : *devices) {
      char line[256];
      std::snprintf(line, sizeof line, "CUDA device %d: %s, compute %d.%d, %.1f GiB (%.1f GiB free)", d.ordinal,
                    d.name.c_str(), d.compute_major, d.compute_minor, d.total_bytes / 1073741824.0,
                    d.free_bytes / 1073741824.0);
      r.gpus.push_back(line);
    }
    r.cuda_devices = static_cast<int>(devices->size());
    if (devices->empty()) r.error = "the CUDA runtime sees no device";
  }
#endif
  return r;
}

}  // namespace tandem

#include "main/device_probe.h"

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

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
#endif
  return r;
}

}  // namespace tandem

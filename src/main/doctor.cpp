#include "main/doctor.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "common/engine_tuning.h"
#include "engine/model_loader.h"
#include "main/device_probe.h"

namespace tandem {
namespace {

struct Report {
  int problems = 0;
  void ok(const std::string& what, const std::string& detail) {
    std::printf("ok       %-8s %s\n", what.c_str(), detail.c_str());
  }
  void warn(const std::string& what, const std::string& detail) {
    std::printf("warn     %-8s %s\n", what.c_str(), detail.c_str());
  }
  void problem(const std::string& what, const std::string& detail, const std::string& fix) {
    ++problems;
    std::printf("problem  %-8s %s\n         fix: %s\n", what.c_str(), detail.c_str(), fix.c_str());
  }
};

// True if host:port can be bound now (port 0 always can).
std::string try_bind(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  std::string port_s = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), port_s.c_str(), &hints, &res); rc != 0) {
    return std::string("cannot resolve host: ") + gai_strerror(rc);
  }
  std::string error;
  int fd = socket(res->ai_family, res->ai_socktype, res->ai_protocol);
  if (fd < 0) {
    error = "socket() failed";
  } else {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) error = std::strerror(errno);
    close(fd);
  }
  freeaddrinfo(res);
  return error;
}

}  // namespace

int run_doctor(const Config& config, const std::string& config_path) {
  Report r;
  std::printf("tandem doctor\n");
  r.ok("config", config_path.empty() ? "built-in defaults (no --config given)" : config_path + " is valid");

  // Driver and GPUs: not looked at when the CPU backend is asked for.
  const bool cpu_only = config.engine.backend == "cpu";
  if (cpu_only) {
    r.ok("backend", "cpu (GPUs are not used)");
  } else {
    const DeviceReport dev = probe_devices();
    if (!dev.driver_version.empty())
      r.ok("driver", "NVIDIA driver " + dev.driver_version);
    else
      r.warn("driver", "no NVIDIA driver found (the CPU backend will serve)");
    for (const auto& gpu : dev.gpus) r.ok("gpu", gpu);
    if (!dev.cuda_built) {
      if (config.engine.backend == "cuda") {
        r.problem("gpu", "backend = \"cuda\" but this binary was built without CUDA",
                  "install a CUDA build of tandem or set [engine] backend = \"cpu\"");
      } else {
        r.warn("gpu", "this binary was built without CUDA; serving on the CPU");
      }
    } else if (!dev.error.empty()) {
      if (config.engine.backend == "cuda") {
        r.problem("gpu", dev.error, "check the driver (nvidia-smi) and device permissions");
      } else {
        r.warn("gpu", dev.error + "; serving on the CPU");
      }
    }
  }

  // Kernel choices in force ([engine.cuda], [engine.cpu], then the environment).
  if (!cpu_only) r.ok("tuning", "engine.cuda: " + describe(config.engine.tuning.cuda));
  r.ok("tuning", "engine.cpu: " + describe(config.engine.tuning.cpu));
  if (!config.engine.tuning.from_environment.empty()) {
    std::string vars;
    for (const std::string& v : config.engine.tuning.from_environment) vars += " " + v;
    r.warn("tuning", "from the environment, over the config file:" + vars);
  }

  // Model.
  if (config.model.path.empty()) {
    r.problem("model", "no model configured",
              "set [model] path in the config or pass --model PATH (.gguf file or HF directory)");
  } else {
    auto info = engine::inspect_model(config.model.path);
    if (!info.ok()) {
      r.problem("model", info.status().message(),
                "point [model] path at a readable .gguf file or Hugging Face directory");
    } else {
      const auto& s = info->spec;
      r.ok("model", config.model.path + " (" + info->format + ", " + engine::architecture_name(s.arch) + ", " +
                        std::to_string(s.n_layers) + " layers, hidden " + std::to_string(s.hidden) + ", context " +
                        std::to_string(s.max_position) + ")");
    }
  }

  // Port.
  if (std::string err = try_bind(config.server.host, config.server.port); err.empty()) {
    r.ok("port", config.server.host + ":" + std::to_string(config.server.port) + " is free");
  } else {
    r.problem("port", config.server.host + ":" + std::to_string(config.server.port) + ": " + err,
              "stop what uses the port or set [server] port / --port");
  }

  // State directory: the package creates it; nothing is stored there yet (the disk KV tier and the profiles
  // will be), so only its free space is shown.
  const std::string state = "/var/lib/tandem";
  struct statvfs vfs {};
  if (std::filesystem::is_directory(state) && statvfs(state.c_str(), &vfs) == 0) {
    const double free_gib = static_cast<double>(vfs.f_bavail) * vfs.f_frsize / (1024.0 * 1024 * 1024);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s: %.1f GiB free (nothing is stored there yet)", state.c_str(), free_gib);
    r.ok("state", buf);
  }

  std::printf("%s\n",
              r.problems == 0 ? "no problems found" : (std::to_string(r.problems) + " problem(s) found").c_str());
  return r.problems == 0 ? 0 : 1;
}

}  // namespace tandem

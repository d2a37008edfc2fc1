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
#include <optional>
#include <string>
#include <thread>

#include "common/engine_tuning.h"
#include "engine/model_loader.h"
#include "kv/disk_index.h"
#include "main/device_probe.h"
#include "main/kv_tiers.h"

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

// The disk KV tier's store: per worker subdirectory, its blocks and whether
// they belong to the configured model (fingerprints for the CPU's f32 and
// CUDA's bf16 KV).
void report_kv_store(Report& r, const Config& config, const engine::ModelSpec* spec) {
  const KvConfig& k = config.kv;
  if (k.host_cache_gib <= 0) {
    r.ok("kv-tiers", "off ([kv] host_cache_gib = 0)");
  } else {
    char buf[160];
    std::snprintf(buf, sizeof buf, "host %.2f GiB, disk %.2f GiB (totals over the workers)", k.host_cache_gib,
                  k.disk_cache_gib);
    r.ok("kv-tiers", buf);
  }
  namespace fs = std::filesystem;
  const fs::path dir(k.disk_cache_dir);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (k.disk_cache_gib > 0) {
      const fs::path parent = dir.parent_path();
      if (access(parent.c_str(), W_OK | X_OK) == 0) {
        r.ok("kv-store", dir.string() + ": not created yet (made at the first start)");
      } else if (k.disk_cache_dir_set) {
        r.problem("kv-store", dir.string() + " does not exist and " + parent.string() + " is not writable",
                  "create it for the user tandem runs as, or set [kv] disk_cache_dir");
      } else {
        r.warn("kv-store", dir.string() + " cannot be created: the disk tier will be off");
      }
    }
    return;
  }
  if (k.disk_cache_gib > 0 && access(dir.c_str(), W_OK | X_OK) != 0) {
    if (k.disk_cache_dir_set) {
      r.problem("kv-store", dir.string() + " is not writable", "give the user tandem runs as write access");
    } else {
      r.warn("kv-store", dir.string() + " is not writable: the disk tier will be off");
    }
  }
  std::string fp_f32, fp_bf16;
  if (spec != nullptr) {
    const int bt = config.engine.kv_block_tokens;
    const size_t elems = static_cast<size_t>(spec->n_layers) * 2 * bt * spec->n_kv_heads * spec->head_dim;
    fp_f32 = main::model_fingerprint(config.model.path, "f32", bt, elems * 4);
    fp_bf16 = main::model_fingerprint(config.model.path, "bf16", bt, elems * 2);
  }
  for (const auto& sub : fs::directory_iterator(dir, ec)) {
    const fs::path db = sub.path() / "index.sqlite";
    if (!fs::is_regular_file(db, ec)) continue;
    auto index = kv::DiskIndex::open(db.string());
    auto rows = index.ok() ? index.value()->rows() : Result<std::vector<kv::DiskRow>>(index.status());
    if (!rows.ok()) {
      r.problem("kv-store", rows.status().message(), "remove " + sub.path().string() + " (it is only a cache)");
      continue;
    }
    int64_t mine = 0, other = 0;
    uint64_t bytes = 0;
    std::string which;
    for (const kv::DiskRow& row : *rows) {
      bytes += row.length;
      if (!fp_f32.empty() && (row.fingerprint == fp_f32 || row.fingerprint == fp_bf16)) {
        ++mine;
        which = row.fingerprint == fp_f32 ? "f32, CPU" : "bf16, CUDA";
      } else {
        ++other;
      }
    }
    char buf[320];
    std::snprintf(buf, sizeof buf,
                  "%s: %zu blocks, %.1f MiB; %lld for the configured model%s%s%s; %lld of another "
                  "model or layout (reclaimed at the next start)",
                  sub.path().c_str(), rows->size(), static_cast<double>(bytes) / (1024.0 * 1024.0),
                  static_cast<long long>(mine), which.empty() ? "" : " (", which.c_str(), which.empty() ? "" : ")",
                  static_cast<long long>(other));
    r.ok("kv-store", buf);
  }
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
  std::optional<engine::ModelSpec> spec;
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
      spec = s;
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

  report_kv_store(r, config, spec ? &*spec : nullptr);

  // State directory: the package creates it (the disk KV tier's default place; the profiles will be there too);
  // its free space is shown.
  const std::string state = "/var/lib/tandem";
  struct statvfs vfs {};
  if (std::filesystem::is_directory(state) && statvfs(state.c_str(), &vfs) == 0) {
    const double free_gib = static_cast<double>(vfs.f_bavail) * vfs.f_frsize / (1024.0 * 1024 * 1024);
    char buf[128];
    std::snprintf(buf, sizeof buf, "%s: %.1f GiB free", state.c_str(), free_gib);
    r.ok("state", buf);
  }

  std::printf("%s\n",
              r.problems == 0 ? "no problems found" : (std::to_string(r.problems) + " problem(s) found").c_str());
  return r.problems == 0 ? 0 : 1;
}

}  // namespace tandem

#include "main/kv_tiers.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <vector>

namespace tandem::main {
namespace {

namespace fs = std::filesystem;

// FNV-1a, 64 bits: stable across builds and platforms (unlike std::hash).
uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::string file_identity(const fs::path& p) {
  std::error_code ec;
  const auto size = fs::file_size(p, ec);
  const auto mtime = fs::last_write_time(p, ec).time_since_epoch().count();
  return p.filename().string() + ":" + std::to_string(ec ? 0 : size) + ":" + std::to_string(ec ? 0 : mtime) + ";";
}

}  // namespace

std::string model_fingerprint(const std::string& model_path, const std::string& kv_dtype, int block_tokens,
                              size_t block_bytes) {
  std::string key = "tandem-kv-1|";
  std::error_code ec;
  if (fs::is_directory(model_path, ec)) {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(model_path, ec)) {
      if (e.is_regular_file(ec)) files.push_back(e.path());
    }
    std::sort(files.begin(), files.end());
    for (const fs::path& f : files) key += file_identity(f);
  } else {
    key += file_identity(model_path);
  }
  key += "|" + kv_dtype + "|" + std::to_string(block_tokens) + "|" + std::to_string(block_bytes);
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64, fnv1a(key));
  return hex;
}

std::shared_ptr<kv::TierCache> open_worker_tiers(const Config& config, const std::string& worker, int workers,
                                                 engine::Runner& runner, const std::string& kv_dtype,
                                                 metrics::Registry* registry, bool* warned) {
  const KvConfig& k = config.kv;
  if (k.host_cache_gib <= 0) return nullptr;
  // Tier blocks move through export_blocks/import_blocks; a backend without
  // them cannot have tiers (serve refuses tiers on CUDA workers before this).
  if (Status st = runner.export_blocks({}, {}); !st.ok()) {
    throw ConfigError("[kv] host_cache_gib: the KV tiers need a backend that can copy KV blocks out and in (" +
                      st.message() + "); set host_cache_gib = 0");
  }
  const double gib = 1024.0 * 1024.0 * 1024.0;
  const size_t block_bytes = runner.block_bytes();
  kv::TierCacheOptions o;
  o.worker = worker;
  o.block_bytes = block_bytes;
  o.host_blocks = static_cast<int64_t>(k.host_cache_gib * gib / workers / static_cast<double>(block_bytes));
  if (o.host_blocks < 1) {
    throw ConfigError("[kv] host_cache_gib: expected room for at least one KV block (" +
                      std::to_string(block_bytes >> 10) + " KiB) per worker, got " + std::to_string(k.host_cache_gib) +
                      " GiB over " + std::to_string(workers) + " worker(s)");
  }
  engine::Runner* r = &runner;
  o.host_memory.allocate = [r](size_t bytes) { return r->allocate_host_memory(bytes); };
  o.host_memory.release = [r](void* p) { r->free_host_memory(p); };
  o.disk_admit_uses = static_cast<uint32_t>(k.disk_admit_uses);
  if (k.disk_cache_gib > 0) {
    o.disk_blocks = static_cast<int64_t>(k.disk_cache_gib * gib / workers / static_cast<double>(block_bytes));
    if (o.disk_blocks < 1) {
      throw ConfigError("[kv] disk_cache_gib: expected room for at least one KV block (" +
                        std::to_string(block_bytes >> 10) + " KiB) per worker, got " +
                        std::to_string(k.disk_cache_gib) + " GiB over " + std::to_string(workers) + " worker(s)");
    }
    o.disk_dir = (fs::path(k.disk_cache_dir) / worker).string();
    o.fingerprint = model_fingerprint(config.model.path, kv_dtype, runner.block_tokens(), block_bytes);
  }
  auto opened = kv::TierCache::open(o, {}, registry);
  if (!opened.ok() && o.disk_blocks > 0 && !k.disk_cache_dir_set) {
    if (!*warned) {
      spdlog::warn("[kv] the disk KV tier is off: {} (set [kv] disk_cache_dir to a writable directory)",
                   opened.status().message());
      *warned = true;
    }
    o.disk_blocks = 0;
    opened = kv::TierCache::open(o, {}, registry);
  }
  if (!opened.ok()) {
    throw ConfigError(std::string(o.disk_blocks > 0 ? "[kv] disk_cache_dir: " : "[kv] host_cache_gib: ") +
                      opened.status().message());
  }
  std::shared_ptr<kv::TierCache> tiers = std::move(opened).value();
  spdlog::info("[kv] worker={} tiers: host {} blocks ({} MiB), disk {} blocks{}{}", worker, o.host_blocks,
               (static_cast<size_t>(o.host_blocks) * block_bytes) >> 20, o.disk_blocks, o.disk_blocks > 0 ? " in " : "",
               o.disk_blocks > 0 ? o.disk_dir : "");
  return tiers;
}

}  // namespace tandem::main

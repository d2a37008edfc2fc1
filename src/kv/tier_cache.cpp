#include "kv/tier_cache.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/check.h"

namespace tandem::kv {
namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }
}  // namespace

// Per-tier series (label tier = host | disk; hit tokens also device). Null
// without a registry.
struct TierCache::Metrics {
  struct PerTier {
    metrics::Gauge* used = nullptr;
    metrics::Gauge* capacity = nullptr;
    metrics::Counter* offloaded_blocks = nullptr;
    metrics::Counter* offloaded_bytes = nullptr;
    metrics::Counter* offload_seconds = nullptr;
    metrics::Counter* onboarded_blocks = nullptr;
    metrics::Counter* onboarded_bytes = nullptr;
    metrics::Counter* onboard_seconds = nullptr;
  };
  PerTier tier[3];                             // by KvTier (kDevice unused but for hit_tokens)
  metrics::Counter* hit_tokens[3] = {};        // tandem_kv_tier_hit_tokens_total
  metrics::Counter* dropped_writes = nullptr;  // tandem_kv_disk_dropped_writes_total
  metrics::Counter* corrupt = nullptr;         // tandem_kv_disk_corrupt_blocks_total
  DiskCounters last_disk;                      // disk counters already added

  Metrics(metrics::Registry* r, const std::string& worker) {
    if (r == nullptr) return;
    for (KvTier t : {KvTier::kDevice, KvTier::kHost, KvTier::kDisk}) {
      const metrics::Labels l = {{"worker", worker}, {"tier", kv_tier_name(t)}};
      hit_tokens[static_cast<int>(t)] =
          &r->counter("tandem_kv_tier_hit_tokens_total",
                      "Prompt tokens found cached at admission, by the tier they were found in.", l);
      if (t == KvTier::kDevice) continue;
      PerTier& p = tier[static_cast<int>(t)];
      p.used = &r->gauge("tandem_kv_tier_blocks_used", "KV blocks held in the tier (host memory or disk).", l);
      p.capacity = &r->gauge("tandem_kv_tier_blocks_capacity", "KV blocks the tier can hold.", l);
      p.offloaded_blocks = &r->counter("tandem_kv_offloaded_blocks_total",
                                       "KV blocks written into the tier (host: from the device; disk: from host).", l);
      p.offloaded_bytes = &r->counter("tandem_kv_offloaded_bytes_total", "Bytes of those blocks.", l);
      p.offload_seconds = &r->counter("tandem_kv_offload_seconds_total", "Time spent writing those blocks.", l);
      p.onboarded_blocks = &r->counter("tandem_kv_onboarded_blocks_total",
                                       "KV blocks loaded from the tier back into the device pool (tier hits).", l);
      p.onboarded_bytes = &r->counter("tandem_kv_onboarded_bytes_total", "Bytes of those blocks.", l);
      p.onboard_seconds =
          &r->counter("tandem_kv_onboard_seconds_total", "Time spent loading those blocks (disk: read + verify).", l);
    }
    const metrics::Labels l = {{"worker", worker}};
    dropped_writes = &r->counter("tandem_kv_disk_dropped_writes_total",
                                 "Blocks not written to the disk tier (writer queue full, or a write failed).", l);
    corrupt = &r->counter("tandem_kv_disk_corrupt_blocks_total",
                          "Disk blocks that failed their size or checksum check on read (dropped, not served).", l);
  }
};

Result<std::unique_ptr<TierCache>> TierCache::open(TierCacheOptions options, KvEventSink sink,
                                                   metrics::Registry* registry) {
  TANDEM_CHECK(options.block_bytes >= 1 && options.host_blocks >= 1 && options.disk_admit_uses >= 1);
  std::unique_ptr<TierCache> t(new TierCache(std::move(options), std::move(sink), registry));
  auto host = HostTier::create(t->options_.block_bytes, t->options_.host_blocks, t->options_.host_memory);
  if (!host.ok()) return host.status();
  t->host_ = std::move(host).value();
  if (t->options_.disk_blocks > 0) {
    DiskStoreOptions d;
    d.dir = t->options_.disk_dir;
    d.fingerprint = t->options_.fingerprint;
    d.block_bytes = t->options_.block_bytes;
    d.capacity = t->options_.disk_blocks;
    d.max_pending = t->options_.disk_max_pending;
    auto disk = DiskStore::open(
        d, [p = t.get()](KvEventKind kind, BlockHash h, BlockHash parent, std::span<const int32_t> tokens) {
          p->emit(kind, KvTier::kDisk, h, parent, tokens);
        });
    if (!disk.ok()) return disk.status();
    t->disk_ = std::move(disk).value();
    const DiskOpenReport& r = t->disk_->open_report();
    spdlog::info(
        "[kv] worker={} disk tier {}: {} blocks kept, {} of another model reclaimed, {} unusable dropped, {} stray "
        "files removed (capacity {} blocks)",
        t->options_.worker, d.dir, r.kept, r.reclaimed, r.dropped, r.orphans, d.capacity);
  }
  t->figures_.host_capacity = t->options_.host_blocks;
  t->figures_.disk_capacity = t->disk_ ? t->options_.disk_blocks : 0;
  t->update_metrics();
  return t;
}

TierCache::TierCache(TierCacheOptions options, KvEventSink sink, metrics::Registry* registry)
    : options_(std::move(options)),
      metrics_(std::make_unique<Metrics>(registry, options_.worker)),
      uses_(static_cast<size_t>(std::max<int64_t>(1024, 4 * (options_.host_blocks + options_.disk_blocks)))),
      sink_(std::move(sink)) {}

TierCache::~TierCache() {
  disk_.reset();  // its writer finishes what is queued and may still emit
}

void TierCache::emit(KvEventKind kind, KvTier tier, BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) {
  KvEvent e;
  e.worker = options_.worker;
  e.kind = kind;
  e.tier = tier;
  e.block_hash = hash;
  e.parent_hash = parent;
  e.tokens.assign(tokens.begin(), tokens.end());
  std::lock_guard<std::mutex> lock(events_mu_);
  e.seq_no = seq_no_[static_cast<int>(tier)]++;
  if (sink_) sink_(e);
}

void TierCache::set_sink(KvEventSink sink) {
  std::lock_guard<std::mutex> lock(events_mu_);
  sink_ = std::move(sink);
}

std::optional<KvTier> TierCache::find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const {
  {
    std::lock_guard<std::mutex> lock(host_mu_);
    if (host_->find(hash, parent, tokens) != nullptr) return KvTier::kHost;
  }
  if (disk_ && disk_->find(hash, parent, tokens)) return KvTier::kDisk;
  return std::nullopt;
}

void TierCache::on_host_evict(BlockHash hash, const HostEntry& e, std::span<const std::byte> data) {
  emit(KvEventKind::kEvicted, KvTier::kHost, hash, e.parent, e.tokens);
  if (disk_ && e.uses >= options_.disk_admit_uses && !disk_->contains(hash)) {
    disk_->put(hash, e.parent, e.tokens, data, e.uses);
  }
}

bool TierCache::onboard(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens,
                        const std::function<Status(std::span<const std::byte>)>& import, KvTier* from) {
  const auto t0 = Clock::now();
  std::lock_guard<std::mutex> lock(host_mu_);
  KvTier tier = KvTier::kHost;
  if (host_->find(hash, parent, tokens) == nullptr) {
    if (!disk_ || host_->contains(hash)) return false;  // absent, or a colliding host block
    tier = KvTier::kDisk;
    std::span<std::byte> slot = host_->insert(
        hash, parent, tokens,
        [this](BlockHash h, const HostEntry& e, std::span<const std::byte> data) { on_host_evict(h, e, data); });
    if (disk_->read(hash, parent, tokens, slot) != DiskRead::kOk) {
      host_->erase(hash);
      return false;
    }
    emit(KvEventKind::kStored, KvTier::kHost, hash, parent, tokens);
  } else {
    host_->touch(hash);
  }
  host_->entry(hash)->uses = uses_.add(hash);
  const std::span<std::byte> bytes = host_->data(hash);
  if (Status st = import(bytes); !st.ok()) {
    spdlog::warn("[kv] worker={} importing block {:016x} from the {} tier failed: {}", options_.worker, hash,
                 kv_tier_name(tier), st.message());
    return false;
  }
  if (from) *from = tier;
  const double s = since(t0);
  if (tier == KvTier::kHost) {
    ++figures_.onboarded_host;
  } else {
    ++figures_.onboarded_disk;
  }
  Metrics::PerTier& m = metrics_->tier[static_cast<int>(tier)];
  if (m.onboarded_blocks) {
    m.onboarded_blocks->inc();
    m.onboarded_bytes->inc(static_cast<double>(bytes.size()));
    m.onboard_seconds->inc(s);
  }
  return true;
}

void TierCache::offload(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens,
                        const std::function<Status(std::span<std::byte>)>& fill) {
  std::lock_guard<std::mutex> lock(host_mu_);
  if (host_->contains(hash)) return;  // held (its use was counted by touch)
  const uint32_t uses = uses_.add(hash);
  const auto t0 = Clock::now();
  std::span<std::byte> slot = host_->insert(
      hash, parent, tokens,
      [this](BlockHash h, const HostEntry& e, std::span<const std::byte> data) { on_host_evict(h, e, data); });
  if (Status st = fill(slot); !st.ok()) {
    spdlog::warn("[kv] worker={} offloading block {:016x} to host memory failed: {}", options_.worker, hash,
                 st.message());
    host_->erase(hash);
    return;
  }
  host_->entry(hash)->uses = uses;
  ++figures_.offloaded_host;
  Metrics::PerTier& m = metrics_->tier[static_cast<int>(KvTier::kHost)];
  if (m.offloaded_blocks) {
    m.offloaded_blocks->inc();
    m.offloaded_bytes->inc(static_cast<double>(slot.size()));
    m.offload_seconds->inc(since(t0));
  }
  emit(KvEventKind::kStored, KvTier::kHost, hash, parent, tokens);
}

void TierCache::touch(BlockHash hash) {
  std::lock_guard<std::mutex> lock(host_mu_);
  const uint32_t uses = uses_.add(hash);
  host_->touch(hash);
  if (HostEntry* e = host_->entry(hash)) e->uses = uses;
}

void TierCache::count_hit(KvTier tier, int tokens) {
  metrics::Counter* c = metrics_->hit_tokens[static_cast<int>(tier)];
  if (c && tokens > 0) c->inc(tokens);
}

void TierCache::flush() {
  if (!disk_) return;
  int64_t queued = 0;
  {
    std::lock_guard<std::mutex> lock(host_mu_);
    host_->for_each([&](BlockHash h, const HostEntry& e, std::span<const std::byte> data) {
      if (e.uses >= options_.disk_admit_uses && !disk_->contains(h)) {
        if (disk_->put(h, e.parent, e.tokens, data, e.uses, /*wait=*/true)) ++queued;
      }
    });
  }
  disk_->drain();
  if (queued > 0) spdlog::info("[kv] worker={} wrote {} host blocks to the disk tier", options_.worker, queued);
  update_metrics();
}

void TierCache::update_metrics() {
  std::lock_guard<std::mutex> lock(host_mu_);
  figures_.host_blocks = host_->size();
  if (disk_) {
    figures_.disk_blocks = disk_->size();
    const DiskCounters c = disk_->counters();
    figures_.disk_written = c.written_blocks;
    figures_.disk_dropped_writes = c.dropped_writes;
    figures_.disk_corrupt = c.corrupt;
    Metrics& m = *metrics_;
    Metrics::PerTier& d = m.tier[static_cast<int>(KvTier::kDisk)];
    if (d.offloaded_blocks) {
      d.offloaded_blocks->inc(static_cast<double>(c.written_blocks - m.last_disk.written_blocks));
      d.offloaded_bytes->inc(static_cast<double>(c.written_bytes - m.last_disk.written_bytes));
      d.offload_seconds->inc(c.write_seconds - m.last_disk.write_seconds);
      m.dropped_writes->inc(static_cast<double>(c.dropped_writes - m.last_disk.dropped_writes));
      m.corrupt->inc(static_cast<double>(c.corrupt - m.last_disk.corrupt));
      d.used->set(static_cast<double>(figures_.disk_blocks));
      d.capacity->set(static_cast<double>(figures_.disk_capacity));
    }
    m.last_disk = c;
  }
  Metrics::PerTier& h = metrics_->tier[static_cast<int>(KvTier::kHost)];
  if (h.used) {
    h.used->set(static_cast<double>(figures_.host_blocks));
    h.capacity->set(static_cast<double>(figures_.host_capacity));
  }
}

void TierCache::announce(const std::function<void()>& switch_sink) {
  std::lock_guard<std::mutex> lock(host_mu_);
  auto host_blocks = [&] {
    if (switch_sink) switch_sink();
    host_->for_each([&](BlockHash h, const HostEntry& e, std::span<const std::byte>) {
      emit(KvEventKind::kStored, KvTier::kHost, h, e.parent, e.tokens);
    });
  };
  if (!disk_) {
    host_blocks();
    return;
  }
  disk_->for_each(
      [&](BlockHash h, BlockHash parent, std::span<const int32_t> tokens) {
        emit(KvEventKind::kStored, KvTier::kDisk, h, parent, tokens);
      },
      host_blocks);
}

TierFigures TierCache::figures() const {
  std::lock_guard<std::mutex> lock(host_mu_);
  TierFigures f = figures_;
  f.host_blocks = host_->size();
  if (disk_) {
    f.disk_blocks = disk_->size();
    const DiskCounters c = disk_->counters();
    f.disk_written = c.written_blocks;
    f.disk_dropped_writes = c.dropped_writes;
    f.disk_corrupt = c.corrupt;
  }
  return f;
}

}  // namespace tandem::kv

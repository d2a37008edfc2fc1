// kv::TierCache: the KV tiers under one worker's device pool (docs/design.md,
// "Tiers"): a host-memory tier (kv::HostTier) and, below it, a disk tier
// (kv::DiskStore) that survives restarts. Blocks are whole blocks of bytes in
// the runner's layout, keyed by the chained block hash (model salt and
// cache_salt included, as the device prefix cache keys them).
//
// Data path (the worker calls; the runner's export_blocks/import_blocks move
// the bytes, the one block-copy path shared with disaggregation):
//   offload  every block the device pool stores (full, hashed) is written
//            through to the host tier as it fills (a block already there just
//            gets one more use). A host eviction writes the block to disk when
//            it was used by at least `disk_admit_uses` requests recently (a
//            kv::FrequencySketch, which remembers blocks no tier holds any
//            more) and the disk does not hold it: the frequency filter, so
//            one-off prefixes do not churn the disk. Disk writes run on the
//            store's writer thread.
//   onboard  a prompt block missing on the device but found here is read
//            into a fresh device block before the request's first chunk runs;
//            a disk block goes disk -> host -> device (it then sits in the
//            host tier too). A block that fails its checksum is dropped and
//            the prompt is computed from there.
//   flush    at shutdown, host blocks that pass the filter go to disk.
//
// KV events: every block entering or leaving a tier is a kStored/kEvicted
// event with `tier` set (kHost, kDisk), through the sink given at open();
// seq_no counts per tier. announce() repeats a kStored event for everything
// held (for a new sink, and for the disk blocks found at start).
//
// Threading: the worker thread calls find/onboard/offload/touch/flush; the
// disk store's writer thread emits disk events; announce() and the figures
// may be called from any thread. Lock order: host mutex, disk store mutex,
// event mutex, then the sink's own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "common/metrics.h"
#include "common/status.h"
#include "kv/block_hash.h"
#include "kv/disk_store.h"
#include "kv/frequency_sketch.h"
#include "kv/host_tier.h"
#include "kv/kv_event.h"

namespace tandem::kv {

struct TierCacheOptions {
  std::string worker;            // KvEvent::worker and the metrics label
  size_t block_bytes = 0;        // the runner's block_bytes(), >= 1
  int64_t host_blocks = 0;       // >= 1
  HostMemory host_memory;        // empty: plain memory
  int64_t disk_blocks = 0;       // 0: no disk tier
  std::string disk_dir;          // this worker's directory (disk_blocks > 0)
  std::string fingerprint;       // the model fingerprint (disk_blocks > 0)
  uint32_t disk_admit_uses = 2;  // >= 1
  size_t disk_max_pending = 64;  // queued disk writes before more are dropped
};

// What a tier holds and did, for tests and `tandem doctor` (the metrics carry the same).
struct TierFigures {
  int64_t host_blocks = 0, host_capacity = 0;
  int64_t disk_blocks = 0, disk_capacity = 0;
  uint64_t offloaded_host = 0, onboarded_host = 0, onboarded_disk = 0;
  uint64_t disk_written = 0, disk_dropped_writes = 0, disk_corrupt = 0;
};

class TierCache {
 public:
  // kIo when the host memory cannot be allocated or the disk store not
  // opened (the message names the directory). `registry` may be null.
  static Result<std::unique_ptr<TierCache>> open(TierCacheOptions options, KvEventSink sink,
                                                 metrics::Registry* registry);
  ~TierCache();
  TierCache(const TierCache&) = delete;
  TierCache& operator=(const TierCache&) = delete;

  // Where the events go from now on (replaces the sink given to open()).
  void set_sink(KvEventSink sink);

  // Worker thread. Where a block is held below the device (host first).
  std::optional<KvTier> find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const;
  // Hands the block's bytes (in host memory) to `import`; false, importing
  // nothing, when it is not held, fails its checksum, or `import` fails.
  // `from` receives the tier it came from.
  bool onboard(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens,
               const std::function<Status(std::span<const std::byte>)>& import, KvTier* from);
  // Write-through of a block the device pool just stored: `fill` writes its
  // bytes into a host slot (not called when the host tier holds it already).
  void offload(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens,
               const std::function<Status(std::span<std::byte>)>& fill);
  // A request reused the block on the device: one more use.
  void touch(BlockHash hash);
  // Prompt tokens a request found in `tier` (device included): the hit metric.
  void count_hit(KvTier tier, int tokens);
  // Host blocks that pass the filter and are not on disk go to disk; waits
  // until they are written. For shutdown.
  void flush();
  // Refreshes the gauges and the disk writer's counters (after a step).
  void update_metrics();

  // Any thread. Runs `switch_sink` (which replaces where the events go, e.g.
  // the worker's sink) and then emits kStored for every held block, with the
  // tiers locked so that no event falls between the two.
  void announce(const std::function<void()>& switch_sink = {});
  TierFigures figures() const;
  const DiskOpenReport* disk_report() const { return disk_ ? &disk_->open_report() : nullptr; }

 private:
  struct Metrics;
  TierCache(TierCacheOptions options, KvEventSink sink, metrics::Registry* registry);
  void emit(KvEventKind kind, KvTier tier, BlockHash hash, BlockHash parent, std::span<const int32_t> tokens);
  void on_host_evict(BlockHash hash, const HostEntry& e, std::span<const std::byte> data);

  TierCacheOptions options_;
  std::unique_ptr<Metrics> metrics_;

  mutable std::mutex host_mu_;  // guards host_ and the figures
  std::unique_ptr<HostTier> host_;
  FrequencySketch uses_;             // recent uses per hash, also of blocks no tier holds
  std::unique_ptr<DiskStore> disk_;  // thread-safe itself
  TierFigures figures_;

  std::mutex events_mu_;
  KvEventSink sink_;
  uint64_t seq_no_[3] = {0, 0, 0};  // per KvTier
};

}  // namespace tandem::kv

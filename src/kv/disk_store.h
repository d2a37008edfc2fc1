// kv::DiskStore: the disk tier of one worker: whole KV blocks in files of a
// directory, indexed by kv::DiskIndex (SQLite, `index.sqlite` beside them),
// surviving restarts.
//
// Layout: block `hash` is the file `<16 hex digits of hash>.kv` (offset 0,
// length block_bytes). A row also holds the block's parent hash and tokens
// (a lookup compares them), its CRC-32C, the model fingerprint (weights,
// tokenizer, block size, KV dtype: a different model never reads these
// bytes), its uses and last use.
//
// Crash consistency (kill -9 at any moment leaves a store that opens):
//   write: the block file is written in full (write(2), no fsync), then the
//          row is committed. A crash in between leaves a file without a row:
//          removed at the next open.
//   evict: the row is deleted (committed), then the file. A crash in between
//          leaves a file without a row: removed at the next open.
// Data is not fsynced: a kill -9 cannot lose it (the page cache outlives the
// process); a power loss can, and such a block then fails its size or
// checksum check and is dropped, never served.
//
// Open: rows of another fingerprint are deleted with their files (reclaimed),
// rows whose file is missing or short are dropped, files without a row are
// removed, and the store is trimmed to its capacity (oldest last use first).
// Read: the checksum is verified on every read; a mismatch drops the block
// (row and file) and reports kCorrupt.
//
// Threading: thread-safe. put() queues the block for a writer thread (one
// per store) and returns at once; a full queue drops the block (counted).
// read() and the lookups run on the caller's thread. `on_event` is called
// with the store's mutex held (stored after a commit; evicted when a block
// leaves: capacity, corruption): it must not call back into the store.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "kv/block_hash.h"
#include "kv/disk_index.h"
#include "kv/kv_event.h"

namespace tandem::kv {

struct DiskStoreOptions {
  std::string dir;          // created when missing (with parents)
  std::string fingerprint;  // the model fingerprint, non-empty
  size_t block_bytes = 0;   // >= 1
  int64_t capacity = 0;     // blocks, >= 1
  size_t max_pending = 64;  // queued writes before put() drops
};

struct DiskOpenReport {
  int64_t kept = 0;       // blocks of this fingerprint found
  int64_t reclaimed = 0;  // rows (and files) of another fingerprint deleted
  int64_t dropped = 0;    // rows whose file was missing or short, and blocks beyond the capacity
  int64_t orphans = 0;    // files without a row removed
};

enum class DiskRead {
  kOk,
  kMissing,  // not held (or its file vanished)
  kCorrupt,  // checksum or size wrong: dropped
};

struct DiskCounters {
  uint64_t written_blocks = 0;
  uint64_t written_bytes = 0;
  double write_seconds = 0;
  uint64_t dropped_writes = 0;  // queue full, or a write failed
  uint64_t corrupt = 0;         // reads that failed their checksum
  uint64_t evicted = 0;         // blocks removed for room
};

class DiskStore {
 public:
  using EventFn = std::function<void(KvEventKind, BlockHash hash, BlockHash parent, std::span<const int32_t> tokens)>;

  // kIo (naming the directory) when it cannot be created or written, or the
  // index cannot be opened.
  static Result<std::unique_ptr<DiskStore>> open(DiskStoreOptions options, EventFn on_event);
  // Writes what is queued, then stops the writer.
  ~DiskStore();
  DiskStore(const DiskStore&) = delete;
  DiskStore& operator=(const DiskStore&) = delete;

  const DiskOpenReport& open_report() const { return report_; }
  // Held (committed, or queued for writing) with this parent and these tokens.
  bool find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const;
  // Held or queued for writing.
  bool contains(BlockHash hash) const;
  // Queues a block (block_bytes of data) for writing; false when it is held
  // or queued already, or the queue is full (counted in dropped_writes).
  // With `wait`, a full queue waits for room instead (shutdown flush).
  bool put(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens, std::span<const std::byte> data,
           uint32_t uses, bool wait = false);
  // Reads a held block into `out` (block_bytes) and verifies its checksum. A
  // block still queued for writing is copied from the queue.
  DiskRead read(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens, std::span<std::byte> out);
  // Waits until every queued write is done.
  void drain();

  int64_t size() const;
  int64_t capacity() const { return options_.capacity; }
  size_t block_bytes() const { return options_.block_bytes; }
  const std::string& dir() const { return options_.dir; }
  DiskCounters counters() const;
  // Every held block (hash, parent, tokens), with the mutex held; `before`
  // (if set) runs first under the same lock (no event can slip in between).
  void for_each(const std::function<void(BlockHash, BlockHash, std::span<const int32_t>)>& fn,
                const std::function<void()>& before = {}) const;

 private:
  struct Entry {
    BlockHash parent = 0;
    std::vector<int32_t> tokens;
    uint32_t checksum = 0;
    std::list<BlockHash>::iterator lru_pos;
  };
  struct Job {
    BlockHash hash = 0;
    BlockHash parent = 0;
    std::vector<int32_t> tokens;
    std::vector<std::byte> data;
    uint32_t uses = 0;
  };

  DiskStore(DiskStoreOptions options, EventFn on_event, std::unique_ptr<DiskIndex> index);
  // The queued (or being written) job of `hash`, mutex held; null if none.
  const Job* pending_locked(BlockHash hash) const;
  Status load();
  void writer();
  void write_one(Job& job);
  // Deletes the row then the file (mutex held); emits kEvicted when `emit`.
  void drop_locked(BlockHash hash, bool emit = true);
  std::string file_name(BlockHash hash) const;

  DiskStoreOptions options_;
  EventFn on_event_;
  DiskOpenReport report_;

  mutable std::mutex mu_;
  std::condition_variable wake_, idle_;
  std::unique_ptr<DiskIndex> index_;
  std::unordered_map<BlockHash, Entry> map_;
  std::list<BlockHash> lru_;  // front = least recently used
  std::deque<Job> queue_;
  std::unordered_map<BlockHash, int> queued_;
  bool writing_ = false;
  const Job* writing_job_ = nullptr;  // the job the writer holds (its data is read-only meanwhile)
  bool stop_ = false;
  DiskCounters counters_;
  std::thread thread_;
};

}  // namespace tandem::kv

// kv::DiskIndex: the disk tier's index in SQLite (WAL journal, synchronous =
// NORMAL): one row per block,
//   hash -> parent, tokens, file, offset, length, checksum (CRC-32C),
//           model fingerprint, uses, last use (ms since the epoch)
// in the table `blocks` of `<dir>/index.sqlite`. A commit survives kill -9 at
// any moment (WAL); after a power loss the last commits may be lost but the
// database is never corrupt. The block data lives in files beside it
// (kv::DiskStore); the index is written only after a block's data.
//
// Threading: not thread-safe; kv::DiskStore serializes the calls.
// Errors: every call returns a Status (kIo) naming the database and the
// SQLite message; nothing throws.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "kv/block_hash.h"

struct sqlite3;

namespace tandem::kv {

struct DiskRow {
  BlockHash hash = 0;
  BlockHash parent = 0;
  std::vector<int32_t> tokens;
  std::string file;  // relative to the store's directory
  uint64_t offset = 0;
  uint64_t length = 0;
  uint32_t checksum = 0;
  std::string fingerprint;
  uint32_t uses = 0;
  int64_t last_use_ms = 0;
};

class DiskIndex {
 public:
  // Opens (creating) the database at `path`.
  static Result<std::unique_ptr<DiskIndex>> open(const std::string& path);
  ~DiskIndex();
  DiskIndex(const DiskIndex&) = delete;
  DiskIndex& operator=(const DiskIndex&) = delete;

  // Inserts or replaces a row (one transaction).
  Status put(const DiskRow& row);
  Status remove(BlockHash hash);
  // Sets a row's last use and adds one use.
  Status touch(BlockHash hash, int64_t last_use_ms);
  // Every row, oldest last use first.
  Result<std::vector<DiskRow>> rows() const;
  // The rows whose fingerprint is not `fingerprint`, which are deleted (one
  // transaction): the caller removes their files.
  Result<std::vector<DiskRow>> take_other_fingerprints(const std::string& fingerprint);
  const std::string& path() const { return path_; }

 private:
  DiskIndex(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  Status exec(const char* sql) const;
  Status error(const char* what) const;

  sqlite3* db_;
  std::string path_;
};

}  // namespace tandem::kv

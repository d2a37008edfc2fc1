// discovery::PeerDirectory: the shared directory of records, one file per
// appliance (<id>.json). Writes are atomic (a temporary file in the same
// directory, fsync, rename), so a reader sees a whole old record or a whole
// new one; scans read every *.json file and sort them into live peers and
// ignored files (malformed, partial, foreign, stale).
//
// Threading: not thread-safe; Discovery owns one and uses it on its thread
// (tests use it directly). Nothing here throws.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"
#include "discovery/peer_record.h"

namespace tandem::discovery {

struct IgnoredFile {
  std::string file;  // name inside the directory
  Status reason;     // kMalformedFile, kUnsupported (schema), kUnauthorized (key), kTimeout (stale), kIo
};

struct ScanResult {
  std::vector<PeerRecord> peers;           // live records of other appliances, sorted by id
  std::vector<IgnoredFile> ignored;        // every file not taken this scan
  std::vector<IgnoredFile> newly_ignored;  // those not ignored for the same kind of reason at the last
                                           // scan: what deserves one warning (a foreign appliance's
                                           // heartbeats do not warn again)
};

class PeerDirectory {
 public:
  // `self_id`: this appliance's record is never a peer.
  PeerDirectory(std::string dir, std::string key_hash, std::string self_id);

  // Creates the directory (and parents) when missing. kIo naming it otherwise.
  Status prepare() const;
  // Writes `record` to <dir>/<id>.json atomically. kIo on failure.
  Status write(const PeerRecord& record) const;
  // Removes this appliance's record (its file, only if it still holds our id).
  void remove_own() const;
  // Reads every record; `now_ms` is the unix time used for expiry.
  ScanResult scan(int64_t now_ms);

  const std::string& dir() const { return dir_; }

 private:
  struct Seen {
    ErrorKind kind = ErrorKind::kOk;
  };
  std::string dir_;
  std::string key_hash_;
  std::string self_id_;
  std::map<std::string, Seen> ignored_before_;  // file -> why it was ignored at the last scan
};

// The largest record file read (larger ones are malformed).
inline constexpr size_t kMaxRecordBytes = 1u << 20;

}  // namespace tandem::discovery

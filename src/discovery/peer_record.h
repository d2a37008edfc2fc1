// discovery::PeerRecord: what one appliance says about itself in the shared
// directory (one JSON file per appliance), and its encoding and parsing.
//
// Schema 1 (every field required unless marked):
//   {"schema": 1, "id": "a1", "url": "http://10.0.0.5:8000", "version": "0.4.0",
//    "key_hash": "<16 hex digits>", "updated_ms": <unix ms>, "ttl_s": 10, "seq": 7,
//    "roles": ["aggregated"],
//    "models": [{"name": "m", "aliases": ["a"], "max_context": 4096,
//                "capacity": 64, "max_queue": 256, "waiting": 0, "running": 1, "kv_usage": 0.12}]}
// Unknown fields are ignored (a newer writer may add some); a record of another
// schema or key_hash is foreign and refused (kUnsupported / kUnauthorized).
//
// Threading: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tandem::discovery {

inline constexpr int kSchemaVersion = 1;

// One model an appliance serves, with its load when the record was written.
struct ModelLoad {
  std::string name;
  std::vector<std::string> aliases;
  int64_t max_context = 0;
  int64_t capacity = 0;   // sequences its workers step at once (sum of max_running)
  int64_t max_queue = 0;  // waiting requests before it answers 429
  int64_t waiting = 0;    // requests queued, not yet scheduled
  int64_t running = 0;    // requests being stepped
  double kv_usage = 0.0;  // fraction of KV blocks in use, 0..1
};

struct PeerRecord {
  std::string id;       // [A-Za-z0-9._-]{1,128}; also the file name (<id>.json)
  std::string url;      // http://host:port, where its OpenAI API answers
  std::string version;  // tandem version
  std::string key_hash;
  int64_t updated_ms = 0;  // unix time of the write, milliseconds
  int64_t ttl_s = 0;       // the record is stale ttl_s after updated_ms
  int64_t seq = 0;         // heartbeat counter
  std::vector<std::string> roles;
  std::vector<ModelLoad> models;

  // Whether the record has expired at unix time `now_ms`.
  bool expired(int64_t now_ms) const { return now_ms - updated_ms > ttl_s * 1000; }
  // The model entry answering to `name` (its name or an alias), or nullptr.
  const ModelLoad* find_model(std::string_view name) const;
};

// The fingerprint of a peer key written in records: FNV-1a 64 of a fixed
// prefix and the key, as 16 hex digits. It tells groups of appliances apart;
// it is not a secret-keeping hash (whoever can write the directory is trusted).
std::string peer_key_hash(std::string_view key);

// Whether `id` is a valid appliance id (and so a safe file name).
bool valid_id(std::string_view id);

// Splits "http://host:port[/]" into host and port. kInvalidRequest naming the
// problem otherwise (only plain http is supported).
struct HostPort {
  std::string host;
  std::string port;
};
Result<HostPort> parse_http_url(std::string_view url);

std::string encode_record(const PeerRecord& record);

// Parses and validates a record. kMalformedFile for text that is not a
// complete record (bad JSON, a missing or mistyped field, an invalid id or
// url); kUnsupported for another schema; kUnauthorized when its key_hash is not
// `expected_key_hash`. Never throws.
Result<PeerRecord> parse_record(std::string_view text, std::string_view expected_key_hash);

}  // namespace tandem::discovery

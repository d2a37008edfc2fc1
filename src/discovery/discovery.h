// discovery::Discovery: this appliance's presence in the shared directory and
// its view of the others ([discovery] in the config; docs/design.md).
//
// One thread (the discovery thread) does everything: it rewrites this
// appliance's record every heartbeat (ttl_s / 3) with the load the LoadSource
// reports, and keeps the peer table: it rescans the directory when inotify
// reports a change there and at every heartbeat regardless (network file
// systems send no inotify events for other hosts' writes). Records past their
// TTL expire; malformed, partial, foreign (another peer_key or schema) and
// stale files are ignored, each with one log line per version of the file.
//
// Threading: start() and stop() from one thread (main); peers() and the
// accessors from any thread. The LoadSource is called on the discovery
// thread and must be thread-safe. stop() removes the record (clean shutdown);
// a crashed appliance's record expires after its TTL.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "discovery/peer_directory.h"
#include "discovery/peer_record.h"

namespace tandem::discovery {

struct DiscoveryOptions {
  std::string dir;       // the shared directory (created when missing)
  std::string id;        // this appliance's id (valid_id)
  std::string url;       // where peers reach this appliance: http://host:port
  std::string peer_key;  // shared by the appliances of one group
  int ttl_s = 10;        // a record not rewritten for this long is expired
  std::vector<std::string> roles;
  // Heartbeat and rescan period; 0 = ttl_s / 3 (at least 100 ms).
  std::chrono::milliseconds heartbeat{0};
};

using LoadSource = std::function<std::vector<ModelLoad>()>;

// Wall-clock milliseconds (records carry unix times; hosts keep clocks in
// step with NTP).
int64_t unix_now_ms();

class Discovery {
 public:
  // `registry` (may be null): tandem_discovery_peers, tandem_discovery_records_ignored_total{reason}.
  Discovery(DiscoveryOptions options, LoadSource load, metrics::Registry* registry);
  ~Discovery();
  Discovery(const Discovery&) = delete;
  Discovery& operator=(const Discovery&) = delete;

  // The id and URL, when they are known only once the server listens (port
  // 0); before start().
  void set_identity(std::string id, std::string url);

  // Creates the directory, writes the first record, reads the peers, starts
  // the thread. kIo (naming the directory) or kInvalidRequest (a bad id or
  // url) on failure; nothing is started then.
  Status start();
  // Stops the thread and removes this appliance's record. Idempotent.
  void stop();

  // The live peers (expired ones filtered out at the time of the call),
  // sorted by id. Never null.
  std::shared_ptr<const std::vector<PeerRecord>> peers() const;

  const std::string& id() const { return options_.id; }
  const std::string& key_hash() const { return key_hash_; }
  const std::string& peer_key() const { return options_.peer_key; }

 private:
  void run();
  void heartbeat();
  void rescan();

  DiscoveryOptions options_;
  const std::string key_hash_;
  const std::chrono::milliseconds period_;
  LoadSource load_;
  metrics::Registry* registry_;
  metrics::Gauge* peers_gauge_ = nullptr;
  std::optional<PeerDirectory> directory_;  // from start()
  int64_t seq_ = 0;
  bool write_failing_ = false;  // the last heartbeat could not write the record
  int inotify_fd_ = -1;
  int wake_fd_ = -1;  // eventfd: stop() wakes the thread

  mutable std::mutex mu_;
  std::shared_ptr<const std::vector<PeerRecord>> peers_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  bool started_ = false;
};

}  // namespace tandem::discovery

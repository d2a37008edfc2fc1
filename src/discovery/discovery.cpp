#include "discovery/discovery.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/check.h"

namespace tandem::discovery {

int64_t unix_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

std::chrono::milliseconds heartbeat_period(const DiscoveryOptions& o) {
  if (o.heartbeat.count() > 0) return o.heartbeat;
  return std::max(std::chrono::milliseconds(100), std::chrono::milliseconds(o.ttl_s * 1000 / 3));
}

const char* reason_label(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kUnauthorized: return "foreign_key";
    case ErrorKind::kUnsupported: return "schema";
    case ErrorKind::kTimeout: return "stale";
    case ErrorKind::kIo: return "io";
    default: return "malformed";
  }
}

}  // namespace

Discovery::Discovery(DiscoveryOptions options, LoadSource load, metrics::Registry* registry)
    : options_(std::move(options)),
      key_hash_(peer_key_hash(options_.peer_key)),
      period_(heartbeat_period(options_)),
      load_(std::move(load)),
      registry_(registry),
      peers_(std::make_shared<const std::vector<PeerRecord>>()) {
  if (registry_) {
    peers_gauge_ = &registry_->gauge("tandem_discovery_peers", "Live peer appliances in the discovery directory");
  }
}

Discovery::~Discovery() { stop(); }

void Discovery::set_identity(std::string id, std::string url) {
  TANDEM_CHECK(!started_);
  options_.id = std::move(id);
  options_.url = std::move(url);
}

Status Discovery::start() {
  if (started_) return Status(ErrorKind::kInternal, "Discovery::start called twice");
  if (!valid_id(options_.id)) {
    return Status(ErrorKind::kInvalidRequest,
                  "[discovery] id: expected 1..128 characters of A-Z a-z 0-9 . _ - "
                  "(not first .), got \"" +
                      options_.id + "\"");
  }
  if (auto hp = parse_http_url(options_.url); !hp.ok()) {
    return Status(ErrorKind::kInvalidRequest, "[discovery] advertise_url: " + hp.status().message());
  }
  directory_.emplace(options_.dir, key_hash_, options_.id);
  TANDEM_RETURN_IF_ERROR(directory_->prepare());
  heartbeat();
  rescan();
  inotify_fd_ = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ >= 0 &&
      ::inotify_add_watch(inotify_fd_, options_.dir.c_str(),
                          IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE) < 0) {
    spdlog::warn("[discovery] cannot watch {} with inotify ({}); rescanning every {} ms", options_.dir,
                 std::strerror(errno), period_.count());
    ::close(inotify_fd_);
    inotify_fd_ = -1;
  }
  wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    if (inotify_fd_ >= 0) ::close(inotify_fd_);
    inotify_fd_ = -1;
    directory_->remove_own();
    return Status(ErrorKind::kIo, std::string("[discovery] eventfd: ") + std::strerror(errno));
  }
  started_ = true;
  thread_ = std::thread([this] { run(); });
  spdlog::info("[discovery] {} at {} in {} (heartbeat {} ms, ttl {} s, {} peer(s))", options_.id, options_.url,
               options_.dir, period_.count(), options_.ttl_s, peers()->size());
  return {};
}

void Discovery::stop() {
  if (!started_) return;
  started_ = false;
  stop_.store(true);
  const uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // The thread still sees stop_ at its next period.
  }
  if (thread_.joinable()) thread_.join();
  directory_->remove_own();
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  ::close(wake_fd_);
  inotify_fd_ = wake_fd_ = -1;
  spdlog::info("[discovery] {} removed its record from {}", options_.id, options_.dir);
}

std::shared_ptr<const std::vector<PeerRecord>> Discovery::peers() const {
  std::shared_ptr<const std::vector<PeerRecord>> snapshot;
  {
    std::lock_guard lock(mu_);
    snapshot = peers_;
  }
  const int64_t now = unix_now_ms();
  const bool any_expired =
      std::any_of(snapshot->begin(), snapshot->end(), [now](const PeerRecord& r) { return r.expired(now); });
  if (!any_expired) return snapshot;
  auto live = std::make_shared<std::vector<PeerRecord>>();
  for (const PeerRecord& r : *snapshot) {
    if (!r.expired(now)) live->push_back(r);
  }
  return live;
}

void Discovery::heartbeat() {
  PeerRecord r;
  r.id = options_.id;
  r.url = options_.url;
  r.version = TANDEM_VERSION;
  r.key_hash = key_hash_;
  r.updated_ms = unix_now_ms();
  r.ttl_s = options_.ttl_s;
  r.seq = seq_++;
  r.roles = options_.roles;
  if (load_) r.models = load_();
  // One line when writing starts failing and one when it works again, not one per heartbeat.
  if (Status st = directory_->write(r); !st.ok()) {
    if (!write_failing_) {
      spdlog::warn("[discovery] cannot write this appliance's record (peers will expire it): {}", st.message());
    }
    write_failing_ = true;
  } else if (write_failing_) {
    write_failing_ = false;
    spdlog::info("[discovery] this appliance's record is written again");
  }
}

void Discovery::rescan() {
  ScanResult scan = directory_->scan(unix_now_ms());
  for (const IgnoredFile& f : scan.newly_ignored) {
    if (f.reason.kind() == ErrorKind::kTimeout) {
      spdlog::info("[discovery] ignoring {}/{}: {}", options_.dir, f.file, f.reason.message());
    } else {
      spdlog::warn("[discovery] ignoring {}/{}: {}", options_.dir, f.file, f.reason.message());
    }
    if (registry_) {
      registry_
          ->counter("tandem_discovery_records_ignored_total",
                    "Record files ignored by discovery (each version of a file counted once)",
                    {{"reason", reason_label(f.reason.kind())}})
          .inc();
    }
  }
  auto next = std::make_shared<const std::vector<PeerRecord>>(std::move(scan.peers));
  std::shared_ptr<const std::vector<PeerRecord>> previous;
  {
    std::lock_guard lock(mu_);
    previous = peers_;
    peers_ = next;
  }
  // Joins and leaves, once each.
  for (const PeerRecord& r : *next) {
    const bool known =
        std::any_of(previous->begin(), previous->end(), [&](const PeerRecord& p) { return p.id == r.id; });
    if (!known) {
      std::string models;
      for (const ModelLoad& m : r.models) models += (models.empty() ? "" : ", ") + m.name;
      spdlog::info("[discovery] peer {} at {} joined (models: {})", r.id, r.url, models.empty() ? "none" : models);
    }
  }
  for (const PeerRecord& p : *previous) {
    const bool kept = std::any_of(next->begin(), next->end(), [&](const PeerRecord& r) { return p.id == r.id; });
    if (!kept) spdlog::info("[discovery] peer {} at {} left or expired", p.id, p.url);
  }
  if (peers_gauge_) peers_gauge_->set(static_cast<double>(next->size()));
}

void Discovery::run() {
  auto next_beat = std::chrono::steady_clock::now() + period_;
  while (!stop_.load()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= next_beat) {
      heartbeat();
      rescan();
      next_beat = now + period_;
      continue;
    }
    pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {inotify_fd_, POLLIN, 0}};
    const int nfds = inotify_fd_ >= 0 ? 2 : 1;
    const int timeout_ms =
        static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(next_beat - now).count()) + 1;
    const int n = ::poll(fds, nfds, timeout_ms);
    if (n <= 0 || stop_.load()) continue;
    if (nfds == 2 && (fds[1].revents & POLLIN)) {
      // Drain the events; any change means one rescan.
      alignas(inotify_event) char buf[4096];
      while (::read(inotify_fd_, buf, sizeof buf) > 0) {
      }
      rescan();
    }
  }
}

}  // namespace tandem::discovery

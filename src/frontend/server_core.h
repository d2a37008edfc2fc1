// frontend::ServerCore (internal to the frontend): the state HttpServer's
// connections share: options, handlers, counters, the io_context, the gate
// through which worker threads post token events to connections, the pool
// that prepares requests, and the per-client connection counts.
//
// Threading: the atomics and the mutex-guarded members are safe from any
// thread; everything else is set before start() and read-only afterwards.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/metrics.h"
#include "discovery/discovery.h"
#include "frontend/api_key_auth.h"
#include "frontend/http_server.h"
#include "frontend/openai_api.h"
#include "frontend/peer_router.h"
#include "frontend/prepare_pool.h"
#include "frontend/request_metrics.h"
#include "scheduler/generation.h"

namespace tandem::frontend {

class HttpSession;

// Lets worker threads post to connection strands only while the io_context
// is alive: stop() closes the gate before the io_context goes away. Shared by
// every token sink, which may outlive the server.
class PostGate {
 public:
  template <class Executor, class Handler>
  void post(const Executor& ex, Handler&& handler) {
    std::lock_guard lock(mu_);
    if (open_) boost::asio::post(ex, std::forward<Handler>(handler));
  }
  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }

 private:
  std::mutex mu_;
  bool open_ = true;
};

// A warning that repeats (one per refused connection, one per failed
// accept) is logged at most once per interval, with the number suppressed
// since: a flood of clients must not become a flood of log lines.
class LogLimiter {
 public:
  explicit LogLimiter(std::chrono::steady_clock::duration interval) : interval_(interval) {}
  // Whether to log now; `suppressed` is set to the occurrences not logged
  // since the last logged one.
  bool allow(uint64_t& suppressed) {
    std::lock_guard lock(mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    last_ = now;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  std::mutex mu_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

// Requests waiting for a prepare thread before further ones get 429. Each
// connection has at most one waiting, so this also bounds their bodies.
inline constexpr size_t kMaxQueuedPreparations = 1024;

class ServerCore {
 public:
  ServerCore(ServerOptions options, const ServedModel& model, scheduler::GenerationService& service,
             metrics::Registry& registry)
      : options(std::move(options)),
        model(model),
        service(service),
        registry(registry),
        request_metrics(registry),
        api(model),
        auth(this->options.api_keys),
        prepare_pool(std::max(1, this->options.prepare_threads), kMaxQueuedPreparations) {
    if (this->options.discovery) {
      RoutingPolicy policy;
      policy.self_id = this->options.discovery->id();
      policy.queue_threshold = this->options.forward_queue_threshold;
      policy.max_hops = this->options.max_hops;
      peer_router = std::make_unique<PeerRouter>(std::move(policy));
    }
  }

  // Whether a forwarded request's X-Tandem-Peer-Key is this group's key
  // (compared in constant time). False when forwarding is off.
  bool peer_key_matches(std::string_view key) const {
    if (!options.discovery) return false;
    const std::string& want = options.discovery->peer_key();
    if (want.empty() || key.size() != want.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < key.size(); ++i) diff |= static_cast<unsigned char>(key[i] ^ want[i]);
    return diff == 0;
  }
  // tandem_forwarded_requests_total{peer, outcome}.
  void count_forward(const std::string& peer, const char* outcome) {
    registry
        .counter("tandem_forwarded_requests_total",
                 "Requests this appliance forwarded to a peer, by peer and outcome (ok: the peer answered 2xx; "
                 "error: it answered an error; unreachable: no answer, tried elsewhere; broken: it failed mid-answer).",
                 {{"peer", peer}, {"outcome", outcome}})
        .inc();
  }

  const ServerOptions options;
  const ServedModel& model;
  scheduler::GenerationService& service;
  metrics::Registry& registry;
  RequestMetrics request_metrics;
  const OpenAiApi api;
  const ApiKeyAuth auth;
  PreparePool prepare_pool;
  std::unique_ptr<PeerRouter> peer_router;  // null: forwarding off

  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};
  std::atomic<size_t> in_flight{0};
  std::atomic<int> connections{0};
  int connection_cap = 0;  // options.max_connections, lowered below the descriptor limit by start()

  // Per client address, while max_connections_per_client > 0.
  // acquire_client() false: the address has its share already.
  bool acquire_client(const std::string& address) {
    std::lock_guard lock(clients_mu);
    int& n = clients[address];
    if (n >= options.max_connections_per_client) return false;
    ++n;
    return true;
  }
  void release_client(const std::string& address) {
    std::lock_guard lock(clients_mu);
    auto it = clients.find(address);
    if (it != clients.end() && --it->second <= 0) clients.erase(it);
  }
  std::mutex clients_mu;
  std::unordered_map<std::string, int> clients;

  LogLimiter refused_log{std::chrono::seconds(10)};
  LogLimiter accept_error_log{std::chrono::seconds(10)};

  // Live connections, so stop() can close them.
  std::mutex sessions_mu;
  std::list<std::weak_ptr<HttpSession>> sessions;

  // Declared last among the I/O state: destroyed after the acceptor, before
  // the members above (pending handlers own connections that use them).
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  boost::asio::steady_timer accept_backoff{ioc};
  std::chrono::milliseconds accept_delay{0};
  std::vector<std::thread> threads;
  uint16_t bound_port = 0;
  bool started = false;
  bool stopped = false;
};

}  // namespace tandem::frontend

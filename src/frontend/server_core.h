// frontend::ServerCore (internal to the frontend): the state HttpServer's
// connections share: options, handlers, counters, the io_context and the
// gate through which worker threads post token events to connections.
//
// Threading: the atomics and the mutex-guarded members are safe from any
// thread; everything else is set before start() and read-only afterwards.
#pragma once

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>

#include "common/metrics.h"
#include "frontend/api_key_auth.h"
#include "frontend/http_server.h"
#include "frontend/openai_api.h"
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
        auth(this->options.api_keys) {}

  const ServerOptions options;
  const ServedModel& model;
  scheduler::GenerationService& service;
  metrics::Registry& registry;
  RequestMetrics request_metrics;
  const OpenAiApi api;
  const ApiKeyAuth auth;

  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};
  std::atomic<size_t> in_flight{0};
  std::atomic<int> connections{0};

  // Live connections, so stop() can close them.
  std::mutex sessions_mu;
  std::list<std::weak_ptr<HttpSession>> sessions;

  // Declared last among the I/O state: destroyed after the acceptor, before
  // the members above (pending handlers own connections that use them).
  boost::asio::io_context ioc;
  boost::asio::ip::tcp::acceptor acceptor{ioc};
  std::vector<std::thread> threads;
  uint16_t bound_port = 0;
  bool started = false;
  bool stopped = false;
};

}  // namespace tandem::frontend

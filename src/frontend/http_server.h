// frontend::HttpServer: the OpenAI-compatible HTTP/1.1 server (Boost.Beast
// parser, Boost.Asio sockets). Routes are listed in frontend/route.h and the
// module README.
//
// Threads: start() runs an io_context on `threads` threads. Each connection
// lives on its own strand; token events from the GenerationService arrive on
// worker threads and are posted to the connection's strand (workers never
// block on the network). start(), begin_drain(), in_flight() and stop() may be
// called from any thread; stop() joins the io threads (do not call it from
// one of them).
//
// Request preparation (body parsing, chat template, tokenization) runs on a
// small pool (prepare_threads), not on the io threads, so that /health and
// stream writes never wait behind a large prompt.
//
// Lifetime: the ServedModel, GenerationService and metrics Registry must
// outlive the server. stop() (or the destructor) ends every request in
// flight with a final event and closes every connection.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "common/status.h"
#include "frontend/dashboard_source.h"
#include "frontend/served_model.h"
#include "scheduler/generation.h"

namespace tandem::discovery {
class Discovery;
}

namespace tandem::frontend {

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 8000;                       // 0: an ephemeral port (see port())
  int threads = 2;                            // io threads, >= 1
  std::vector<std::string> api_keys;          // empty: no authentication
  size_t max_body_bytes = 8u << 20;           // larger bodies get 413
  size_t max_header_bytes = 64u << 10;        // larger headers get 431
  std::chrono::seconds header_timeout{10};    // first byte of a request -> end of its headers
  std::chrono::seconds idle_timeout{60};      // keep-alive idle; also a write that makes no progress
  std::chrono::seconds request_timeout{0};    // whole request incl. generation; 0 = unlimited
  int max_connections = 4096;                 // further connections are closed at accept; start()
                                              // lowers it below the file-descriptor limit
  int max_connections_per_client = 0;         // per client IP address; 0 = no limit
  size_t max_stream_buffer_bytes = 4u << 20;  // unsent stream bytes before a slow client is dropped
  std::vector<std::string> cors_origins;      // CORS: allowed Origin values, "*" = any; empty = off
  int prepare_threads = 2;                    // template + tokenization threads, >= 1
  int max_request_choices = 0;                // sequences one request may submit (n x prompts), the
                                              // service's queue bound; more get 400; 0 = no limit
  // /dashboard's figures (outlives the server); null: every /dashboard route is 404.
  const DashboardSource* dashboard = nullptr;
  // Forwarding to peer appliances ([discovery]; peer_router.h). Null: off,
  // and requests that carry the peer headers get 401. Must outlive the server.
  const discovery::Discovery* discovery = nullptr;
  int forward_queue_threshold = 0;  // requests waiting here before one goes to a peer with room; 0 = never
  int max_hops = 1;                 // forwards one request may make
};

class ServerCore;  // internal (frontend/server_core.h)

class HttpServer {
 public:
  HttpServer(ServerOptions options, const ServedModel& model, scheduler::GenerationService& service,
             metrics::Registry& registry);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds, listens and starts the io threads. Raises the process's soft
  // open-file limit to its hard limit and keeps max_connections under it.
  // kIo with a message naming the address when the port is taken or the host
  // does not resolve; kInvalidRequest for bad options.
  Status start();
  // The bound port (after start()).
  uint16_t port() const;
  // From now on new generation requests get 503 + Retry-After and /ready
  // answers 503; requests in flight finish. /health keeps answering 200.
  void begin_drain();
  // Generation requests accepted and not yet answered completely.
  size_t in_flight() const;
  // Closes the listener; ends each request in flight as its deadline would
  // (streams: finish_reason "abort" chunks, [DONE], the terminating chunk;
  // others: the response with what was generated), cancels it in the
  // service, closes every connection once its last bytes are out (at most
  // ~2 s), joins the io threads. Idempotent.
  void stop();

 private:
  std::unique_ptr<ServerCore> core_;
};

}  // namespace tandem::frontend

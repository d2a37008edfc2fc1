#include "frontend/http_server.h"

#include <chrono>
#include <exception>
#include <utility>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>
#include <spdlog/spdlog.h>

#include "frontend/http_session.h"
#include "frontend/server_core.h"

namespace tandem::frontend {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

void do_accept(ServerCore& core) {
  core.acceptor.async_accept(asio::make_strand(core.ioc), [&core](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !core.acceptor.is_open()) return;
    if (!ec) {
      if (core.connections.load() >= core.options.max_connections) {
        spdlog::warn("connection limit ({}) reached; refusing a connection", core.options.max_connections);
        error_code ignored;
        socket.close(ignored);
      } else {
        std::make_shared<HttpSession>(std::move(socket), core)->start();
      }
    } else {
      spdlog::warn("accept failed: {}", ec.message());
    }
    do_accept(core);
  });
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, const ServedModel& model,
                       scheduler::GenerationService& service, metrics::Registry& registry)
    : core_(std::make_unique<ServerCore>(std::move(options), model, service, registry)) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  ServerCore& c = *core_;
  if (c.started) return Status(ErrorKind::kInternal, "HttpServer::start called twice");
  if (c.options.threads < 1) {
    return Status(ErrorKind::kInvalidRequest, "server threads must be >= 1", "threads");
  }
  if (!c.model.tokenizer || !c.model.render_chat || c.model.max_context < 1) {
    return Status(ErrorKind::kInvalidRequest,
                  "the served model needs a tokenizer, a chat renderer and max_context >= 1");
  }
  error_code ec;
  const auto address = asio::ip::make_address(c.options.host, ec);
  std::vector<tcp::endpoint> endpoints;
  if (!ec) {
    endpoints.emplace_back(address, c.options.port);
  } else {
    tcp::resolver resolver(c.ioc);
    auto results = resolver.resolve(c.options.host, std::to_string(c.options.port),
                                    tcp::resolver::passive, ec);
    if (ec) {
      return Status(ErrorKind::kIo, "cannot resolve listen host '" + c.options.host + "': " + ec.message());
    }
    for (const auto& r : results) endpoints.push_back(r.endpoint());
  }
  std::string last_error;
  for (const auto& ep : endpoints) {
    c.acceptor.open(ep.protocol(), ec);
    if (!ec) c.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) c.acceptor.bind(ep, ec);
    if (!ec) c.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) break;
    last_error = "cannot listen on " + c.options.host + ":" + std::to_string(c.options.port) + ": " +
                 ec.message();
    error_code ignored;
    c.acceptor.close(ignored);
  }
  if (!c.acceptor.is_open()) {
    return Status(ErrorKind::kIo, last_error.empty() ? "no address to listen on" : last_error);
  }
  c.bound_port = c.acceptor.local_endpoint().port();
  c.started = true;
  do_accept(c);
  c.threads.reserve(static_cast<size_t>(c.options.threads));
  for (int i = 0; i < c.options.threads; ++i) {
    c.threads.emplace_back([&c] {
      for (;;) {
        try {
          c.ioc.run();
          return;
        } catch (const std::exception& e) {
          spdlog::error("http io thread: unexpected exception: {}", e.what());
        }
      }
    });
  }
  spdlog::info("listening on {}:{} ({} io threads)", c.options.host, c.bound_port, c.options.threads);
  return Status::ok_status();
}

uint16_t HttpServer::port() const { return core_->bound_port; }

void HttpServer::begin_drain() {
  if (!core_->draining.exchange(true)) spdlog::info("draining: new generation requests get 503");
}

size_t HttpServer::in_flight() const { return core_->in_flight.load(); }

void HttpServer::stop() {
  ServerCore& c = *core_;
  if (c.stopped) return;
  c.stopped = true;
  c.stopping.store(true);
  if (!c.started) return;
  asio::post(c.ioc, [&c] {
    error_code ignored;
    c.acceptor.close(ignored);
  });
  std::vector<std::shared_ptr<HttpSession>> live;
  {
    std::lock_guard lock(c.sessions_mu);
    for (auto& w : c.sessions) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) s->shutdown();
  live.clear();
  // Closed connections finish their handlers; give them a moment, then stop
  // whatever is left (late token events are kept out by the gate).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (c.connections.load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  c.gate->close();
  c.ioc.stop();
  for (auto& t : c.threads) t.join();
  c.threads.clear();
  spdlog::info("http server stopped");
}

}  // namespace tandem::frontend

#include "frontend/http_server.h"

#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/strand.hpp>

#include "frontend/http_session.h"
#include "frontend/server_core.h"

namespace tandem::frontend {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

// Descriptors kept free for everything but connections (model files, logs,
// the io_context's own, the kernel's accept of the next refused client).
constexpr int kSpareDescriptors = 32;
constexpr std::chrono::milliseconds kFirstAcceptDelay{10};
constexpr std::chrono::milliseconds kMaxAcceptDelay{1000};

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in
// force afterwards (0 when unknown).
rlim_t raise_descriptor_limit() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    const rlim_t before = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &lim) == 0) {
      spdlog::info("raised the open-file limit from {} to {}", before, lim.rlim_cur);
    } else {
      getrlimit(RLIMIT_NOFILE, &lim);
    }
  }
  return lim.rlim_cur;
}

int open_descriptors() {
  std::error_code ec;
  int n = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++n;
  return ec ? kSpareDescriptors : n;
}

// max_connections, lowered so that connections cannot take the last
// descriptors: an accept that fails for want of one is retried at once by
// the kernel's readiness, which is what made the loop spin.
int connection_cap(int max_connections) {
  const rlim_t limit = raise_descriptor_limit();
  if (limit == 0 || limit == RLIM_INFINITY) return max_connections;
  const int64_t room = static_cast<int64_t>(std::min<rlim_t>(limit, 1u << 30)) - open_descriptors() - kSpareDescriptors;
  const int cap = static_cast<int>(std::clamp<int64_t>(room, 1, max_connections));
  if (cap < max_connections) {
    spdlog::warn("max_connections lowered from {} to {} to stay under the open-file limit ({})", max_connections, cap,
                 static_cast<uint64_t>(limit));
  }
  return cap;
}

bool out_of_descriptors(const error_code& ec) {
  return ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system ||
         ec == asio::error::no_buffer_space || ec == asio::error::no_memory;
}

void refuse(ServerCore& core, tcp::socket& socket, const char* why, int limit) {
  uint64_t suppressed = 0;
  if (core.refused_log.allow(suppressed)) {
    spdlog::warn("{} ({}) reached; refusing connections ({} more refused since the last warning)", why, limit,
                 suppressed);
  }
  error_code ignored;
  socket.close(ignored);
}

void do_accept(ServerCore& core);

// Out of descriptors (or kernel memory): retrying at once would fail at once,
// so wait, longer each time, until a connection closes.
void back_off_accept(ServerCore& core, const error_code& ec) {
  core.accept_delay =
      core.accept_delay.count() == 0 ? kFirstAcceptDelay : std::min(core.accept_delay * 2, kMaxAcceptDelay);
  uint64_t suppressed = 0;
  if (core.accept_error_log.allow(suppressed)) {
    spdlog::warn("accept failed: {}; retrying in {} ms ({} more failures since the last warning)", ec.message(),
                 core.accept_delay.count(), suppressed);
  }
  core.accept_backoff.expires_after(core.accept_delay);
  core.accept_backoff.async_wait([&core](const error_code& wait_ec) {
    if (wait_ec == asio::error::operation_aborted || !core.acceptor.is_open()) return;
    do_accept(core);
  });
}

void do_accept(ServerCore& core) {
  core.acceptor.async_accept(asio::make_strand(core.ioc), [&core](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !core.acceptor.is_open()) return;
    if (out_of_descriptors(ec)) {
      back_off_accept(core, ec);
      return;
    }
    core.accept_delay = std::chrono::milliseconds(0);
    if (ec) {
      uint64_t suppressed = 0;
      if (core.accept_error_log.allow(suppressed)) {
        spdlog::warn("accept failed: {} ({} more failures since the last warning)", ec.message(), suppressed);
      }
    } else if (core.connections.load() >= core.connection_cap) {
      refuse(core, socket, "connection limit", core.connection_cap);
    } else if (core.options.max_connections_per_client > 0) {
      error_code addr_ec;
      const auto remote = socket.remote_endpoint(addr_ec);
      std::string client = addr_ec ? std::string() : remote.address().to_string();
      if (addr_ec) {
        error_code ignored;
        socket.close(ignored);  // gone already
      } else if (!core.acquire_client(client)) {
        refuse(core, socket, "per-client connection limit", core.options.max_connections_per_client);
      } else {
        std::make_shared<HttpSession>(std::move(socket), core, std::move(client))->start();
      }
    } else {
      std::make_shared<HttpSession>(std::move(socket), core, std::string())->start();
    }
    do_accept(core);
  });
}

}  // namespace

HttpServer::HttpServer(ServerOptions options, const ServedModel& model, scheduler::GenerationService& service,
                       metrics::Registry& registry)
    : core_(std::make_unique<ServerCore>(std::move(options), model, service, registry)) {}

HttpServer::~HttpServer() { stop(); }

Status HttpServer::start() {
  ServerCore& c = *core_;
  if (c.started) return Status(ErrorKind::kInternal, "HttpServer::start called twice");
  if (c.options.threads < 1) {
    return Status(ErrorKind::kInvalidRequest, "server threads must be >= 1", "threads");
  }
  if (c.options.max_connections < 1 || c.options.max_connections_per_client < 0) {
    return Status(ErrorKind::kInvalidRequest, "max_connections must be >= 1 and max_connections_per_client >= 0");
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
    auto results = resolver.resolve(c.options.host, std::to_string(c.options.port), tcp::resolver::passive, ec);
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
    last_error = "cannot listen on " + c.options.host + ":" + std::to_string(c.options.port) + ": " + ec.message();
    error_code ignored;
    c.acceptor.close(ignored);
  }
  if (!c.acceptor.is_open()) {
    return Status(ErrorKind::kIo, last_error.empty() ? "no address to listen on" : last_error);
  }
  c.bound_port = c.acceptor.local_endpoint().port();
  c.connection_cap = connection_cap(c.options.max_connections);
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
    c.accept_backoff.cancel();
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
  // Requests in flight end as a deadline ends them (a final event, [DONE],
  // the terminating chunk), idle connections close; give the last bytes a
  // moment to leave, then stop whatever is left (late token events are kept
  // out by the gate).
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (c.connections.load() > 0 && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  c.prepare_pool.stop();
  c.gate->close();
  c.ioc.stop();
  for (auto& t : c.threads) t.join();
  c.threads.clear();
  spdlog::info("http server stopped");
}

}  // namespace tandem::frontend

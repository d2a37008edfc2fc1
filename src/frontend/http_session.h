// frontend::HttpSession (internal to the frontend): one client connection.
//
// Reads requests with a Beast parser fed from one continuous socket reader
// (so a client that goes away is noticed even while its request generates),
// answers them strictly in order (keep-alive and pipelining safe: a
// generation request holds back parsing of the next one until it is
// answered), and writes through one output buffer: whatever was produced
// while a write was in flight goes out in the next single write.
//
// A request is judged on its head as soon as the head is in: unknown route
// (404), method (405), API key (401), body type (415: POST bodies must be
// application/json) and size (413) are answered before any body byte is
// read, and the connection is closed after the answer when body bytes were
// still to come. Request preparation (template, tokenization) runs on the
// server's PreparePool; the connection waits for it as for a generation.
//
// Limits: body (413), header size (431), header timeout (slowloris, and a
// connection that never sends a request: the connection is closed), idle
// timeout between keep-alive requests, a stream whose unsent bytes exceed
// max_stream_buffer_bytes or a write that makes no progress for idle_timeout
// (a client that does not read: dropped, its requests cancelled). A client
// dropped or gone during a request counts as HTTP 499 and its open choices as
// finished_reason "abort".
//
// CORS (options.cors_origins): a request whose Origin is allowed gets
// Access-Control-Allow-Origin on its response, and an OPTIONS preflight on a
// known route gets 200 with the allowed method and headers. Without
// cors_origins no Access-Control-* header is ever sent and OPTIONS is 405.
//
// Threading: every member runs on the connection's strand, except
// shutdown(), which posts to it, and the preparation work, which runs on a
// PreparePool thread and touches nothing of the session. Owned by the handlers in flight
// (shared_from_this); token sinks hold only a weak reference.
#pragma once

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/status.h"
#include "frontend/generation_job.h"
#include "frontend/http_response.h"
#include "frontend/job_plan.h"
#include "frontend/peer_call.h"
#include "frontend/peer_router.h"
#include "frontend/route.h"
#include "frontend/server_core.h"
#include "frontend/token_inbox.h"

namespace tandem::frontend {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  // `client`: the address counted against max_connections_per_client
  // (released when the session ends), empty when not counted.
  HttpSession(boost::asio::ip::tcp::socket socket, ServerCore& core, std::string client);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Registers with the core and starts reading.
  void start();
  // Any thread: the server stops. A request in flight ends with a final
  // event (GenerationJob::abort_open) and the connection closes after it;
  // an idle connection closes now.
  void shutdown();

 private:
  using Clock = std::chrono::steady_clock;
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  // What the current request's log line and metrics need.
  struct Current {
    Route route = Route::kNotFound;
    RouteMatch match;
    std::string origin;  // CORS: the allowed Origin to echo; empty = no CORS headers
    std::string method;
    std::string id;
    std::string refusal;  // an error answer's message, for its log line (an unknown route names its path)
    Clock::time_point start;
    bool keep_alive = true;
    bool http10 = false;
    int hops = 0;      // X-Tandem-Hops of a request forwarded to this appliance (checked peer key)
    std::string peer;  // the peer this appliance forwarded the request to, for its log line
  };

  // A generation request after routing (on the PreparePool): served here
  // (`plan`), forwarded (`body`), or refused.
  struct Routed {
    PeerChoice choice;
    std::optional<RoutingKey> key;
    bool served_here = false;
    std::optional<Result<JobPlan>> plan;
    std::string body;
  };
  // The forwarded request in flight (forward_ set) and what a retry on
  // another peer needs.
  struct Forward {
    std::string peer_id;
    std::string body;
    RoutingKey key;
    std::vector<std::string> excluded;  // peers that failed this request
    bool head_seen = false;
    PeerHead head;
    std::string answer;  // a non-streamed answer's body
  };

  void do_read();
  void on_read(const boost::system::error_code& ec, size_t n);
  void process_input();
  // At the end of a request's head: what it is (current_), and whether it
  // can be answered now (true: answered; the body is not read).
  void begin_request(const Request& head);
  bool refuse_head(const Request& head, bool body_pending);
  // Whether the Authorization header lets the request onto `route` (API keys;
  // the dashboard's routes also take them as Basic credentials).
  bool authorized(Route route, std::string_view authorization) const;
  void handle_request(Request&& req);
  void dispatch(Request& req);
  void start_generation(Request& req);
  // Runs `work` on the PreparePool, then `done(result)` on the strand.
  template <class Work, class Done>
  void offload(Work work, Done done);
  void admit(Result<JobPlan> plan);
  // Forwarding (ServerCore::peer_router set): decides on the PreparePool, then
  // serves here, forwards, or refuses.
  void route_request(std::string body);
  void on_routed(Routed&& routed);
  void start_forward(Routed&& routed);
  void on_peer_head(const PeerHead& head);
  void on_peer_body(std::string_view data);
  void on_peer_end(const Status& status);
  void finish_forward();
  void cancel_forward();
  bool busy() const { return job_ || forward_; }
  void fail_internal(const char* what);
  void on_inbox();
  void complete_job();
  void cancel_job();
  // The client went away or is dropped: counts 499 and "abort", closes.
  void abandon();
  void end_for_stop();

  // Queues a complete response; the connection closes after it when
  // keep_alive is false.
  void respond(int status, std::string_view body, std::string_view content_type = "application/json",
               std::string_view extra_name = {}, std::string_view extra_value = {});
  void respond(int status, std::string_view body, std::string_view content_type, HeaderList extra);
  void respond_error(const Status& status);
  // GET /dashboard, its files and /dashboard/data (with the page's security headers).
  void respond_dashboard(const RouteMatch& match, std::string_view target);
  void add_headers(ResponseHead& head) const;
  void log_request(int status, int prompt_tokens, int completion_tokens) const;

  void flush();
  void on_write(const boost::system::error_code& ec);
  void arm_timer();
  void on_timer(const boost::system::error_code& ec);
  Clock::time_point next_deadline() const;
  void close();
  void finish_if_peer_done();
  void release_in_flight();

  boost::asio::ip::tcp::socket socket_;
  ServerCore& core_;
  const std::string client_;
  boost::asio::steady_timer timer_;
  Clock::time_point armed_for_ = Clock::time_point::max();
  std::list<std::weak_ptr<HttpSession>>::iterator registration_;
  bool registered_ = false;

  boost::beast::flat_buffer input_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool reading_ = false;
  bool peer_eof_ = false;
  bool sent_continue_ = false;
  bool head_checked_ = false;
  bool preparing_ = false;     // a request is on the PreparePool
  bool seen_request_ = false;  // before the first request, silence is held for header_timeout only
  Clock::time_point request_start_;
  Clock::time_point idle_since_;

  std::string pending_;  // bytes produced since the last write started
  std::string writing_;  // bytes of the write in flight
  bool write_in_flight_ = false;
  Clock::time_point write_started_;
  bool close_after_write_ = false;
  bool closed_ = false;

  Current current_;
  std::unique_ptr<GenerationJob> job_;
  std::shared_ptr<TokenInbox> inbox_;
  std::vector<TokenInbox::Item> items_;
  std::vector<std::string> cancel_ids_;
  std::string stream_scratch_;
  std::shared_ptr<PeerCall> forward_;
  Forward fwd_;
  bool holds_in_flight_ = false;
  bool stream_open_ = false;
};

}  // namespace tandem::frontend

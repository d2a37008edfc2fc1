// frontend::HttpSession (internal to the frontend): one client connection.
//
// Reads requests with a Beast parser fed from one continuous socket reader
// (so a client that goes away is noticed even while its request generates),
// answers them strictly in order (keep-alive and pipelining safe: a
// generation request holds back parsing of the next one until it is
// answered), and writes through one output buffer: whatever was produced
// while a write was in flight goes out in the next single write.
//
// Limits: body (413), header size (431), header timeout and idle timeout
// (slowloris: the connection is closed), a stream whose unsent bytes exceed
// max_stream_buffer_bytes or a write that makes no progress for idle_timeout
// (a client that does not read: dropped, its requests cancelled).
//
// Threading: every member runs on the connection's strand, except
// shutdown(), which posts to it. Owned by the handlers in flight
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

#include "frontend/generation_job.h"
#include "frontend/route.h"
#include "frontend/server_core.h"
#include "frontend/token_inbox.h"

namespace tandem::frontend {

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, ServerCore& core);
  ~HttpSession();
  HttpSession(const HttpSession&) = delete;
  HttpSession& operator=(const HttpSession&) = delete;

  // Registers with the core and starts reading.
  void start();
  // Any thread: closes the connection (its requests are cancelled).
  void shutdown();

 private:
  using Clock = std::chrono::steady_clock;
  using Request = boost::beast::http::request<boost::beast::http::string_body>;

  // What the current request's log line and metrics need.
  struct Current {
    Route route = Route::kNotFound;
    std::string method;
    std::string id;
    Clock::time_point start;
    bool keep_alive = true;
    bool http10 = false;
  };

  void do_read();
  void on_read(const boost::system::error_code& ec, size_t n);
  void process_input();
  void handle_request(Request&& req);
  void dispatch(Request& req);
  void start_generation(Request& req);
  void on_inbox();
  void complete_job();
  void cancel_job();

  // Queues a complete response; the connection closes after it when
  // keep_alive is false.
  void respond(int status, std::string_view body, std::string_view content_type = "application/json",
               std::string_view extra_name = {}, std::string_view extra_value = {});
  void respond_error(const Status& status);
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
  boost::asio::steady_timer timer_;
  Clock::time_point armed_for_ = Clock::time_point::max();
  std::list<std::weak_ptr<HttpSession>>::iterator registration_;
  bool registered_ = false;

  boost::beast::flat_buffer input_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool reading_ = false;
  bool peer_eof_ = false;
  bool sent_continue_ = false;
  Clock::time_point request_start_;
  Clock::time_point idle_since_;

  std::string pending_;   // bytes produced since the last write started
  std::string writing_;   // bytes of the write in flight
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
  bool holds_in_flight_ = false;
  bool stream_open_ = false;
};

}  // namespace tandem::frontend

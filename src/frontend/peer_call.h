// frontend::PeerCall: one request forwarded to a peer appliance, over its own
// HTTP/1.1 connection (Boost.Beast client), with the answer relayed as it
// arrives: the head once, then the body bytes as each read returns them (an
// SSE stream is passed on chunk by chunk, never buffered whole).
//
// Threading: every callback runs on `executor` (the forwarding connection's
// strand), and start()/cancel() must be called there. Nothing blocks: resolve,
// connect, write and read are asynchronous on the io threads.
//
// Failures: on_end gets kUnavailable when the peer could not be reached or
// gave no answer head (connect refused, reset, timeout: the request can go
// elsewhere, nothing was relayed), kIo when the connection broke after the
// head (part of the answer is out). cancel() closes the connection; no
// callback runs after it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "common/status.h"

namespace tandem::frontend {

// Headers of a forwarded request: the group's key, and how many times the
// request was forwarded already.
inline constexpr std::string_view kPeerKeyHeader = "X-Tandem-Peer-Key";
inline constexpr std::string_view kHopsHeader = "X-Tandem-Hops";

struct PeerHead {
  int status = 0;
  std::string content_type;
  std::string request_id;   // the peer's X-Request-Id
  std::string retry_after;  // the peer's Retry-After, "" when none
  bool streaming = false;   // Content-Type text/event-stream
};

class PeerCall : public std::enable_shared_from_this<PeerCall> {
 public:
  struct Callbacks {
    std::function<void(const PeerHead&)> on_head;
    std::function<void(std::string_view)> on_body;
    std::function<void(const Status&)> on_end;  // ok: the whole answer was relayed
  };
  struct Request {
    std::string host, port;  // the peer's address (parse_http_url)
    std::string target;      // "/v1/chat/completions"
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds answer_timeout{0};  // whole call after connecting; 0 = none
  };

  static std::shared_ptr<PeerCall> start(const boost::asio::any_io_executor& executor, Request request,
                                         Callbacks callbacks);
  void cancel();

  PeerCall(const boost::asio::any_io_executor& executor, Request request, Callbacks callbacks);

 private:
  void on_resolve(const boost::system::error_code& ec, const boost::asio::ip::tcp::resolver::results_type& results);
  void on_connect(const boost::system::error_code& ec);
  void on_write(const boost::system::error_code& ec);
  void on_header(const boost::system::error_code& ec);
  void read_body();
  void on_body(const boost::system::error_code& ec);
  void finish(const Status& status);
  void set_answer_deadline();

  Request request_;
  Callbacks callbacks_;
  boost::asio::ip::tcp::resolver resolver_;
  boost::asio::ip::tcp::resolver::results_type endpoints_;  // a numeric host's one endpoint
  boost::beast::tcp_stream stream_;
  boost::beast::http::request<boost::beast::http::string_body> out_;
  boost::beast::flat_buffer buffer_;
  boost::beast::http::response_parser<boost::beast::http::buffer_body> parser_;
  std::chrono::steady_clock::time_point answer_deadline_ = std::chrono::steady_clock::time_point::max();
  char chunk_[16384];
  bool head_seen_ = false;
  bool done_ = false;
};

}  // namespace tandem::frontend

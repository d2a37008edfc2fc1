#include "frontend/peer_call.h"

#include <boost/asio/connect.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace tandem::frontend {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;

std::shared_ptr<PeerCall> PeerCall::start(const asio::any_io_executor& executor, Request request, Callbacks callbacks) {
  auto call = std::make_shared<PeerCall>(executor, std::move(request), std::move(callbacks));
  call->parser_.body_limit(boost::none);  // streams are relayed, not held
  call->out_.method(http::verb::post);
  call->out_.target(call->request_.target);
  call->out_.version(11);
  call->out_.set(http::field::host, call->request_.host + ":" + call->request_.port);
  call->out_.set(http::field::content_type, "application/json");
  for (const auto& [name, value] : call->request_.headers) call->out_.set(name, value);
  call->out_.keep_alive(false);
  call->out_.body() = std::move(call->request_.body);
  call->out_.prepare_payload();
  // A numeric address (the usual advertise_url) needs no resolver: connect at once.
  boost::system::error_code ec;
  const asio::ip::address address = asio::ip::make_address(call->request_.host, ec);
  if (!ec) {
    call->endpoints_ = asio::ip::tcp::resolver::results_type::create(
        asio::ip::tcp::endpoint(address, static_cast<unsigned short>(std::stoi(call->request_.port))),
        call->request_.host, call->request_.port);
    call->on_resolve({}, call->endpoints_);
    return call;
  }
  call->resolver_.async_resolve(call->request_.host, call->request_.port, asio::ip::resolver_base::numeric_service,
                                [call](const error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
                                  call->on_resolve(ec, results);
                                });
  return call;
}

PeerCall::PeerCall(const asio::any_io_executor& executor, Request request, Callbacks callbacks)
    : request_(std::move(request)), callbacks_(std::move(callbacks)), resolver_(executor), stream_(executor) {}

void PeerCall::cancel() {
  if (done_) return;
  done_ = true;
  resolver_.cancel();
  error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
}

void PeerCall::finish(const Status& status) {
  if (done_) return;
  done_ = true;
  error_code ignored;
  stream_.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  stream_.close();
  if (callbacks_.on_end) callbacks_.on_end(status);
}

void PeerCall::on_resolve(const error_code& ec, const asio::ip::tcp::resolver::results_type& results) {
  if (done_) return;
  if (ec) {
    finish(Status(ErrorKind::kUnavailable, "cannot resolve " + request_.host + ": " + ec.message()));
    return;
  }
  stream_.expires_after(request_.connect_timeout);
  stream_.async_connect(results, [self = shared_from_this()](const error_code& e, const asio::ip::tcp::endpoint&) {
    self->on_connect(e);
  });
}

void PeerCall::set_answer_deadline() {
  if (request_.answer_timeout.count() <= 0) {
    stream_.expires_never();
    return;
  }
  if (answer_deadline_ == std::chrono::steady_clock::time_point::max()) {
    answer_deadline_ = std::chrono::steady_clock::now() + request_.answer_timeout;
  }
  stream_.expires_at(answer_deadline_);
}

void PeerCall::on_connect(const error_code& ec) {
  if (done_) return;
  if (ec) {
    finish(Status(ErrorKind::kUnavailable,
                  "cannot connect to " + request_.host + ":" + request_.port + ": " + ec.message()));
    return;
  }
  error_code ignored;
  stream_.socket().set_option(asio::ip::tcp::no_delay(true), ignored);
  set_answer_deadline();
  http::async_write(stream_, out_, [self = shared_from_this()](const error_code& e, size_t) { self->on_write(e); });
}

void PeerCall::on_write(const error_code& ec) {
  if (done_) return;
  if (ec) {
    finish(Status(ErrorKind::kUnavailable, "cannot send the request: " + ec.message()));
    return;
  }
  http::async_read_header(stream_, buffer_, parser_,
                          [self = shared_from_this()](const error_code& e, size_t) { self->on_header(e); });
}

void PeerCall::on_header(const error_code& ec) {
  if (done_) return;
  if (ec) {
    finish(Status(ErrorKind::kUnavailable, "no answer: " + ec.message()));
    return;
  }
  head_seen_ = true;
  const auto& res = parser_.get();
  PeerHead head;
  head.status = static_cast<int>(res.result_int());
  head.content_type = std::string(res[http::field::content_type]);
  head.request_id = std::string(res["X-Request-Id"]);
  head.retry_after = std::string(res[http::field::retry_after]);
  const std::string_view type = head.content_type;
  head.streaming = beast::iequals(type.substr(0, type.find(';')), "text/event-stream");
  if (callbacks_.on_head) callbacks_.on_head(head);
  if (done_) return;  // cancelled from the callback
  if (parser_.is_done()) {
    finish(Status());
    return;
  }
  read_body();
}

void PeerCall::read_body() {
  parser_.get().body().data = chunk_;
  parser_.get().body().size = sizeof chunk_;
  http::async_read_some(stream_, buffer_, parser_,
                        [self = shared_from_this()](const error_code& e, size_t) { self->on_body(e); });
}

void PeerCall::on_body(const error_code& ec) {
  if (done_) return;
  const size_t got = sizeof chunk_ - parser_.get().body().size;
  if (got > 0 && callbacks_.on_body) {
    callbacks_.on_body(std::string_view(chunk_, got));
    if (done_) return;
  }
  if (ec && ec != http::error::need_buffer) {
    finish(Status(ErrorKind::kIo, "the peer's answer broke off: " + ec.message()));
    return;
  }
  if (parser_.is_done()) {
    finish(Status());
    return;
  }
  read_body();
}

}  // namespace tandem::frontend

#include "frontend/http_session.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <utility>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <spdlog/spdlog.h>

#include "frontend/http_errors.h"
#include "frontend/http_response.h"
#include "frontend/readiness.h"
#include "frontend/request_id.h"

namespace tandem::frontend {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using boost::system::error_code;

namespace {

// Input read while a request generates (only to notice a client going away).
constexpr size_t kMaxBufferedInput = 64u << 10;
constexpr size_t kReadChunk = 16u << 10;

std::string retry_after_value() { return std::to_string(kRetryAfterSeconds); }

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, ServerCore& core)
    : socket_(std::move(socket)), core_(core), timer_(socket_.get_executor()) {
  core_.connections.fetch_add(1);
  idle_since_ = Clock::now();
}

HttpSession::~HttpSession() {
  cancel_job();
  release_in_flight();
  if (registered_) {
    std::lock_guard lock(core_.sessions_mu);
    core_.sessions.erase(registration_);
  }
  core_.connections.fetch_sub(1);
}

void HttpSession::start() {
  {
    std::lock_guard lock(core_.sessions_mu);
    registration_ = core_.sessions.insert(core_.sessions.end(), weak_from_this());
    registered_ = true;
  }
  error_code ec;
  socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  asio::dispatch(socket_.get_executor(), [self = shared_from_this()] {
    self->arm_timer();
    self->do_read();
  });
}

void HttpSession::shutdown() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->close(); });
}

// ---------------------------------------------------------------- reading

void HttpSession::do_read() {
  if (reading_ || closed_ || peer_eof_) return;
  if (input_.size() >= kMaxBufferedInput + core_.options.max_header_bytes) return;
  reading_ = true;
  socket_.async_read_some(input_.prepare(kReadChunk),
                          [self = shared_from_this()](const error_code& ec, size_t n) {
                            self->on_read(ec, n);
                          });
}

void HttpSession::on_read(const error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    if (job_ || ec != asio::error::eof) {
      // The client went away (or the socket failed): nobody is left to answer.
      if (job_) {
        spdlog::info("{} client disconnected during {}; cancelling", current_.id,
                     route_label(current_.route));
        log_request(499, job_->prompt_tokens(), job_->completion_tokens());
      }
      close();
      return;
    }
    // Half-closed after its requests: answer what was sent, then close.
    peer_eof_ = true;
    process_input();
    finish_if_peer_done();
    return;
  }
  input_.commit(n);
  if (!job_) process_input();
  do_read();
}

void HttpSession::process_input() {
  while (!job_ && !closed_ && !close_after_write_) {
    // Back-pressure: a client that pipelines without reading gets no more
    // answers queued until the output drains.
    if (pending_.size() + writing_.size() > core_.options.max_stream_buffer_bytes) break;
    if (!parser_) {
      if (input_.size() == 0) break;
      parser_.emplace();
      parser_->body_limit(core_.options.max_body_bytes);
      parser_->header_limit(static_cast<std::uint32_t>(core_.options.max_header_bytes));
      parser_->eager(true);
      request_start_ = Clock::now();
      sent_continue_ = false;
    }
    error_code ec;
    const size_t used = parser_->put(input_.data(), ec);
    input_.consume(used);
    if (!ec || ec == http::error::need_more) {
      if (!sent_continue_ && parser_->is_header_done() && !parser_->is_done()) {
        sent_continue_ = true;  // checked once per request
        const auto expect = parser_->get()[http::field::expect];
        if (boost::beast::iequals(expect, "100-continue")) {
          pending_ += "HTTP/1.1 100 Continue\r\n\r\n";
          flush();
        }
      }
    }
    if (ec == http::error::need_more) break;
    if (ec) {
      current_ = Current{};
      current_.start = request_start_;
      current_.keep_alive = false;
      current_.method = "?";
      int status = 400;
      std::string message = "Malformed HTTP request: " + ec.message();
      if (ec == http::error::body_limit) {
        status = 413;
        message = "The request body exceeds the limit of " +
                  std::to_string(core_.options.max_body_bytes) + " bytes";
      } else if (ec == http::error::header_limit) {
        status = 431;
        message = "The request headers exceed the limit of " +
                  std::to_string(core_.options.max_header_bytes) + " bytes";
      }
      parser_.reset();
      if (status == 413) {
        respond_error(Status(ErrorKind::kPayloadTooLarge, message));
      } else {
        const std::string body = error_json(Status(ErrorKind::kInvalidRequest, message));
        respond(status, body);
      }
      break;
    }
    if (!parser_->is_done()) {
      if (used == 0) break;
      continue;
    }
    Request req = parser_->release();
    parser_.reset();
    handle_request(std::move(req));
  }
  arm_timer();
}

// ---------------------------------------------------------------- routing

void HttpSession::handle_request(Request&& req) {
  current_ = Current{};
  current_.start = request_start_;
  current_.method = std::string(req.method_string());
  current_.keep_alive = req.keep_alive() && !core_.draining.load() && !peer_eof_;
  current_.http10 = req.version() < 11;
  try {
    dispatch(req);
  } catch (const std::exception& e) {
    if (current_.id.empty()) current_.id = make_request_id("req");
    spdlog::error("{} internal error handling {} {}: {}", current_.id, current_.method,
                  route_label(current_.route), e.what());
    cancel_job();
    job_.reset();
    release_in_flight();
    if (stream_open_) {
      // The head is out: the connection cannot carry another answer.
      stream_open_ = false;
      close_after_write_ = true;
      flush();
    } else {
      respond_error(Status(ErrorKind::kInternal, "Internal server error (request " + current_.id + ")"));
    }
  }
}

void HttpSession::dispatch(Request& req) {
  const RouteMatch match = match_route(req.method_string(), req.target());
  current_.route = match.route;
  if (match.route == Route::kNotFound) {
    respond_error(Status(ErrorKind::kNotFound, "Route " + std::string(req.target()) + " not found"));
    return;
  }
  if (!match.method_allowed) {
    const std::string body = error_json(Status(
        ErrorKind::kMethodNotAllowed,
        "Method " + current_.method + " is not allowed for " + route_label(match.route) + "; use " +
            match.allow));
    respond(405, body, "application/json", "Allow", match.allow);
    return;
  }
  if (core_.auth.enabled() && route_needs_auth(match.route) &&
      !core_.auth.check(req[http::field::authorization])) {
    const std::string body = error_json(
        Status(ErrorKind::kUnauthorized, "Missing or invalid API key (use 'Authorization: Bearer KEY')"));
    respond(401, body, "application/json", "WWW-Authenticate", "Bearer");
    return;
  }
  const auto api_response = [&](const ApiResponse& r) {
    if (r.retry_after) {
      respond(r.status, r.body, "application/json", "Retry-After", retry_after_value());
    } else {
      respond(r.status, r.body);
    }
  };
  switch (match.route) {
    case Route::kChatCompletions:
    case Route::kCompletions:
    case Route::kResponses:
      start_generation(req);
      return;
    case Route::kModels:
      api_response(core_.api.models());
      return;
    case Route::kModel:
      api_response(core_.api.model(match.model_id));
      return;
    case Route::kTokenize:
      api_response(core_.api.tokenize(req.body()));
      return;
    case Route::kDetokenize:
      api_response(core_.api.detokenize(req.body()));
      return;
    case Route::kHealth:
    case Route::kPing:
      respond(200, "{\"status\":\"ok\"}");
      return;
    case Route::kVersion:
      api_response(OpenAiApi::version());
      return;
    case Route::kReady:
      if (core_.draining.load()) {
        respond_error(Status(ErrorKind::kUnavailable, "The server is draining"));
      } else {
        const Readiness r = readiness(core_.service.ready(), core_.service.stats());
        if (r.ready) {
          respond(200, r.body);
        } else {
          respond_error(Status(ErrorKind::kUnavailable, r.message));
        }
      }
      return;
    case Route::kMetrics:
      core_.request_metrics.update_service_stats(core_.service.stats());
      respond(200, core_.registry.render(), "text/plain; version=0.0.4; charset=utf-8");
      return;
    case Route::kNotFound:
      break;
  }
}

void HttpSession::start_generation(Request& req) {
  const bool chat = current_.route == Route::kChatCompletions;
  current_.id = make_request_id(chat ? "chatcmpl" : current_.route == Route::kResponses ? "resp" : "cmpl");
  if (core_.draining.load() || core_.stopping.load()) {
    respond_error(Status(ErrorKind::kUnavailable, "The server is draining; retry on another instance"));
    return;
  }
  auto plan = core_.api.plan(current_.route, req.body());
  if (!plan.ok()) {
    respond_error(plan.status());
    return;
  }
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  auto job = std::make_unique<GenerationJob>(std::move(plan.value()), core_.model, current_.id, created,
                                             &core_.request_metrics, current_.start);
  auto gate = core_.gate;
  auto executor = socket_.get_executor();
  std::weak_ptr<HttpSession> weak = weak_from_this();
  auto inbox = std::make_shared<TokenInbox>([gate, executor, weak] {
    gate->post(executor, [weak] {
      if (auto self = weak.lock()) self->on_inbox();
    });
  });
  const auto deadline = core_.options.request_timeout.count() > 0
                            ? current_.start + core_.options.request_timeout
                            : Clock::time_point::max();
  for (int i = 0; i < job->choice_count(); ++i) {
    scheduler::GenerationRequest r = job->make_request(i);
    r.deadline = deadline;
    r.sink = inbox->sink(i);
    Status st = core_.service.submit(std::move(r));
    if (!st.ok()) {
      for (int j = 0; j < i; ++j) core_.service.cancel(job->request_id(j));
      respond_error(st);
      return;
    }
  }
  job_ = std::move(job);
  inbox_ = std::move(inbox);
  core_.in_flight.fetch_add(1);
  holds_in_flight_ = true;
  if (job_->streaming()) {
    ResponseHead head;
    head.content_type = "text/event-stream";
    head.chunked = true;
    head.http10 = current_.http10;
    head.keep_alive = current_.keep_alive && !current_.http10;
    if (!head.keep_alive) current_.keep_alive = false;
    head.headers.emplace_back("Cache-Control", "no-cache");
    head.headers.emplace_back("X-Request-Id", current_.id);
    append_response_head(pending_, head);
    stream_scratch_.clear();
    job_->open_stream(stream_scratch_);
    if (current_.http10) {
      pending_ += stream_scratch_;
    } else {
      append_chunk(pending_, stream_scratch_);
    }
    stream_open_ = true;
    flush();
  }
  arm_timer();
}

// ---------------------------------------------------------------- tokens

void HttpSession::on_inbox() {
  if (closed_ || !job_ || !inbox_) return;
  inbox_->take(items_);
  if (items_.empty()) return;
  const bool streaming = job_->streaming();
  stream_scratch_.clear();
  cancel_ids_.clear();
  for (auto& item : items_) {
    job_->on_event(item.choice, std::move(item.event), item.at, stream_scratch_, cancel_ids_);
    if (job_->finished()) break;
  }
  items_.clear();
  for (const auto& id : cancel_ids_) core_.service.cancel(id);
  if (streaming && !stream_scratch_.empty()) {
    if (current_.http10) {
      pending_ += stream_scratch_;
    } else {
      append_chunk(pending_, stream_scratch_);
    }
  }
  if (job_->finished()) {
    complete_job();
  } else if (streaming && pending_.size() > core_.options.max_stream_buffer_bytes) {
    spdlog::warn("{} client is not reading its stream ({} bytes unsent); dropping it", current_.id,
                 pending_.size() + writing_.size());
    log_request(499, job_->prompt_tokens(), job_->completion_tokens());
    close();
    return;
  }
  flush();
}

void HttpSession::complete_job() {
  int status = 200;
  if (job_->streaming()) {
    stream_scratch_.clear();
    job_->close_stream(stream_scratch_);
    if (current_.http10) {
      pending_ += stream_scratch_;
      current_.keep_alive = false;
    } else {
      append_chunk(pending_, stream_scratch_);
      append_last_chunk(pending_);
    }
    stream_open_ = false;
    if (!current_.keep_alive) close_after_write_ = true;
    if (!job_->error().ok()) status = http_error_for(job_->error().kind()).status;
    core_.request_metrics.http_request(route_label(current_.route), status);
    log_request(status, job_->prompt_tokens(), job_->completion_tokens());
  } else if (!job_->error().ok()) {
    const Status err = job_->error();
    const int prompt = job_->prompt_tokens();
    const int completion = job_->completion_tokens();
    job_.reset();
    respond_error(err);
    spdlog::debug("{} failed after {} prompt / {} completion tokens", current_.id, prompt, completion);
  } else {
    const std::string body = job_->response_body();
    const int prompt = job_->prompt_tokens();
    const int completion = job_->completion_tokens();
    job_.reset();
    ResponseHead head;
    head.status = 200;
    head.keep_alive = current_.keep_alive;
    head.http10 = current_.http10;
    head.content_length = body.size();
    head.headers.emplace_back("X-Request-Id", current_.id);
    append_response_head(pending_, head);
    pending_ += body;
    if (!current_.keep_alive) close_after_write_ = true;
    core_.request_metrics.http_request(route_label(current_.route), 200);
    log_request(200, prompt, completion);
  }
  job_.reset();
  inbox_.reset();
  idle_since_ = Clock::now();
  flush();
  if (!write_in_flight_) release_in_flight();
  // Pipelined requests that arrived meanwhile.
  process_input();
  do_read();
}

void HttpSession::cancel_job() {
  if (!job_) return;
  for (int i = 0; i < job_->choice_count(); ++i) core_.service.cancel(job_->request_id(i));
  job_.reset();
  inbox_.reset();
}

void HttpSession::release_in_flight() {
  if (holds_in_flight_) {
    holds_in_flight_ = false;
    core_.in_flight.fetch_sub(1);
  }
}

// ---------------------------------------------------------------- responses

void HttpSession::respond(int status, std::string_view body, std::string_view content_type,
                          std::string_view extra_name, std::string_view extra_value) {
  ResponseHead head;
  head.status = status;
  head.content_type = content_type;
  head.keep_alive = current_.keep_alive;
  head.http10 = current_.http10;
  head.content_length = body.size();
  if (!extra_name.empty()) head.headers.emplace_back(extra_name, extra_value);
  if (!current_.id.empty()) head.headers.emplace_back("X-Request-Id", current_.id);
  append_response_head(pending_, head);
  if (current_.method != "HEAD") pending_ += body;  // HEAD: the head GET would send
  if (!current_.keep_alive) close_after_write_ = true;
  idle_since_ = Clock::now();
  core_.request_metrics.http_request(route_label(current_.route), status);
  log_request(status, 0, 0);
  flush();
}

void HttpSession::respond_error(const Status& status) {
  const HttpError e = http_error_for(status.kind());
  if (e.status >= 500 && status.kind() != ErrorKind::kUnavailable) {
    spdlog::error("{} {} {}: {}", current_.id.empty() ? "-" : current_.id, current_.method,
                  route_label(current_.route), status.to_string());
  }
  const std::string body = error_json(status);
  if (e.retry_after) {
    respond(e.status, body, "application/json", "Retry-After", retry_after_value());
  } else {
    respond(e.status, body);
  }
}

void HttpSession::log_request(int status, int prompt_tokens, int completion_tokens) const {
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - current_.start).count();
  const bool generation = current_.route == Route::kChatCompletions || current_.route == Route::kCompletions ||
                          current_.route == Route::kResponses;
  if (generation || current_.route == Route::kTokenize || current_.route == Route::kDetokenize ||
      status >= 400) {
    spdlog::info("{} {} {} status={} prompt_tokens={} completion_tokens={} duration_ms={:.2f}",
                 current_.id.empty() ? "-" : current_.id, current_.method, route_label(current_.route),
                 status, prompt_tokens, completion_tokens, ms);
  } else {
    spdlog::debug("- {} {} status={} duration_ms={:.2f}", current_.method, route_label(current_.route),
                  status, ms);
  }
}

// ---------------------------------------------------------------- writing

void HttpSession::flush() {
  if (write_in_flight_ || pending_.empty() || closed_) return;
  writing_.swap(pending_);
  pending_.clear();
  write_in_flight_ = true;
  write_started_ = Clock::now();
  asio::async_write(socket_, asio::buffer(writing_),
                    [self = shared_from_this()](const error_code& ec, size_t) { self->on_write(ec); });
  arm_timer();
}

void HttpSession::on_write(const error_code& ec) {
  write_in_flight_ = false;
  writing_.clear();
  if (closed_) return;
  if (ec) {
    if (job_) log_request(499, job_->prompt_tokens(), job_->completion_tokens());
    close();
    return;
  }
  if (!pending_.empty()) {
    flush();
    return;
  }
  if (!job_) release_in_flight();
  if (close_after_write_ && !job_) {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  if (!job_) {
    process_input();
    do_read();
    finish_if_peer_done();
  }
}

void HttpSession::finish_if_peer_done() {
  if (peer_eof_ && !job_ && !write_in_flight_ && pending_.empty() && !closed_) close();
}

// ---------------------------------------------------------------- timeouts

HttpSession::Clock::time_point HttpSession::next_deadline() const {
  const auto& o = core_.options;
  auto d = Clock::time_point::max();
  if (write_in_flight_) d = std::min(d, write_started_ + o.idle_timeout);
  if (job_) return d;  // generation: bounded by request_timeout in the service
  if (parser_) {
    d = std::min(d, parser_->is_header_done() ? request_start_ + o.header_timeout + o.idle_timeout
                                              : request_start_ + o.header_timeout);
  } else if (!write_in_flight_) {
    d = std::min(d, idle_since_ + o.idle_timeout);
  }
  return d;
}

void HttpSession::arm_timer() {
  if (closed_) return;
  const auto d = next_deadline();
  if (d >= armed_for_) return;  // the armed wake-up comes first and re-checks
  armed_for_ = d;
  timer_.expires_at(d);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) { self->on_timer(ec); });
}

void HttpSession::on_timer(const error_code& ec) {
  if (ec == asio::error::operation_aborted || closed_) return;
  armed_for_ = Clock::time_point::max();
  const auto now = Clock::now();
  if (next_deadline() <= now) {
    if (job_) {
      spdlog::warn("{} write made no progress for {}s; dropping the client", current_.id,
                   core_.options.idle_timeout.count());
      log_request(499, job_->prompt_tokens(), job_->completion_tokens());
    } else if (parser_) {
      spdlog::info("- closing a connection whose request did not arrive in time");
    }
    close();
    return;
  }
  arm_timer();
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  cancel_job();
  release_in_flight();
  error_code ignored;
  timer_.cancel();
  socket_.close(ignored);
}

}  // namespace tandem::frontend

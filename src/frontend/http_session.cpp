#include "frontend/http_session.h"

#include <algorithm>
#include <ctime>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>

#include "discovery/discovery.h"
#include "frontend/dashboard_assets.h"
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

std::string retry_after_value(int seconds = 0) { return std::to_string(seconds > 0 ? seconds : kRetryAfterSeconds); }

// Whether a Content-Type names JSON: "application/json", any case, with or
// without parameters ("; charset=utf-8").
bool is_json_content_type(std::string_view value) {
  const size_t semi = value.find(';');
  std::string_view type = value.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return boost::beast::iequals(type, "application/json");
}

// Whether a request head announces a body (a non-zero Content-Length, or a
// Transfer-Encoding): only a body needs a JSON Content-Type, so a bare
// POST /ping (a load balancer's probe) is not refused.
template <class Head>
bool announces_body(const Head& head) {
  const auto length = head[boost::beast::http::field::content_length];
  return !head[boost::beast::http::field::transfer_encoding].empty() || (!length.empty() && length != "0");
}

}  // namespace

HttpSession::HttpSession(asio::ip::tcp::socket socket, ServerCore& core, std::string client)
    : socket_(std::move(socket)), core_(core), client_(std::move(client)), timer_(socket_.get_executor()) {
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
  if (!client_.empty()) core_.release_client(client_);
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
  asio::post(socket_.get_executor(), [self = shared_from_this()] { self->end_for_stop(); });
}

void HttpSession::end_for_stop() {
  if (closed_) return;
  if (forward_) {
    // The peer sees its connection close and cancels the request there.
    cancel_forward();
    if (stream_open_) {
      stream_open_ = false;
      if (!current_.http10) append_last_chunk(pending_);
    }
    spdlog::info("{} (forwarded to {}) ended by the server stopping", current_.id, current_.peer);
    current_.keep_alive = false;
    close_after_write_ = true;
    finish_forward();
    return;
  }
  if (job_) {
    stream_scratch_.clear();
    cancel_ids_.clear();
    job_->abort_open(Clock::now(), stream_scratch_, cancel_ids_);
    for (const auto& id : cancel_ids_) core_.service.cancel(id);
    if (job_->streaming() && !stream_scratch_.empty()) {
      if (current_.http10) {
        pending_ += stream_scratch_;
      } else {
        append_chunk(pending_, stream_scratch_);
      }
    }
    spdlog::info("{} ended by the server stopping", current_.id);
    current_.keep_alive = false;
    close_after_write_ = true;
    complete_job();
    return;
  }
  if (preparing_ || write_in_flight_ || !pending_.empty()) {
    // Its answer (503 for a request still being prepared) goes out first.
    close_after_write_ = true;
    return;
  }
  close();
}

// ---------------------------------------------------------------- reading

void HttpSession::do_read() {
  if (reading_ || closed_ || peer_eof_) return;
  if (input_.size() >= kMaxBufferedInput + core_.options.max_header_bytes) return;
  reading_ = true;
  socket_.async_read_some(input_.prepare(kReadChunk),
                          [self = shared_from_this()](const error_code& ec, size_t n) { self->on_read(ec, n); });
}

void HttpSession::on_read(const error_code& ec, size_t n) {
  reading_ = false;
  if (closed_) return;
  if (ec) {
    // A generation (running, or being prepared) treats end-of-input as the
    // client going away, as it always has; other requests are answered.
    const bool generation =
        busy() || (preparing_ && (current_.route == Route::kChatCompletions || current_.route == Route::kCompletions));
    if (generation || ec != asio::error::eof) {
      // The client went away (or the socket failed): nobody is left to answer.
      if (busy() || preparing_) {
        spdlog::info("{} client disconnected during {}; cancelling", current_.id.empty() ? "-" : current_.id,
                     route_label(current_.route));
      }
      abandon();
      return;
    }
    // Half-closed after its requests: answer what was sent, then close.
    peer_eof_ = true;
    process_input();
    finish_if_peer_done();
    return;
  }
  input_.commit(n);
  if (!busy() && !preparing_) process_input();
  do_read();
}

void HttpSession::process_input() {
  while (!busy() && !preparing_ && !closed_ && !close_after_write_) {
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
      head_checked_ = false;
    }
    error_code ec;
    const size_t used = parser_->put(input_.data(), ec);
    input_.consume(used);
    if ((!ec || ec == http::error::need_more) && parser_->is_header_done() && !head_checked_) {
      head_checked_ = true;
      begin_request(parser_->get());
      if (refuse_head(parser_->get(), !parser_->is_done())) {
        parser_.reset();
        break;
      }
    }
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
        message = "The request body exceeds the limit of " + std::to_string(core_.options.max_body_bytes) + " bytes";
      } else if (ec == http::error::header_limit) {
        status = 431;
        message =
            "The request headers exceed the limit of " + std::to_string(core_.options.max_header_bytes) + " bytes";
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

void HttpSession::begin_request(const Request& head) {
  seen_request_ = true;
  current_ = Current{};
  current_.start = request_start_;
  current_.method = std::string(head.method_string());
  current_.match = match_route(head.method_string(), head.target());
  current_.route = current_.match.route;
  current_.keep_alive = head.keep_alive() && !core_.draining.load() && !peer_eof_;
  current_.http10 = head.version() < 11;
  const auto& origins = core_.options.cors_origins;
  if (!origins.empty()) {
    const auto origin = head[http::field::origin];
    if (!origin.empty()) {
      for (const auto& allowed : origins) {
        if (allowed == "*" || allowed == origin) {
          current_.origin = allowed == "*" ? "*" : std::string(origin);
          break;
        }
      }
    }
  }
}

bool HttpSession::authorized(Route route, std::string_view authorization) const {
  if (!core_.auth.enabled() || !route_needs_auth(route)) return true;
  return is_dashboard_route(route) ? core_.auth.check_bearer_or_basic(authorization) : core_.auth.check(authorization);
}

bool HttpSession::refuse_head(const Request& head, bool body_pending) {
  const RouteMatch& match = current_.match;
  const bool preflight =
      head.method() == http::verb::options && !current_.origin.empty() && match.route != Route::kNotFound;
  if (preflight) return false;  // answered in dispatch
  std::optional<Status> refusal;
  std::string_view extra_name, extra_value;
  if (match.route == Route::kNotFound || (is_dashboard_route(match.route) && core_.options.dashboard == nullptr)) {
    refusal = Status(ErrorKind::kNotFound, "Route " + std::string(head.target()) + " not found");
  } else if (!match.method_allowed) {
    refusal = Status(ErrorKind::kMethodNotAllowed, "Method " + current_.method + " is not allowed for " +
                                                       route_label(match.route) + "; use " + match.allow);
    extra_name = "Allow";
    extra_value = match.allow;
  } else if (!head[kPeerKeyHeader].empty() || !head[kHopsHeader].empty()) {
    // Forwarded by a peer: its key stands for the client's API key.
    if (!core_.peer_key_matches(head[kPeerKeyHeader])) {
      refusal =
          Status(ErrorKind::kUnauthorized,
                 core_.options.discovery ? "Forwarded request with a missing or wrong peer key ([discovery] peer_key)"
                                         : "This appliance does not take forwarded requests ([discovery] is off)");
    } else {
      const auto hops = head[kHopsHeader];
      int n = 0;
      bool ok = !hops.empty() && hops.size() <= 2;
      for (char c : hops) {
        ok = ok && c >= '0' && c <= '9';
        n = n * 10 + (c - '0');
      }
      if (!ok || n < 1) {
        refusal = Status(ErrorKind::kInvalidRequest,
                         "X-Tandem-Hops: expected an integer in 1..99, got '" + std::string(hops) + "'");
      } else {
        current_.hops = n;
      }
    }
  } else if (!authorized(match.route, head[http::field::authorization])) {
    extra_name = "WWW-Authenticate";
    if (is_dashboard_route(match.route)) {
      // Basic, so that a browser asks for the key (as the password) and sends it on.
      refusal = Status(ErrorKind::kUnauthorized,
                       "Missing or invalid API key (use 'Authorization: Bearer KEY', or the key as the password)");
      extra_value = "Basic realm=\"tandem\", charset=\"UTF-8\"";
    } else {
      refusal = Status(ErrorKind::kUnauthorized, "Missing or invalid API key (use 'Authorization: Bearer KEY')");
      extra_value = "Bearer";
    }
  } else if (head.method() == http::verb::post && announces_body(head) &&
             !is_json_content_type(head[http::field::content_type])) {
    const auto type = head[http::field::content_type];
    refusal = Status(ErrorKind::kUnsupportedMediaType,
                     "The request body must be JSON with 'Content-Type: application/json'" +
                         (type.empty() ? std::string(" (none was sent)") : ", got '" + std::string(type) + "'"));
  }
  if (!refusal) return false;
  if (body_pending) current_.keep_alive = false;  // the body is not read: the connection cannot go on
  const HttpError e = http_error_for(refusal->kind());
  current_.refusal = refusal->message();
  respond(e.status, error_json(*refusal), "application/json", extra_name, extra_value);
  return true;
}

// ---------------------------------------------------------------- routing

void HttpSession::handle_request(Request&& req) {
  try {
    dispatch(req);
  } catch (const std::exception& e) {
    fail_internal(e.what());
  }
}

void HttpSession::fail_internal(const char* what) {
  if (current_.id.empty()) current_.id = make_request_id("req");
  spdlog::error("{} internal error handling {} {}: {}", current_.id, current_.method, route_label(current_.route),
                what);
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

void HttpSession::dispatch(Request& req) {
  const RouteMatch& match = current_.match;
  if (req.method() == http::verb::options && !current_.origin.empty() && match.route != Route::kNotFound) {
    ResponseHead head;
    head.status = 200;
    head.content_type = "text/plain";
    head.keep_alive = current_.keep_alive;
    head.http10 = current_.http10;
    add_headers(head);
    head.headers.emplace_back("Access-Control-Allow-Methods", match.allow);
    head.headers.emplace_back("Access-Control-Allow-Headers", "Authorization, Content-Type");
    head.headers.emplace_back("Access-Control-Max-Age", "600");
    append_response_head(pending_, head);
    if (!current_.keep_alive) close_after_write_ = true;
    idle_since_ = Clock::now();
    core_.request_metrics.http_request(route_label(current_.route), 200);
    log_request(200, 0, 0);
    flush();
    return;
  }
  const auto api_response = [this](const ApiResponse& r) {
    if (r.retry_after) {
      respond(r.status, r.body, "application/json", "Retry-After", retry_after_value());
    } else {
      respond(r.status, r.body);
    }
  };
  const ServerCore* core = &core_;
  switch (match.route) {
    case Route::kChatCompletions:
    case Route::kCompletions:
    case Route::kResponses: start_generation(req); return;
    case Route::kModels:
      api_response(core_.peer_router ? core_.api.models(remote_models(*core_.options.discovery->peers(), core_.model))
                                     : core_.api.models());
      return;
    case Route::kModel:
      api_response(core_.peer_router
                       ? core_.api.model(match.model_id, remote_models(*core_.options.discovery->peers(), core_.model))
                       : core_.api.model(match.model_id));
      return;
    case Route::kTokenize:
      offload([core, body = std::move(req.body())] { return core->api.tokenize(body); }, api_response);
      return;
    case Route::kDetokenize:
      offload([core, body = std::move(req.body())] { return core->api.detokenize(body); }, api_response);
      return;
    case Route::kHealth:
    case Route::kPing: respond(200, "{\"status\":\"ok\"}"); return;
    case Route::kVersion: api_response(OpenAiApi::version()); return;
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
    case Route::kDashboard:
    case Route::kDashboardData: respond_dashboard(match, req.target()); return;
    case Route::kNotFound: break;
  }
}

void HttpSession::respond_dashboard(const RouteMatch& match, std::string_view target) {
  if (match.route == Route::kDashboardData) {
    respond(200, core_.options.dashboard->data(query_uint(target, "since")), "application/json",
            dashboard_headers(true));
  } else if (const DashboardAsset* asset = find_dashboard_asset(match.asset)) {
    respond(200, asset->body, asset->content_type, dashboard_headers(false));
  } else {
    respond_error(Status(ErrorKind::kNotFound, "Route " + std::string(target) + " not found"));
  }
}

void HttpSession::start_generation(Request& req) {
  const bool chat = current_.route == Route::kChatCompletions;
  current_.id = make_request_id(chat ? "chatcmpl" : current_.route == Route::kResponses ? "resp" : "cmpl");
  if (core_.draining.load() || core_.stopping.load()) {
    respond_error(Status(ErrorKind::kUnavailable, "The server is draining; retry on another instance"));
    return;
  }
  if (core_.peer_router) {
    fwd_ = Forward{};
    route_request(std::move(req.body()));
    return;
  }
  const ServerCore* core = &core_;
  offload([core, route = current_.route, body = std::move(req.body())] { return core->api.plan(route, body); },
          [this](Result<JobPlan>&& plan) { admit(std::move(plan)); });
}

template <class Work, class Done>
void HttpSession::offload(Work work, Done done) {
  using R = std::invoke_result_t<Work&>;
  auto result = std::make_shared<std::optional<R>>();
  auto self = shared_from_this();
  auto task = [self, result, work = std::move(work), done = std::move(done)]() mutable {
    try {
      result->emplace(work());
    } catch (const std::exception& e) {
      spdlog::error("{} preparing the request failed: {}", self->current_.id.empty() ? "-" : self->current_.id,
                    e.what());
    }
    auto executor = self->socket_.get_executor();
    self->core_.gate->post(executor, [self, result, done = std::move(done)]() mutable {
      self->preparing_ = false;
      if (self->closed_) return;
      if (!result->has_value()) {
        self->fail_internal("request preparation failed");
      } else {
        try {
          done(std::move(**result));
        } catch (const std::exception& e) {
          self->fail_internal(e.what());
        }
      }
      self->arm_timer();
      if (!self->busy()) {
        self->process_input();
        self->finish_if_peer_done();
      }
      self->do_read();
    });
  };
  preparing_ = true;
  if (!core_.prepare_pool.post(std::move(task))) {
    preparing_ = false;
    respond_error(Status(ErrorKind::kQueueFull, "Too many requests are being prepared; retry shortly"));
  }
}

void HttpSession::admit(Result<JobPlan> plan) {
  if (core_.draining.load() || core_.stopping.load()) {
    respond_error(Status(ErrorKind::kUnavailable, "The server is draining; retry on another instance"));
    return;
  }
  if (!plan.ok()) {
    respond_error(plan.status());
    return;
  }
  const int64_t created = static_cast<int64_t>(std::time(nullptr));
  auto job = std::make_unique<GenerationJob>(std::move(plan.value()), core_.model, current_.id, created,
                                             &core_.request_metrics, current_.start);
  const int limit = core_.options.max_request_choices;
  if (limit > 0 && job->choice_count() > limit) {
    // Queued all at once on an idle server they still would not fit: a
    // retry cannot help, so this is not a 429.
    respond_error(Status(ErrorKind::kInvalidRequest,
                         "The request asks for " + std::to_string(job->choice_count()) +
                             " sequences (n times the number of prompts); this server queues at most " +
                             std::to_string(limit) + " per request ([scheduler] max_queue)",
                         "n"));
    return;
  }
  auto gate = core_.gate;
  auto executor = socket_.get_executor();
  std::weak_ptr<HttpSession> weak = weak_from_this();
  auto inbox = std::make_shared<TokenInbox>([gate, executor, weak] {
    gate->post(executor, [weak] {
      if (auto self = weak.lock()) self->on_inbox();
    });
  });
  const auto deadline = core_.options.request_timeout.count() > 0 ? current_.start + core_.options.request_timeout
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
  if (!holds_in_flight_) {  // a request no peer answered may hold it already
    core_.in_flight.fetch_add(1);
    holds_in_flight_ = true;
  }
  if (job_->streaming()) {
    ResponseHead head;
    head.content_type = "text/event-stream";
    head.chunked = true;
    head.http10 = current_.http10;
    head.keep_alive = current_.keep_alive && !current_.http10;
    if (!head.keep_alive) current_.keep_alive = false;
    head.headers.emplace_back("Cache-Control", "no-cache");
    add_headers(head);
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

// ---------------------------------------------------------------- forwarding (the rest: http_session_forward.cpp)

void HttpSession::route_request(std::string body) {
  ServerCore* core = &core_;
  offload(
      [core, route = current_.route, hops = current_.hops, excluded = fwd_.excluded, body = std::move(body)]() mutable {
        Routed r;
        r.key = routing_key(route, body);
        if (r.key) {
          r.served_here = check_model_name(r.key->model, core->model).ok();
        }
        // The Responses API's stored conversations live where they were made:
        // only requests for models not served here leave.
        if (r.key && !(route == Route::kResponses && r.served_here)) {
          const int waiting =
              r.served_here && core->options.forward_queue_threshold > 0 ? core->service.stats().waiting : 0;
          const auto peers = core->options.discovery->peers();
          r.choice = core->peer_router->choose(*r.key, hops, r.served_here, waiting, *peers, excluded);
        }
        if (r.choice.kind == PeerChoice::Kind::kLocal) {
          r.plan.emplace(core->api.plan(route, body));
        } else {
          r.body = std::move(body);
        }
        return r;
      },
      [this](Routed&& r) { on_routed(std::move(r)); });
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
    abandon();
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
    add_headers(head);
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

void HttpSession::abandon() {
  if (closed_) return;
  if (forward_) {
    cancel_forward();
    core_.request_metrics.http_request(route_label(current_.route), 499);
    log_request(499, 0, 0);
  } else if (job_) {
    // The output is discarded; what counts is that each open choice ends as
    // "abort" in the metrics, as it would had the service's event arrived.
    stream_scratch_.clear();
    cancel_ids_.clear();
    job_->abort_open(Clock::now(), stream_scratch_, cancel_ids_);
    core_.request_metrics.http_request(route_label(current_.route), 499);
    log_request(499, job_->prompt_tokens(), job_->completion_tokens());
  } else if (preparing_) {
    core_.request_metrics.http_request(route_label(current_.route), 499);
    log_request(499, 0, 0);
  }
  close();
}

void HttpSession::cancel_job() {
  cancel_forward();
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

void HttpSession::respond(int status, std::string_view body, std::string_view content_type, std::string_view extra_name,
                          std::string_view extra_value) {
  HeaderList extra;
  if (!extra_name.empty()) extra.emplace_back(extra_name, extra_value);
  respond(status, body, content_type, std::move(extra));
}

void HttpSession::respond(int status, std::string_view body, std::string_view content_type, HeaderList extra) {
  ResponseHead head;
  head.status = status;
  head.content_type = content_type;
  head.keep_alive = current_.keep_alive;
  head.http10 = current_.http10;
  head.content_length = body.size();
  head.headers = std::move(extra);
  add_headers(head);
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
    spdlog::error("{} {} {}: {}", current_.id.empty() ? "-" : current_.id, current_.method, route_label(current_.route),
                  status.to_string());
  }
  const std::string body = error_json(status);
  current_.refusal = status.message();
  if (e.retry_after) {
    respond(e.status, body, "application/json", "Retry-After", retry_after_value(status.retry_after_seconds()));
  } else {
    respond(e.status, body);
  }
}

void HttpSession::add_headers(ResponseHead& head) const {
  if (!current_.id.empty()) head.headers.emplace_back("X-Request-Id", current_.id);
  if (!current_.origin.empty()) {
    head.headers.emplace_back("Access-Control-Allow-Origin", current_.origin);
    if (current_.origin != "*") head.headers.emplace_back("Vary", "Origin");
  }
}

void HttpSession::log_request(int status, int prompt_tokens, int completion_tokens) const {
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - current_.start).count();
  const bool generation = current_.route == Route::kChatCompletions || current_.route == Route::kCompletions ||
                          current_.route == Route::kResponses;
  if (generation || current_.route == Route::kTokenize || current_.route == Route::kDetokenize || status >= 400) {
    spdlog::info("{} {} {} status={} prompt_tokens={} completion_tokens={} duration_ms={:.2f}{}{}{}{}",
                 current_.id.empty() ? "-" : current_.id, current_.method, route_label(current_.route), status,
                 prompt_tokens, completion_tokens, ms, current_.peer.empty() ? "" : " forwarded_to=", current_.peer,
                 current_.refusal.empty() ? "" : " reason=", current_.refusal);
  } else {
    spdlog::debug("- {} {} status={} duration_ms={:.2f}", current_.method, route_label(current_.route), status, ms);
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
    abandon();
    return;
  }
  if (!pending_.empty()) {
    flush();
    return;
  }
  if (!busy()) release_in_flight();
  if (close_after_write_ && !busy() && !preparing_) {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
    close();
    return;
  }
  if (!busy()) {
    process_input();
    do_read();
    finish_if_peer_done();
  }
}

void HttpSession::finish_if_peer_done() {
  if (peer_eof_ && !busy() && !preparing_ && !write_in_flight_ && pending_.empty() && !closed_) close();
}

// ---------------------------------------------------------------- timeouts

HttpSession::Clock::time_point HttpSession::next_deadline() const {
  const auto& o = core_.options;
  auto d = Clock::time_point::max();
  if (write_in_flight_) d = std::min(d, write_started_ + o.idle_timeout);
  if (busy() || preparing_) return d;  // generation: bounded by request_timeout in the service
  if (parser_) {
    d = std::min(d, parser_->is_header_done() ? request_start_ + o.header_timeout + o.idle_timeout
                                              : request_start_ + o.header_timeout);
  } else if (!write_in_flight_) {
    // A connection that has not sent a request yet is held like a request
    // head that does not arrive.
    d = std::min(d, idle_since_ + (seen_request_ ? o.idle_timeout : o.header_timeout));
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
    } else if (parser_) {
      spdlog::info("- closing a connection whose request did not arrive in time");
    }
    abandon();
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

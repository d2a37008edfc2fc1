// HttpSession's forwarding to peer appliances ([discovery]): acting on the
// routing decision (route_request, in http_session.cpp beside offload, makes
// it off the I/O thread), the peer call, and relaying its answer.
#include <utility>

#include <spdlog/spdlog.h>

#include "discovery/discovery.h"
#include "frontend/http_errors.h"
#include "frontend/http_response.h"
#include "frontend/http_session.h"

namespace tandem::frontend {

namespace {

// Peers tried for one request before it is answered 503.
constexpr size_t kMaxForwardAttempts = 3;

}  // namespace

void HttpSession::on_routed(Routed&& r) {
  switch (r.choice.kind) {
    case PeerChoice::Kind::kRefuse: respond_error(r.choice.refusal); return;
    case PeerChoice::Kind::kForward: start_forward(std::move(r)); return;
    case PeerChoice::Kind::kLocal: break;
  }
  if (!r.served_here && !fwd_.excluded.empty()) {
    std::string peers;
    for (const auto& p : fwd_.excluded) peers += (peers.empty() ? "" : ", ") + p;
    respond_error(Status(ErrorKind::kUnavailable, "The model `" + (r.key ? r.key->model : std::string()) +
                                                      "` is served by peer appliance(s) " + peers +
                                                      ", which did not answer; retry shortly"));
    return;
  }
  if (r.key && r.served_here) core_.peer_router->remember(r.key->affinity, core_.peer_router->policy().self_id);
  admit(std::move(*r.plan));
}

void HttpSession::start_forward(Routed&& r) {
  if (core_.draining.load() || core_.stopping.load()) {
    respond_error(Status(ErrorKind::kUnavailable, "The server is draining; retry on another instance"));
    return;
  }
  auto address = discovery::parse_http_url(r.choice.url);
  if (!address.ok()) {  // records are validated when read: a broken invariant
    fail_internal(("peer url: " + address.status().message()).c_str());
    return;
  }
  fwd_.peer_id = r.choice.peer_id;
  fwd_.body = std::move(r.body);
  fwd_.key = *r.key;
  fwd_.head_seen = false;
  fwd_.head = PeerHead{};
  fwd_.answer.clear();
  current_.peer = fwd_.peer_id;
  PeerCall::Request req;
  req.host = address->host;
  req.port = address->port;
  req.target = route_label(current_.route);
  req.body = fwd_.body;  // kept for a retry on another peer
  req.headers.emplace_back(std::string(kPeerKeyHeader), core_.options.discovery->peer_key());
  req.headers.emplace_back(std::string(kHopsHeader), std::to_string(current_.hops + 1));
  req.headers.emplace_back("X-Tandem-Forwarded-By", core_.peer_router->policy().self_id);
  req.answer_timeout = core_.options.request_timeout;
  std::weak_ptr<HttpSession> weak = weak_from_this();
  PeerCall::Callbacks cb;
  cb.on_head = [weak](const PeerHead& h) {
    if (auto self = weak.lock()) self->on_peer_head(h);
  };
  cb.on_body = [weak](std::string_view data) {
    if (auto self = weak.lock()) self->on_peer_body(data);
  };
  cb.on_end = [weak](const Status& st) {
    if (auto self = weak.lock()) self->on_peer_end(st);
  };
  spdlog::debug("{} forwarding to {} at {} ({})", current_.id, fwd_.peer_id, r.choice.url, r.choice.reason);
  core_.peer_router->forward_started(fwd_.peer_id);
  forward_ = PeerCall::start(socket_.get_executor(), std::move(req), std::move(cb));
  if (!holds_in_flight_) {
    core_.in_flight.fetch_add(1);
    holds_in_flight_ = true;
  }
  arm_timer();
}

void HttpSession::on_peer_head(const PeerHead& h) {
  if (closed_ || !forward_) return;
  fwd_.head_seen = true;
  fwd_.head = h;
  if (!h.request_id.empty()) current_.id = h.request_id;
  if (!h.streaming) return;  // relayed whole at the end, with its length
  ResponseHead head;
  head.status = h.status;
  head.content_type = "text/event-stream";
  head.chunked = true;
  head.http10 = current_.http10;
  head.keep_alive = current_.keep_alive && !current_.http10;
  if (!head.keep_alive) current_.keep_alive = false;
  head.headers.emplace_back("Cache-Control", "no-cache");
  add_headers(head);
  append_response_head(pending_, head);
  stream_open_ = true;
  flush();
}

void HttpSession::on_peer_body(std::string_view data) {
  if (closed_ || !forward_) return;
  if (!fwd_.head.streaming) {
    fwd_.answer.append(data);
    return;
  }
  if (current_.http10) {
    pending_.append(data);
  } else {
    append_chunk(pending_, data);
  }
  if (pending_.size() > core_.options.max_stream_buffer_bytes) {
    spdlog::warn("{} client is not reading its stream ({} bytes unsent); dropping it", current_.id,
                 pending_.size() + writing_.size());
    abandon();
    return;
  }
  flush();
}

void HttpSession::on_peer_end(const Status& st) {
  if (closed_ || !forward_) return;
  forward_.reset();
  const std::string peer = fwd_.peer_id;
  core_.peer_router->forward_ended(peer);
  if (st.ok()) {
    const int status = fwd_.head.status;
    core_.count_forward(peer, status < 400 ? "ok" : "error");
    if (status < 400) core_.peer_router->remember(fwd_.key.affinity, peer);
    if (fwd_.head.streaming) {
      if (!current_.http10) append_last_chunk(pending_);
      stream_open_ = false;
      if (!current_.keep_alive) close_after_write_ = true;
      core_.request_metrics.http_request(route_label(current_.route), status);
      log_request(status, 0, 0);
    } else if (fwd_.head.retry_after.empty()) {
      respond(status, fwd_.answer, fwd_.head.content_type);
    } else {
      respond(status, fwd_.answer, fwd_.head.content_type, "Retry-After", fwd_.head.retry_after);
    }
    finish_forward();
    return;
  }
  if (!fwd_.head_seen) {
    // Nothing was relayed: the request may go to another peer (or be served here).
    core_.count_forward(peer, "unreachable");
    spdlog::warn("{} peer {} did not answer ({}); routing the request again", current_.id, peer, st.message());
    fwd_.excluded.push_back(peer);
    core_.peer_router->peer_unreachable(peer, *core_.options.discovery->peers());
    current_.peer.clear();
    if (fwd_.excluded.size() >= kMaxForwardAttempts) {
      respond_error(Status(ErrorKind::kUnavailable, "No peer appliance answered (tried " +
                                                        std::to_string(fwd_.excluded.size()) + "); retry shortly"));
      finish_forward();
      return;
    }
    route_request(std::move(fwd_.body));
    return;
  }
  core_.count_forward(peer, "broken");
  spdlog::warn("{} peer {} failed during its answer: {}", current_.id, peer, st.message());
  if (fwd_.head.streaming) {
    stream_scratch_ = "data: " +
                      error_json(Status(ErrorKind::kUnavailable, "The peer appliance " + peer +
                                                                     " serving this request failed: " + st.message())) +
                      "\n\ndata: [DONE]\n\n";
    if (current_.http10) {
      pending_ += stream_scratch_;
    } else {
      append_chunk(pending_, stream_scratch_);
      append_last_chunk(pending_);
    }
    stream_open_ = false;
    current_.keep_alive = false;
    close_after_write_ = true;
    core_.request_metrics.http_request(route_label(current_.route), 502);
    log_request(502, 0, 0);
  } else {
    current_.keep_alive = false;
    respond(502, error_json(Status(ErrorKind::kUnavailable,
                                   "The peer appliance " + peer + " serving this request failed: " + st.message())));
  }
  finish_forward();
}

void HttpSession::finish_forward() {
  fwd_ = Forward{};
  idle_since_ = Clock::now();
  flush();
  if (!write_in_flight_) release_in_flight();
  process_input();
  do_read();
}

void HttpSession::cancel_forward() {
  if (!forward_) return;
  forward_->cancel();
  forward_.reset();
  core_.peer_router->forward_ended(fwd_.peer_id);
}

}  // namespace tandem::frontend

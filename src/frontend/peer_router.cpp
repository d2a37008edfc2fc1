#include "frontend/peer_router.h"

#include <algorithm>
#include <limits>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "frontend/job_plan.h"

namespace tandem::frontend {
namespace {

namespace json = boost::json;

constexpr size_t kCompletionAffinityBytes = 256;

uint64_t fnv1a(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ull;
  }
  return h;
}

uint64_t key_of(std::string_view model, std::string_view text) {
  uint64_t h = fnv1a(0xcbf29ce484222325ull, model);
  h = fnv1a(h, std::string_view("\0", 1));
  h = fnv1a(h, text);
  return h == 0 ? 1 : h;
}

}  // namespace

std::optional<RoutingKey> routing_key(Route route, std::string_view body) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  RoutingKey key;
  if (const json::value* m = o.if_contains("model"); m && m->is_string()) key.model = std::string(m->get_string());
  if (route == Route::kChatCompletions) {
    const json::value* messages = o.if_contains("messages");
    if (messages && messages->is_array()) {
      json::array head;
      for (const json::value& msg : messages->get_array()) {
        head.push_back(msg);
        const json::value* role = msg.is_object() ? msg.get_object().if_contains("role") : nullptr;
        if (role && role->is_string() && role->get_string() == "user") {
          key.affinity = key_of(key.model, json::serialize(head));
          break;
        }
      }
    }
  } else if (route == Route::kCompletions) {
    const json::value* prompt = o.if_contains("prompt");
    if (prompt && prompt->is_string() && prompt->get_string().size() >= kCompletionAffinityBytes) {
      key.affinity = key_of(key.model, std::string_view(prompt->get_string()).substr(0, kCompletionAffinityBytes));
    }
  }
  return key;
}

std::vector<RemoteModel> remote_models(const std::vector<discovery::PeerRecord>& peers, const ServedModel& served) {
  std::map<std::string, RemoteModel> by_id;
  const auto add = [&](const std::string& id, const discovery::ModelLoad& m, const std::string& peer) {
    if (check_model_name(id, served).ok()) return;
    RemoteModel& r = by_id[id];
    if (r.id.empty()) {
      r.id = id;
      r.root = m.name;
      r.max_context = m.max_context;
    }
    if (std::find(r.peers.begin(), r.peers.end(), peer) == r.peers.end()) r.peers.push_back(peer);
  };
  for (const discovery::PeerRecord& p : peers) {
    for (const discovery::ModelLoad& m : p.models) {
      add(m.name, m, p.id);
      for (const std::string& a : m.aliases) add(a, m, p.id);
    }
  }
  std::vector<RemoteModel> out;
  for (auto& [id, m] : by_id) out.push_back(std::move(m));
  return out;
}

double PeerRouter::load(const discovery::PeerRecord& peer, const discovery::ModelLoad& model) const {
  const auto open = open_.find(peer.id);
  const double sent = open == open_.end() ? 0.0 : open->second;
  return (static_cast<double>(model.waiting + model.running) + sent) /
         static_cast<double>(std::max<int64_t>(1, model.capacity));
}

std::optional<std::string> PeerRouter::affinity_of(uint64_t key) const {
  if (key == 0) return std::nullopt;
  auto it = affinity_.find(key);
  if (it == affinity_.end()) return std::nullopt;
  return it->second->second;
}

PeerChoice PeerRouter::choose(const RoutingKey& key, int hops, bool served_here, int local_waiting,
                              const std::vector<discovery::PeerRecord>& peers,
                              const std::vector<std::string>& excluded) const {
  PeerChoice local;
  if (hops >= policy_.max_hops) {
    if (served_here) return local;
    PeerChoice refuse;
    refuse.kind = PeerChoice::Kind::kRefuse;
    refuse.refusal = Status(ErrorKind::kLoopDetected,
                            "The model `" + key.model + "` is not served by appliance " + policy_.self_id +
                                " and this request was already forwarded " + std::to_string(hops) +
                                " time(s) ([discovery] max_hops = " + std::to_string(policy_.max_hops) +
                                "); it is not forwarded again",
                            "model");
    return refuse;
  }
  if (served_here && policy_.queue_threshold <= 0) return local;
  std::lock_guard lock(mu_);
  // Peers that serve the model and have not failed this request.
  struct Candidate {
    const discovery::PeerRecord* peer;
    const discovery::ModelLoad* model;
    double load;
  };
  std::vector<Candidate> candidates;
  std::string down_ids;  // peers serving the model that did not answer lately
  for (const discovery::PeerRecord& p : peers) {
    if (p.id == policy_.self_id) continue;
    const discovery::ModelLoad* m = p.find_model(key.model);
    if (!m) continue;
    const auto down = unreachable_.find(p.id);
    if (std::find(excluded.begin(), excluded.end(), p.id) != excluded.end() ||
        (down != unreachable_.end() && down->second == std::make_pair(p.seq, p.updated_ms))) {
      down_ids += (down_ids.empty() ? "" : ", ") + p.id;
      continue;
    }
    candidates.push_back({&p, m, load(p, *m)});
  }
  const auto forward = [](const Candidate& c, const char* reason) {
    PeerChoice f;
    f.kind = PeerChoice::Kind::kForward;
    f.peer_id = c.peer->id;
    f.url = c.peer->url;
    f.reason = reason;
    return f;
  };
  const auto has_room = [this](const Candidate& c) {
    const auto open = open_.find(c.peer->id);
    const int64_t sent = open == open_.end() ? 0 : open->second;
    return c.model->waiting + sent < std::max(1, policy_.queue_threshold);
  };
  const std::optional<std::string> holder = affinity_of(key.affinity);
  if (holder && *holder == policy_.self_id && served_here && local_waiting <= policy_.queue_threshold) return local;
  if (holder) {
    for (const Candidate& c : candidates) {
      if (c.peer->id == *holder && (!served_here || has_room(c))) return forward(c, "affinity");
    }
  }
  const Candidate* best = nullptr;
  for (const Candidate& c : candidates) {
    if (served_here && !has_room(c)) continue;
    if (!best || c.load < best->load) best = &c;
  }
  if (!served_here && !best && !down_ids.empty()) {
    PeerChoice refuse;
    refuse.kind = PeerChoice::Kind::kRefuse;
    refuse.refusal = Status(ErrorKind::kUnavailable, "The model `" + key.model + "` is served by peer appliance(s) " +
                                                         down_ids + ", which did not answer; retry shortly");
    return refuse;
  }
  if (!served_here) return best ? forward(*best, "model") : local;
  if (local_waiting > policy_.queue_threshold && best) return forward(*best, "queue");
  return local;
}

void PeerRouter::remember(uint64_t affinity, const std::string& id) {
  if (affinity == 0 || policy_.affinity_capacity == 0) return;
  std::lock_guard lock(mu_);
  auto it = affinity_.find(affinity);
  if (it != affinity_.end()) {
    it->second->second = id;
    lru_.splice(lru_.begin(), lru_, it->second);
    return;
  }
  lru_.emplace_front(affinity, id);
  affinity_[affinity] = lru_.begin();
  if (lru_.size() > policy_.affinity_capacity) {
    affinity_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void PeerRouter::peer_unreachable(const std::string& peer, const std::vector<discovery::PeerRecord>& peers) {
  std::lock_guard lock(mu_);
  for (const discovery::PeerRecord& p : peers) {
    if (p.id == peer) unreachable_[peer] = {p.seq, p.updated_ms};
  }
  // Forget peers that left the table.
  for (auto it = unreachable_.begin(); it != unreachable_.end();) {
    const bool listed = std::any_of(peers.begin(), peers.end(), [&](const auto& p) { return p.id == it->first; });
    it = listed ? std::next(it) : unreachable_.erase(it);
  }
}

void PeerRouter::forward_started(const std::string& peer) {
  std::lock_guard lock(mu_);
  ++open_[peer];
}

void PeerRouter::forward_ended(const std::string& peer) {
  std::lock_guard lock(mu_);
  auto it = open_.find(peer);
  if (it != open_.end() && --it->second <= 0) open_.erase(it);
}

}  // namespace tandem::frontend

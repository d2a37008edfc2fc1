// frontend::PeerRouter: decides, per generation request, whether this
// appliance serves it or forwards it to a peer found through discovery, and
// keeps what that decision needs besides the peer table: the session
// affinity map (conversation prefix -> appliance) and the number of requests
// forwarded to each peer and not yet answered.
//
// Rules (README "Running several appliances"):
//  - A request that already made max_hops hops is never forwarded again; for a
//    model not served here it is refused (kLoopDetected, 508).
//  - A model not served here goes to a peer serving it: the one holding the
//    conversation's prefix when known, else the least loaded.
//  - A model served here goes to a peer when the conversation's prefix is
//    there (and the peer has room), or when more than queue_threshold requests
//    wait here and a peer serving it has fewer waiting (room).
//  - Otherwise (and for requests whose body does not parse: the local path
//    answers their 400) it is served here.
// Load = (waiting + running + forwarded-and-open) / capacity, from the peer's
// last record plus what this appliance sent it since. A peer that did not
// answer is skipped until its record changes.
//
// Threading: every method is thread-safe (a mutex around the affinity map and
// the open counts; the peer table is an immutable snapshot).
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "discovery/peer_record.h"
#include "frontend/openai_api.h"
#include "frontend/route.h"
#include "frontend/served_model.h"

namespace tandem::frontend {

// What routing reads of a request body.
struct RoutingKey {
  std::string model;      // "" when absent
  uint64_t affinity = 0;  // 0 = none (see routing_key)
};

// The request's model and its conversation key: chat, the model and the
// messages up to and including the first user message (what every later turn
// repeats); completions, the model and the first 256 bytes of a single string
// prompt (shorter or several prompts: none); /v1/responses: none.
// nullopt when the body is not a JSON object.
std::optional<RoutingKey> routing_key(Route route, std::string_view body);

struct PeerChoice {
  enum class Kind { kLocal, kForward, kRefuse };
  Kind kind = Kind::kLocal;
  std::string peer_id;
  std::string url;
  std::string reason;  // "model", "affinity" or "queue" (forward); for logs
  Status refusal;      // kRefuse
};

struct RoutingPolicy {
  std::string self_id;
  int queue_threshold = 0;  // 0 = never forward a model served here for load
  int max_hops = 1;
  size_t affinity_capacity = 16384;
};

// The models (names and aliases) that `peers` serve and `served` does not,
// each with the peers serving it, sorted by id.
std::vector<RemoteModel> remote_models(const std::vector<discovery::PeerRecord>& peers, const ServedModel& served);

class PeerRouter {
 public:
  explicit PeerRouter(RoutingPolicy policy) : policy_(std::move(policy)) {}

  // `served_here`: the model is this appliance's; `local_waiting`: requests
  // queued here; `excluded`: peers that failed this request already.
  PeerChoice choose(const RoutingKey& key, int hops, bool served_here, int local_waiting,
                    const std::vector<discovery::PeerRecord>& peers, const std::vector<std::string>& excluded) const;

  // The conversation `affinity` is held by `id` (this appliance's own id for local).
  void remember(uint64_t affinity, const std::string& id);
  // A request forwarded to `peer` starts / ends.
  void forward_started(const std::string& peer);
  void forward_ended(const std::string& peer);
  // `peer` gave no answer: it is skipped until its record is rewritten (a
  // live peer rewrites it every ttl_s / 3; a dead one's stays as it was
  // until it expires). `peers` is the table the choice was made from.
  void peer_unreachable(const std::string& peer, const std::vector<discovery::PeerRecord>& peers);

  const RoutingPolicy& policy() const { return policy_; }

 private:
  double load(const discovery::PeerRecord& peer, const discovery::ModelLoad& model) const;  // mu_ held
  std::optional<std::string> affinity_of(uint64_t key) const;                               // mu_ held

  const RoutingPolicy policy_;
  mutable std::mutex mu_;
  // LRU: most recent at the front.
  std::list<std::pair<uint64_t, std::string>> lru_;
  std::unordered_map<uint64_t, std::list<std::pair<uint64_t, std::string>>::iterator> affinity_;
  std::map<std::string, int> open_;                                 // peer -> forwarded requests not answered yet
  std::map<std::string, std::pair<int64_t, int64_t>> unreachable_;  // peer -> (seq, updated_ms) of its record
                                                                    // when it did not answer
};

}  // namespace tandem::frontend

#include "scheduler/router.h"

#include "scheduler/kv_routing_policy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace tandem::scheduler {

Router::Router(RouterOptions options, std::vector<std::unique_ptr<Worker>> workers)
    : Router(options, std::move(workers),
             make_routing_policy(options.policy,
                                 KvRoutingOptions{options.kv_overlap_weight,
                                                  options.router_temperature, options.router_seed})) {}

Router::Router(RouterOptions options, std::vector<std::unique_ptr<Worker>> workers,
               std::unique_ptr<RoutingPolicy> policy)
    : options_(std::move(options)), policy_(std::move(policy)), workers_(std::move(workers)) {
  if (!policy_) {
    throw std::invalid_argument("unknown router policy '" + options_.policy +
                                "' (expected round_robin, least_loaded or kv)");
  }
  if (workers_.empty()) throw std::invalid_argument("router needs at least one worker");
  if (options_.max_queue < 1) throw std::invalid_argument("router max_queue must be at least 1");
  removed_ = std::make_unique<std::atomic<bool>[]>(workers_.size());
  decisions_.assign(workers_.size(), nullptr);
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (metrics::Registry* r = workers_[i]->metrics_registry()) {
      decisions_[i] = &r->counter("tandem_router_decisions_total",
                                  "Requests the router sent to a worker (accepted by it).",
                                  {{"worker", workers_[i]->name()}});
    }
    workers_[i]->set_kv_event_sink(
        [policy = policy_.get(), i](const kv::KvEvent& e) { policy->on_kv_event(i, e); });
  }
  spdlog::info("[router] {} workers, policy {}, max_queue {}", workers_.size(), policy_->name(),
               options_.max_queue);
}

Router::~Router() { shutdown(std::chrono::milliseconds(0)); }

Status Router::submit(GenerationRequest request) {
  if (!accepting_.load()) return {ErrorKind::kUnavailable, "the server is shutting down"};
  if (request.id.empty()) return {ErrorKind::kInvalidRequest, "request id is empty", "id"};
  if (!request.sink) return {ErrorKind::kInvalidRequest, "request has no token sink", "sink"};

  std::vector<WorkerView> candidates;
  int waiting = 0;
  for (size_t i = 0; i < workers_.size(); ++i) {
    WorkerLoad load = workers_[i]->load();
    waiting += load.waiting;
    if (!load.healthy) {
      if (workers_[i]->state() == WorkerState::kFailed && !removed_[i].exchange(true)) {
        spdlog::warn("[router] worker {} failed; dropping its cache from routing", workers_[i]->name());
        policy_->on_worker_removed(i);
      }
      continue;
    }
    candidates.push_back({i, workers_[i]->name(), load, workers_[i]->block_tokens(),
                          workers_[i]->model_salt()});
  }
  if (candidates.empty()) return {ErrorKind::kUnavailable, "no healthy worker"};
  if (waiting >= options_.max_queue) {
    return {ErrorKind::kQueueFull,
            std::to_string(waiting) + " requests are waiting (max_queue " +
                std::to_string(options_.max_queue) + ")"};
  }

  const std::string id = request.id;
  {
    std::lock_guard<std::mutex> lock(ids_mu_);
    if (!owner_.emplace(id, SIZE_MAX).second) {
      return {ErrorKind::kInvalidRequest, "request id '" + id + "' is already in flight", "id"};
    }
  }
  request.sink = [this, id, inner = std::move(request.sink)](TokenEvent&& e) {
    const bool final = e.finish != FinishReason::kNone;
    if (final) forget(id);  // before the sink runs: the id may be reused from inside it
    inner(std::move(e));
  };

  // The policy's choice first, then the others by load, while a worker says
  // it is full or gone.
  const size_t first = policy_->pick(request, candidates);
  std::vector<size_t> order = {first};
  std::vector<size_t> rest;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (i != first) rest.push_back(i);
  }
  std::stable_sort(rest.begin(), rest.end(), [&](size_t a, size_t b) {
    return candidates[a].load.load_tokens < candidates[b].load.load_tokens;
  });
  order.insert(order.end(), rest.begin(), rest.end());

  Status last;
  for (size_t pos : order) {
    const size_t w = candidates[pos].index;
    {
      std::lock_guard<std::mutex> lock(ids_mu_);
      owner_[id] = w;
    }
    last = workers_[w]->submit(std::move(request));
    if (last.ok()) {
      if (decisions_[w]) decisions_[w]->inc();
      return last;
    }
    if (last.kind() != ErrorKind::kQueueFull && last.kind() != ErrorKind::kUnavailable) break;
  }
  forget(id);
  return last;
}

void Router::forget(const std::string& id) {
  std::lock_guard<std::mutex> lock(ids_mu_);
  owner_.erase(id);
}

void Router::cancel(const std::string& id) {
  size_t w = SIZE_MAX;
  {
    std::lock_guard<std::mutex> lock(ids_mu_);
    auto it = owner_.find(id);
    if (it != owner_.end()) w = it->second;
  }
  if (w < workers_.size()) workers_[w]->cancel(id);
}

bool Router::ready() const {
  if (!accepting_.load()) return false;
  return std::any_of(workers_.begin(), workers_.end(), [](const auto& w) { return w->healthy(); });
}

ServiceStats Router::stats() const {
  ServiceStats s;
  for (const auto& w : workers_) {
    const WorkerLoad l = w->load();
    s.running += l.running;
    s.waiting += l.waiting;
    const WorkerState state = w->state();
    s.workers.push_back(
        {w->name(), worker_state_name(state), state == WorkerState::kRunning, worker_role_name(w->role())});
  }
  return s;
}

void Router::shutdown(std::chrono::milliseconds grace) {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (shut_down_) return;
  accepting_.store(false);
  const auto cancel_at = std::chrono::steady_clock::now() + grace;
  for (auto& w : workers_) w->begin_shutdown(cancel_at);
  for (auto& w : workers_) w->join();
  shut_down_ = true;
  spdlog::info("[router] shut down");
}

}  // namespace tandem::scheduler

#include "scheduler/router.h"

#include "scheduler/kv_routing_policy.h"
#include "scheduler/worker_role.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <utility>

namespace tandem::scheduler {

Router::Router(RouterOptions options, std::vector<std::unique_ptr<Worker>> workers)
    : Router(options, std::move(workers),
             make_routing_policy(options.policy, KvRoutingOptions{options.kv_overlap_weight,
                                                                  options.router_temperature,
                                                                  options.router_seed,
                                                                  {options.tier_credit[0], options.tier_credit[1],
                                                                   options.tier_credit[2]}})) {}

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
      decisions_[i] =
          &r->counter("tandem_router_decisions_total", "Requests the router sent to a worker (accepted by it).",
                      {{"worker", workers_[i]->name()}});
    }
    workers_[i]->set_kv_event_sink([policy = policy_.get(), i](const kv::KvEvent& e) { policy->on_kv_event(i, e); });
  }
  if (metrics::Registry* r = workers_[0]->metrics_registry()) {
    const char* help = "Requests routed while prefill workers were available, by where their prompt was prefilled.";
    remote_prefills_ = &r->counter("tandem_disagg_prefills_total", help, {{"path", "remote"}});
    local_prefills_ = &r->counter("tandem_disagg_prefills_total", help, {{"path", "local"}});
    for (WorkerRole role : {WorkerRole::kAggregated, WorkerRole::kPrefill, WorkerRole::kDecode}) {
      role_waiting_[static_cast<int>(role)] =
          &r->gauge("tandem_role_requests_waiting", "Requests waiting at the workers of a role (at the last submit).",
                    {{"role", worker_role_name(role)}});
    }
  }
  if (metrics::Registry* r = workers_[0]->metrics_registry()) {
    expected_ttft_ = &r->histogram(
        "tandem_admission_expected_ttft_seconds",
        "Expected time to first token when a request was admitted (on the worker that took it) or refused (the "
        "lowest over the workers).",
        {0.01, 0.025, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 20, 40, 80, 160, 320});
    const char* help = "Requests refused with 429 by the router, by cause.";
    const char* reasons[] = {"max_queue", "worker_queue", "ttft_budget"};  // by Refusal
    for (int i = 0; i < 3; ++i)
      refusals_[i] = &r->counter("tandem_admission_refusals_total", help, {{"reason", reasons[i]}});
  }
  if (options_.admission_ttft_ms < 0) throw std::invalid_argument("router: admission_ttft_ms must be >= 0");
  if (options_.max_local_prefill_tokens < 0 || options_.max_prefill_queue < 1) {
    throw std::invalid_argument("router: max_local_prefill_tokens must be >= 0 and max_prefill_queue >= 1");
  }
  spdlog::info("[router] {} workers, policy {}, max_queue {}, admission_ttft_ms {}", workers_.size(), policy_->name(),
               options_.max_queue, options_.admission_ttft_ms);
}

Router::~Router() { shutdown(std::chrono::milliseconds(0)); }

Status Router::submit(GenerationRequest request) {
  if (!accepting_.load()) return {ErrorKind::kUnavailable, "the server is shutting down"};
  if (request.id.empty()) return {ErrorKind::kInvalidRequest, "request id is empty", "id"};
  if (!request.sink) return {ErrorKind::kInvalidRequest, "request has no token sink", "sink"};

  std::vector<WorkerView> candidates;  // serving workers (aggregated, decode)
  std::vector<WorkerView> prefill;     // prefill-role workers
  int waiting = 0;
  int role_waiting[3] = {};
  for (size_t i = 0; i < workers_.size(); ++i) {
    WorkerLoad load = workers_[i]->load();
    const WorkerRole role = workers_[i]->role();
    waiting += load.waiting;
    role_waiting[static_cast<int>(role)] += load.waiting;
    if (!load.healthy) {
      if (workers_[i]->state() == WorkerState::kFailed && !removed_[i].exchange(true)) {
        spdlog::warn("[router] worker {} failed; dropping its cache from routing", workers_[i]->name());
        policy_->on_worker_removed(i);
      }
      continue;
    }
    WorkerView view{i, workers_[i]->name(), load, workers_[i]->block_tokens(), workers_[i]->model_salt()};
    (role == WorkerRole::kPrefill ? prefill : candidates).push_back(view);
  }
  for (int r = 0; r < 3; ++r) {
    if (role_waiting_[r]) role_waiting_[r]->set(role_waiting[r]);
  }
  if (candidates.empty()) candidates.swap(prefill);  // no serving worker left: prefill workers serve
  if (candidates.empty()) return {ErrorKind::kUnavailable, "no healthy worker"};
  if (waiting >= options_.max_queue) {
    return refuse(Refusal::kMaxQueue,
                  {ErrorKind::kQueueFull, std::to_string(waiting) + " requests are waiting (max_queue " +
                                              std::to_string(options_.max_queue) + ")"});
  }

  const std::string id = request.id;
  {
    std::lock_guard<std::mutex> lock(ids_mu_);
    if (!owner_.emplace(id, Owner{}).second) {
      return {ErrorKind::kInvalidRequest, "request id '" + id + "' is already in flight", "id"};
    }
  }
  request.sink = [this, id, inner = std::move(request.sink)](TokenEvent&& e) {
    const bool final = e.finish != FinishReason::kNone;
    if (final) forget(id);  // before the sink runs: the id may be reused from inside it
    inner(std::move(e));
  };

  // The policy's choice first, then the others by load, while a worker says
  // it is full or gone, or is expected over the TTFT budget.
  const size_t first = policy_->pick(request, candidates);
  std::vector<size_t> order = {first};
  std::vector<size_t> rest;
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (i != first) rest.push_back(i);
  }
  std::stable_sort(rest.begin(), rest.end(),
                   [&](size_t a, size_t b) { return candidates[a].load.load_tokens < candidates[b].load.load_tokens; });
  order.insert(order.end(), rest.begin(), rest.end());

  // The lowest estimate of a worker skipped for the budget.
  std::optional<double> lowest_over;
  const auto note_over = [&](double seconds) {
    if (!lowest_over || seconds < *lowest_over) lowest_over = seconds;
  };
  const auto observe = [&](std::optional<double> seconds) {
    if (expected_ttft_ && seconds) expected_ttft_->observe(*seconds);
  };

  if (!prefill.empty()) {
    // Conditional disaggregation: remote only for a long uncached prompt and
    // a short prefill queue.
    const size_t decode = candidates[first].index;
    const int cached = policy_->cached_tokens(request, candidates[first]);
    const int uncached = static_cast<int>(request.prompt.size()) - cached;
    const WorkerView& p = prefill[policy_->pick(request, prefill)];
    if (uncached > options_.max_local_prefill_tokens && p.load.waiting < options_.max_prefill_queue) {
      const std::optional<double> remote_ttft = expected_ttft(request, p);
      if (over_budget(remote_ttft)) {
        note_over(*remote_ttft);
        spdlog::debug(
            "[router] req={} prefill worker {} expected first token in {:.3f} s: over the budget, "
            "prefilling locally",
            id, p.name, *remote_ttft);
      } else {
        auto cancelled = std::make_shared<std::atomic<bool>>(false);
        {
          std::lock_guard<std::mutex> lock(ids_mu_);
          owner_[id] = Owner{p.index, cancelled};
        }
        RemotePrefill rp{[this, decode](Handoff&& h) { deliver(decode, std::move(h)); }, cancelled,
                         cached / workers_[decode]->block_tokens()};
        const Status st = workers_[p.index]->submit(std::move(request), std::move(rp));
        if (st.ok()) {
          if (decisions_[p.index]) decisions_[p.index]->inc();
          if (remote_prefills_) remote_prefills_->inc();
          observe(remote_ttft);
          spdlog::debug("[router] req={} remote prefill on {} ({} uncached tokens), decode on {}", id, p.name, uncached,
                        workers_[decode]->name());
          return st;
        }
        if (st.kind() != ErrorKind::kQueueFull && st.kind() != ErrorKind::kUnavailable) {
          forget(id);
          return st;
        }
        // The prefill worker is full or gone: prefill locally.
      }
    }
    if (local_prefills_) local_prefills_->inc();
  }

  Status last;
  bool offered = false;  // a worker was asked (not all skipped for the budget)
  for (size_t pos : order) {
    const size_t w = candidates[pos].index;
    const std::optional<double> ttft = expected_ttft(request, candidates[pos]);
    if (over_budget(ttft)) {
      note_over(*ttft);
      continue;
    }
    {
      std::lock_guard<std::mutex> lock(ids_mu_);
      owner_[id] = Owner{w, nullptr};
    }
    offered = true;
    last = workers_[w]->submit(std::move(request));
    if (last.ok()) {
      if (decisions_[w]) decisions_[w]->inc();
      observe(ttft);
      return last;
    }
    if (last.kind() != ErrorKind::kQueueFull && last.kind() != ErrorKind::kUnavailable) break;
  }
  forget(id);
  if (lowest_over && (!offered || last.kind() == ErrorKind::kQueueFull)) {
    // Every worker that could take it is expected over the budget (or full).
    observe(lowest_over);
    const double budget = options_.admission_ttft_ms / 1000.0;
    char text[160];
    std::snprintf(text, sizeof text,
                  "the expected time to the first token is %.2f s, over this server's %.2f s budget "
                  "([scheduler] admission_ttft_ms)",
                  *lowest_over, budget);
    Status st(ErrorKind::kQueueFull, text);
    st.set_retry_after_seconds(static_cast<int>(std::clamp(std::ceil(*lowest_over - budget), 1.0, 60.0)));
    return refuse(Refusal::kTtftBudget, std::move(st));
  }
  if (last.kind() == ErrorKind::kQueueFull) return refuse(Refusal::kWorkerQueue, std::move(last));
  return last;
}

std::optional<double> Router::expected_ttft(const GenerationRequest& request, const WorkerView& worker) const {
  const int uncached = static_cast<int>(request.prompt.size()) - policy_->cached_tokens(request, worker);
  return workers_[worker.index]->expected_first_token_seconds(std::max(1, uncached));
}

bool Router::over_budget(std::optional<double> seconds) const {
  return options_.admission_ttft_ms > 0 && seconds && *seconds * 1000.0 > options_.admission_ttft_ms;
}

Status Router::refuse(Refusal reason, Status status) {
  if (metrics::Counter* c = refusals_[static_cast<int>(reason)]) c->inc();
  return status;
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
    if (it == owner_.end()) return;
    w = it->second.worker;
    // In transit between workers the flag is what the next holder sees.
    if (it->second.cancelled) it->second.cancelled->store(true);
  }
  if (w < workers_.size()) workers_[w]->cancel(id);
}

void Router::deliver(size_t decode, Handoff&& handoff) {
  const std::string id = handoff.seq->id();
  std::vector<size_t> order = {decode};
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (i != decode && workers_[i]->role() != WorkerRole::kPrefill) order.push_back(i);
  }
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (i != decode && workers_[i]->role() == WorkerRole::kPrefill) order.push_back(i);
  }
  Status last;
  for (size_t w : order) {
    {
      std::lock_guard<std::mutex> lock(ids_mu_);
      auto it = owner_.find(id);
      if (it != owner_.end()) it->second.worker = w;
    }
    last = workers_[w]->adopt(handoff);
    if (last.ok()) return;
  }
  spdlog::error("[router] req={} no worker takes the sequence prefilled on {}: {}", id, handoff.from, last.message());
  Sequence& s = *handoff.seq;
  TokenEvent e;
  e.finish = FinishReason::kError;
  e.error = Status(ErrorKind::kUnavailable, "no healthy worker to continue the request");
  if (!s.first_event_sent) {
    e.prompt_tokens = s.num_prompt;
    e.cached_tokens = s.cached_tokens;
    e.queue_seconds = s.queue_seconds;
    e.worker = handoff.from;
  }
  s.client_sink(std::move(e));
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

#include "scheduler/worker.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <utility>

#include "common/check.h"
#include "engine/sampling.h"
#include "kv/block_hash.h"

namespace tandem::scheduler {

const char* worker_state_name(WorkerState state) {
  switch (state) {
    case WorkerState::kRunning: return "running";
    case WorkerState::kDraining: return "draining";
    case WorkerState::kFailed: return "failed";
    case WorkerState::kStopped: return "stopped";
  }
  return "unknown";
}

std::unique_ptr<Worker> Worker::start(WorkerOptions options, std::unique_ptr<engine::Runner> runner,
                                      metrics::Registry* metrics) {
  std::unique_ptr<Worker> w(new Worker(std::move(options), std::move(runner), metrics));
  w->thread_ = std::thread([p = w.get()] { p->run(); });
  return w;
}

Worker::Worker(WorkerOptions options, std::unique_ptr<engine::Runner> runner, metrics::Registry* metrics)
    : options_(std::move(options)),
      runner_(std::move(runner)),
      registry_(metrics),
      metrics_(metrics, options_.name),
      seed_rng_(std::random_device{}()),
      role_(options_.role) {
  TANDEM_CHECK(runner_ != nullptr);
  TANDEM_CHECK(options_.max_queue >= 1);
  const engine::ModelSpec& spec = runner_->spec();
  limits_.vocab = spec.vocab;
  limits_.max_context = options_.max_context > 0 ? options_.max_context : spec.max_position;
  limits_.block_tokens = runner_->block_tokens();
  limits_.num_blocks = runner_->num_blocks();
  TANDEM_CHECK(limits_.max_context >= 1 && limits_.vocab >= 1);
  pool_ = std::make_unique<kv::BlockPool>(
      kv::BlockPoolOptions{options_.name, limits_.num_blocks, limits_.block_tokens, options_.enable_prefix_caching},
      [this](const kv::KvEvent& e) { emit_kv_event(e); });
  Sampler sampler = options_.sampler;  // empty: the runner samples (Runner::step_and_sample)
  scheduler_ =
      std::make_unique<StepScheduler>(SchedulerOptions{options_.name, options_.max_batch_tokens, options_.max_running,
                                                       limits_.max_context, limits_.vocab, options_.step_clock},
                                      *pool_, std::move(sampler), &metrics_);
  // Borrowed KV: blocks lent with a hand-off come back through the inbox.
  lease_return_ = std::make_shared<LeaseReturn>();
  lease_return_->worker = this;
  scheduler_->set_block_lease([ret = lease_return_](std::vector<int32_t> blocks) {
    std::lock_guard<std::mutex> lock(ret->mu);
    if (ret->worker == nullptr) return;  // the worker and its pool are gone
    Worker* w = ret->worker;
    std::lock_guard<std::mutex> inbox(w->mu_);
    w->inbox_.emplace_back(GivenBack{std::move(blocks)});
    w->wake_.notify_one();
  });
  tiers_ = std::move(options_.tiers);
  if (tiers_) {
    TANDEM_CHECK(options_.enable_prefix_caching);
    tiers_->set_sink([this](const kv::KvEvent& e) { emit_kv_event(e); });
    scheduler_->attach_tiers(tiers_.get(), runner_.get());
  }
  published_backlog_.max_running = options_.max_running;
  published_.healthy = true;
  metrics_.set_healthy(true);
  published_.kv_blocks_total = limits_.num_blocks;
  metrics_.set_kv(0, limits_.num_blocks);  // counts this pool in the process-wide total now
  metrics_.set_role(options_.role);
  spdlog::info(
      "[scheduler] worker={} started: role {}, {} KV blocks of {} tokens, max_batch_tokens={}, "
      "max_running={}, max_queue={}, prefix_caching={}",
      options_.name, worker_role_name(options_.role), limits_.num_blocks, limits_.block_tokens,
      options_.max_batch_tokens, options_.max_running, options_.max_queue, options_.enable_prefix_caching);
}

Worker::~Worker() {
  begin_shutdown(Clock::now());
  join();
  {
    // Blocks lent with a hand-off that come back from now on find no worker.
    std::lock_guard<std::mutex> lock(lease_return_->mu);
    lease_return_->worker = nullptr;
  }
  scheduler_.reset();
  tiers_.reset();  // its host memory came from the runner
}

Status Worker::submit(GenerationRequest&& request, RemotePrefill remote) {
  if (Status st = check_request(request, limits_); !st.ok()) return st;
  const std::string id = request.id;
  const int64_t tokens = static_cast<int64_t>(request.prompt.size());
  const PendingWork work{static_cast<int>(tokens), remote.handoff ? 0 : request.stop.max_tokens};
  const kv::BlockHash root = kv::root_hash(options_.model_salt, request.cache_salt);
  std::lock_guard<std::mutex> lock(mu_);
  switch (state_) {
    case WorkerState::kRunning: break;
    case WorkerState::kFailed: return {ErrorKind::kUnavailable, "worker " + options_.name + " is unhealthy"};
    case WorkerState::kDraining:
    case WorkerState::kStopped: return {ErrorKind::kUnavailable, "worker " + options_.name + " is shutting down"};
  }
  if (in_flight_.count(id) != 0) {
    return {ErrorKind::kInvalidRequest, "request id '" + id + "' is already in flight", "id"};
  }
  if (published_.waiting + inbox_requests_ >= options_.max_queue) {
    return {ErrorKind::kQueueFull,
            "worker " + options_.name + " has " + std::to_string(options_.max_queue) + " requests waiting"};
  }
  const uint64_t seed = request.sampling.seed ? *request.sampling.seed : seed_rng_();
  TokenSink client = remote.handoff ? request.sink : TokenSink();
  request.sink = wrap_sink(id, std::move(request.sink));
  in_flight_.insert(id);
  auto seq = std::make_unique<Sequence>(std::move(request), seed, root, Clock::now());
  seq->client_sink = std::move(client);
  seq->handoff = std::move(remote.handoff);
  seq->cancelled = std::move(remote.cancelled);
  seq->handoff_skip_blocks = remote.skip_blocks;
  inbox_.emplace_back(std::move(seq));
  ++inbox_requests_;
  inbox_tokens_ += tokens;
  inbox_work_.push_back(work);
  wake_.notify_one();
  return {};
}

// Wraps the sink so the id leaves in_flight_ with the final event.
TokenSink Worker::wrap_sink(const std::string& id, TokenSink inner) {
  return [this, id, inner = std::move(inner)](TokenEvent&& e) {
    const bool final = e.finish != FinishReason::kNone;
    struct Done {
      Worker* w;
      const std::string& id;
      bool final;
      ~Done() {
        if (final) w->on_final_event(id);
      }
    } done{this, id, final};
    inner(std::move(e));
  };
}

Status Worker::adopt(Handoff& handoff) {
  TANDEM_CHECK(handoff.seq && handoff.seq->client_sink);
  const std::string id = handoff.seq->id();
  std::lock_guard<std::mutex> lock(mu_);
  switch (state_) {
    case WorkerState::kRunning:
    case WorkerState::kDraining: break;
    case WorkerState::kFailed: return {ErrorKind::kUnavailable, "worker " + options_.name + " is unhealthy"};
    case WorkerState::kStopped: return {ErrorKind::kUnavailable, "worker " + options_.name + " has stopped"};
  }
  if (exiting_) return {ErrorKind::kUnavailable, "worker " + options_.name + " has stopped"};
  if (in_flight_.count(id) != 0) {
    return {ErrorKind::kInvalidRequest, "request id '" + id + "' is already in flight", "id"};
  }
  in_flight_.insert(id);
  handoff.seq->request.sink = wrap_sink(id, handoff.seq->client_sink);
  ++inbox_requests_;
  inbox_tokens_ += handoff.seq->num_tokens();
  inbox_work_.push_back({0, std::max(0, handoff.seq->request.stop.max_tokens - handoff.seq->num_output())});
  inbox_.emplace_back(std::move(handoff));
  wake_.notify_one();
  return {};
}

void Worker::dispatch_handoffs() {
  for (Handoff& h : scheduler_->take_handoffs()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      in_flight_.erase(h.seq->id());
    }
    const HandoffFn send = h.seq->handoff;  // h is moved from below
    send(std::move(h));
  }
}

void Worker::cancel(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (in_flight_.count(id) == 0) return;
  inbox_.emplace_back(Cancel{id});
  wake_.notify_one();
}

void Worker::on_final_event(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  in_flight_.erase(id);
}

void Worker::begin_shutdown(Clock::time_point cancel_at) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ == WorkerState::kRunning) state_ = WorkerState::kDraining;
  if (cancel_at < cancel_at_) cancel_at_ = cancel_at;
  shutdown_requested_ = true;
  wake_.notify_one();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::set_kv_event_sink(kv::KvEventSink sink) {
  auto swap = [&] {
    std::lock_guard<std::mutex> lock(kv_sink_mu_);
    kv_sink_ = std::move(sink);
  };
  // The tiers announce what they hold (the disk blocks found at start
  // included) to the new sink, with no tier event between.
  if (tiers_) {
    tiers_->announce(swap);
  } else {
    swap();
  }
}

void Worker::set_role(WorkerRole role) {
  std::lock_guard<std::mutex> lock(mu_);
  pending_role_ = role;
  wake_.notify_one();
}

void Worker::apply_role(WorkerRole role) {
  const WorkerRole old = role_.exchange(role);
  if (old == role) return;
  metrics_.set_role(role);
  spdlog::info("[scheduler] worker={} role {} -> {}", options_.name, worker_role_name(old), worker_role_name(role));
}

void Worker::emit_kv_event(const kv::KvEvent& e) {
  std::lock_guard<std::mutex> lock(kv_sink_mu_);
  if (kv_sink_) kv_sink_(e);
}

WorkerState Worker::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

WorkerLoad Worker::load() const {
  std::lock_guard<std::mutex> lock(mu_);
  WorkerLoad l = published_;
  l.healthy = state_ == WorkerState::kRunning;
  l.waiting += inbox_requests_;
  l.load_tokens += inbox_tokens_;
  return l;
}

std::optional<double> Worker::expected_first_token_seconds(int prefill_tokens) const {
  WorkerBacklog backlog;
  StepRates rates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    backlog = published_backlog_;
    backlog.waiting.insert(backlog.waiting.end(), inbox_work_.begin(), inbox_work_.end());
    rates = published_rates_;
    if (step_started_) backlog.step_elapsed = std::chrono::duration<double>(step_now() - *step_started_).count();
  }
  return estimate_first_token_seconds(backlog, rates, prefill_tokens);
}

void Worker::publish_load(bool stepping) {
  WorkerLoad l;
  l.running = scheduler_->num_running();
  l.waiting = scheduler_->num_waiting();
  l.load_tokens = scheduler_->load_tokens();
  l.kv_blocks_used = pool_->num_held();
  l.kv_blocks_total = pool_->num_blocks();
  scheduler_->backlog(backlog_scratch_);
  std::lock_guard<std::mutex> lock(mu_);
  published_ = l;
  std::swap(published_backlog_, backlog_scratch_);
  published_rates_ = scheduler_->rates();
  step_started_.reset();
  if (stepping) step_started_ = step_now();
}

bool Worker::drain_inbox() {
  std::deque<Command> commands;
  bool shutdown = false;
  bool failed = false;
  std::optional<WorkerRole> role;
  Clock::time_point cancel_at;
  {
    std::unique_lock<std::mutex> lock(mu_);
    wake_.wait(lock, [&] {
      return !inbox_.empty() || scheduler_->has_work() || shutdown_requested_ || pending_role_.has_value();
    });
    commands.swap(inbox_);
    role = pending_role_;
    pending_role_.reset();
    // Moved requests count as waiting until the next publish_load().
    published_.waiting += inbox_requests_;
    published_.load_tokens += inbox_tokens_;
    published_backlog_.waiting.insert(published_backlog_.waiting.end(), inbox_work_.begin(), inbox_work_.end());
    inbox_requests_ = 0;
    inbox_tokens_ = 0;
    inbox_work_.clear();
    shutdown = shutdown_requested_;
    failed = state_ == WorkerState::kFailed;
    cancel_at = cancel_at_;
  }
  if (role) apply_role(*role);
  for (Command& c : commands) {
    if (auto* seq = std::get_if<std::unique_ptr<Sequence>>(&c)) {
      scheduler_->enqueue(std::move(*seq));
    } else if (auto* handoff = std::get_if<Handoff>(&c)) {
      const StepScheduler::AdoptResult r = scheduler_->adopt(std::move(*handoff), *runner_);
      if (r.with_kv) metrics_.observe_transfer(r.bytes, r.seconds, r.cached_blocks);
      if (r.import_failed || r.missing_prefix) metrics_.add_transfer_failure();
    } else if (auto* back = std::get_if<GivenBack>(&c)) {
      scheduler_->release_lent(back->blocks);
    } else {
      scheduler_->request_cancel(std::get<Cancel>(c).id);
    }
  }
  if (failed) fail_remaining();
  if (shutdown && Clock::now() >= cancel_at && scheduler_->has_work()) {
    spdlog::warn("[scheduler] worker={} shutdown: cancelling {} running and {} waiting requests", options_.name,
                 scheduler_->num_running(), scheduler_->num_waiting());
    scheduler_->finish_all(FinishReason::kCancelled, {});
  }
  dispatch_handoffs();
  if (!shutdown || scheduler_->has_work()) return true;
  std::lock_guard<std::mutex> lock(mu_);
  if (!inbox_.empty()) return true;  // a hand-off arrived meanwhile
  exiting_ = true;                   // adopt() refuses from now on
  return false;
}

// One iteration of the scheduler; the load is published once the step is
// planned (admitted requests no longer count as waiting), and a failed step
// marks the worker unhealthy before its requests hear of the failure.
Status Worker::step() {
  return scheduler_->iterate(
      *runner_, Clock::now(),
      {.planned = [this] { publish_load(true); }, .failed = [this](const Status& cause) { mark_failed(cause); }});
}

void Worker::mark_failed(const Status& cause) {
  spdlog::error("[scheduler] worker={} step failed, marking the worker unhealthy: {}", options_.name,
                cause.to_string());
  metrics_.set_healthy(false);
  std::lock_guard<std::mutex> lock(mu_);
  state_ = WorkerState::kFailed;
  failure_ = Status(ErrorKind::kUnavailable, "worker " + options_.name + " is unhealthy: " + cause.message());
}

void Worker::run() {
  while (drain_inbox()) {
    if (!scheduler_->has_work()) {
      publish_load();  // e.g. lent blocks given back while idle
      continue;
    }
    try {
      step();
    } catch (const std::exception& e) {
      mark_failed(Status(ErrorKind::kInternal, std::string("worker step threw: ") + e.what()));
    } catch (...) {
      mark_failed(Status(ErrorKind::kInternal, "worker step threw an unknown exception"));
    }
    // After a failure the step's own requests got the runner's error (in
    // step()); the rest learn that the worker is gone.
    if (!healthy_locked_view()) fail_remaining();
    dispatch_handoffs();
    publish_load();
    if (tiers_) tiers_->update_metrics();
  }
  if (tiers_) tiers_->flush();  // host blocks worth keeping go to disk before exit
  publish_load();
  std::lock_guard<std::mutex> lock(mu_);
  state_ = WorkerState::kStopped;
  spdlog::info("[scheduler] worker={} stopped", options_.name);
}

bool Worker::healthy_locked_view() {
  std::lock_guard<std::mutex> lock(mu_);
  return state_ != WorkerState::kFailed;
}

void Worker::fail_remaining() {
  Status why;
  {
    std::lock_guard<std::mutex> lock(mu_);
    why = failure_;
  }
  if (scheduler_->has_work()) scheduler_->finish_all(FinishReason::kError, why);
}
}  // namespace tandem::scheduler

#include "support/instant_backend.h"

#include <algorithm>
#include <utility>

#include "common/metrics.h"

namespace tandem::test {

using scheduler::FinishReason;
using scheduler::TokenEvent;

InstantBackend::InstantBackend(InstantBackendOptions options, metrics::Registry* registry)
    : options_(std::move(options)) {
  if (registry != nullptr) {
    const auto c = [&](const char* name, const char* help) { return &registry->counter(name, help); };
    submitted_total_ = c("tandem_test_backend_submitted_total", "Requests accepted by the test backend");
    cancel_calls_total_ = c("tandem_test_backend_cancel_calls_total", "cancel() calls for in-flight requests");
    cancelled_total_ = c("tandem_test_backend_cancelled_total", "Sequences that ended cancelled");
    finished_total_ = c("tandem_test_backend_finished_total", "Sequences that ended");
    rejected_total_ = c("tandem_test_backend_rejected_total", "Requests refused by submit()");
  }
  thread_ = std::thread([this] { run(); });
}

InstantBackend::~InstantBackend() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void InstantBackend::count(metrics::Counter* counter, uint64_t& field) {
  ++field;
  if (counter != nullptr) counter->inc();
}

Status InstantBackend::submit(scheduler::GenerationRequest request) {
  std::unique_lock lock(mu_);
  if (!available_.load()) {
    count(rejected_total_, stats_.rejected);
    return Status(ErrorKind::kUnavailable, "the test backend is unavailable");
  }
  if (options_.queue_limit > 0 && static_cast<int>(in_flight_.size()) >= options_.queue_limit) {
    count(rejected_total_, stats_.rejected);
    return Status(ErrorKind::kQueueFull, "the test backend's queue is full");
  }
  if (request.prompt.empty()) {
    return Status(ErrorKind::kInvalidRequest, "empty prompt", "prompt");
  }
  if (!in_flight_.insert(request.id).second) {
    return Status(ErrorKind::kInternal, "duplicate request id " + request.id);
  }
  count(submitted_total_, stats_.submitted);
  incoming_.push_back(Sequence{std::move(request)});
  lock.unlock();
  cv_.notify_one();
  return Status::ok_status();
}

void InstantBackend::cancel(const std::string& id) {
  {
    std::lock_guard lock(mu_);
    if (in_flight_.count(id) == 0) return;
    count(cancel_calls_total_, stats_.cancel_calls);
    cancels_.insert(id);
  }
  cv_.notify_one();
}

bool InstantBackend::ready() const { return available_.load(); }

scheduler::ServiceStats InstantBackend::stats() const {
  std::lock_guard lock(mu_);
  scheduler::ServiceStats s;
  s.running = running_;
  s.waiting = static_cast<int>(incoming_.size());
  return s;
}

void InstantBackend::set_available(bool available) { available_.store(available); }

InstantBackendStats InstantBackend::counts() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool InstantBackend::step(Sequence& seq) {
  auto& req = seq.request;
  TokenEvent ev;
  if (seq.first) {
    ev.prompt_tokens = static_cast<int>(req.prompt.size());
    ev.cached_tokens = std::min(options_.cached_tokens, ev.prompt_tokens);
    ev.worker = "instant";
    seq.first = false;
  }
  if (seq.cancelled || std::chrono::steady_clock::now() >= req.deadline) {
    ev.finish = seq.cancelled ? FinishReason::kCancelled : FinishReason::kLength;
    seq.cancelled = true;
    req.sink(std::move(ev));
    return true;
  }
  const auto& source = options_.script.empty() ? req.prompt : options_.script;
  const auto& stop = req.stop;
  const auto is_stop = [&](int32_t id) {
    if (std::find(stop.stop_token_ids.begin(), stop.stop_token_ids.end(), id) != stop.stop_token_ids.end()) {
      return true;
    }
    return !stop.ignore_eos &&
           std::find(stop.eos_token_ids.begin(), stop.eos_token_ids.end(), id) != stop.eos_token_ids.end();
  };
  int32_t token = source[seq.cursor % source.size()];
  ++seq.cursor;
  if (seq.generated < stop.min_tokens) {
    // Suppressed ids are never sampled: take the next one that is allowed.
    for (size_t tries = 0; is_stop(token) && tries < source.size(); ++tries) {
      token = source[seq.cursor % source.size()];
      ++seq.cursor;
    }
    if (is_stop(token)) token = 'x';  // the whole cycle is suppressed
  }
  engine::SampledToken sampled;
  sampled.token = token;
  sampled.logprob = -0.25f * static_cast<float>(seq.generated % 8);
  if (req.sampling.logprobs > 0) {
    sampled.top.reserve(static_cast<size_t>(req.sampling.logprobs));
    for (int k = 0; k < req.sampling.logprobs; ++k) {
      sampled.top.push_back({token + k, sampled.logprob - static_cast<float>(k)});
    }
  }
  ++seq.generated;
  ev.tokens.push_back(std::move(sampled));
  if (is_stop(token)) {
    ev.finish = FinishReason::kStop;
    ev.stop_token = token;
  } else if (seq.generated >= stop.max_tokens) {
    ev.finish = FinishReason::kLength;
  }
  const bool done = ev.finish != FinishReason::kNone;
  req.sink(std::move(ev));
  return done;
}

void InstantBackend::run() {
  std::vector<Sequence> active;
  auto next_step = std::chrono::steady_clock::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (options_.token_delay.count() > 0 && !active.empty()) {
        cv_.wait_until(lock, next_step, [&] { return stopping_; });
      } else {
        cv_.wait(lock, [&] { return stopping_ || !active.empty() || !incoming_.empty(); });
      }
      for (auto& s : incoming_) active.push_back(std::move(s));
      incoming_.clear();
      if (stopping_) {
        for (auto& s : active) s.cancelled = true;
      } else if (!cancels_.empty()) {
        for (auto& s : active) {
          if (cancels_.count(s.request.id) != 0) s.cancelled = true;
        }
        cancels_.clear();
      }
      running_ = static_cast<int>(active.size());
      if (active.empty() && stopping_) return;
    }
    next_step = std::chrono::steady_clock::now() + options_.token_delay;
    std::vector<std::string> done_ids;
    size_t keep = 0;
    for (size_t i = 0; i < active.size(); ++i) {
      Sequence& s = active[i];
      if (step(s)) {
        done_ids.push_back(s.request.id);
        std::lock_guard lock(mu_);
        count(finished_total_, stats_.finished);
        if (s.cancelled) count(cancelled_total_, stats_.cancelled);
        continue;
      }
      if (keep != i) active[keep] = std::move(s);
      ++keep;
    }
    active.resize(keep);
    if (!done_ids.empty()) {
      std::lock_guard lock(mu_);
      for (const auto& id : done_ids) {
        in_flight_.erase(id);
        cancels_.erase(id);
      }
      running_ = static_cast<int>(active.size());
    }
  }
}

}  // namespace tandem::test

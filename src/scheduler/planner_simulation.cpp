#include "scheduler/planner_simulation.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <deque>
#include <optional>
#include <queue>
#include <random>

#include "common/check.h"

namespace tandem::scheduler {
namespace {

// Uniform in [0, 1) from the generator's bits (std distributions differ
// between standard libraries; this does not).
double uniform(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double p95(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = static_cast<size_t>(std::ceil(0.95 * v.size())) - 1;
  return v[std::min(i, v.size() - 1)];
}

struct Req {
  SimRequest r;
  int prefilled = 0;  // prompt tokens computed
  int generated = 0;
  bool remote = false;   // hand off after the first token
  bool started = false;  // a local prompt holding a running slot
  bool refused = false;
  double first_token = -1, last_token = -1, finish = -1;
};

struct Work {
  WorkerRole role = WorkerRole::kAggregated;
  int cap = 64;
  bool busy = false;
  std::deque<size_t> prompts;  // FIFO, partially prefilled first
  std::vector<size_t> running;
  std::deque<size_t> waiting;  // handed over, waiting for a slot
  std::vector<size_t> step_decodes;
  std::vector<std::pair<size_t, int>> step_chunks;
  int local_started = 0;
  double busy_s = 0;
  int work() const { return static_cast<int>(prompts.size() + running.size() + waiting.size()); }
};

enum class Ev { kArrival, kStepEnd, kHandoff, kTick };
struct Event {
  double t;
  uint64_t seq;
  Ev type;
  size_t a = 0, b = 0;
  bool operator>(const Event& o) const { return t != o.t ? t > o.t : seq > o.seq; }
};

class Sim {
 public:
  Sim(const std::vector<SimRequest>& trace, const PlannerShape& shape, const SimOptions& o)
      : shape_(shape), o_(o), workers_(o.workers) {
    TANDEM_CHECK(o.workers >= 1);
    for (const auto& r : trace) reqs_.push_back({r});
    const int p0 = o.use_planner ? o.initial_prefill : o.static_prefill;
    TANDEM_CHECK(p0 >= 0 && p0 < o.workers);
    for (int i = 0; i < o.workers; ++i) {
      workers_[i].role = p0 == 0 ? WorkerRole::kAggregated : (i < p0 ? WorkerRole::kPrefill : WorkerRole::kDecode);
      workers_[i].cap = shape.max_running;
    }
    for (size_t i = 0; i < reqs_.size(); ++i) push(reqs_[i].r.arrival_s, Ev::kArrival, i);
    if (o.use_planner || o.admission) {
      planner_.emplace(o.planner, shape);
      push(o.planner.interval_s, Ev::kTick);
    }
  }

  SimResult run() {
    while (!events_.empty()) {
      Event e = events_.top();
      events_.pop();
      now_ = e.t;
      switch (e.type) {
        case Ev::kArrival: arrive(e.a); break;
        case Ev::kStepEnd: step_end(e.a); break;
        case Ev::kHandoff:
          workers_[e.b].waiting.push_back(e.a);
          try_start(e.b);
          break;
        case Ev::kTick: tick(); break;
      }
    }
    return result();
  }

 private:
  void push(double t, Ev type, size_t a = 0, size_t b = 0) { events_.push({t, next_seq_++, type, a, b}); }
  bool serving(size_t w) const { return workers_[w].role != WorkerRole::kPrefill; }

  long long load_tokens(size_t w) const {
    long long t = 0;
    const Work& k = workers_[w];
    for (size_t i : k.prompts) t += reqs_[i].r.prompt - reqs_[i].prefilled;
    for (size_t i : k.running) t += reqs_[i].r.prompt + reqs_[i].generated;
    for (size_t i : k.waiting) t += reqs_[i].r.prompt + reqs_[i].generated;
    return t;
  }
  long long queued_prompt_tokens(size_t w) const {
    long long t = 0;
    for (size_t i : workers_[w].prompts) t += reqs_[i].r.prompt - reqs_[i].prefilled;
    return t;
  }

  void arrive(size_t i) {
    ++interval_arrivals_;
    interval_prompt_ += reqs_[i].r.prompt;
    std::vector<size_t> pre, srv;
    for (size_t w = 0; w < workers_.size(); ++w) (serving(w) ? srv : pre).push_back(w);
    size_t target = 0;
    bool remote = false;
    if (!pre.empty() && !srv.empty()) {
      target = *std::min_element(pre.begin(), pre.end(),
                                 [&](size_t a, size_t b) { return queued_prompt_tokens(a) < queued_prompt_tokens(b); });
      remote = reqs_[i].r.prompt > o_.max_local_prefill_tokens &&
               static_cast<int>(workers_[target].prompts.size()) < o_.max_prefill_queue;
    }
    if (remote) {
      reqs_[i].remote = true;
    } else {
      const auto& pool = srv.empty() ? pre : srv;
      target = *std::min_element(pool.begin(), pool.end(),
                                 [&](size_t a, size_t b) { return load_tokens(a) < load_tokens(b); });
    }
    if (queue_limit_ > 0 && queued_prompt_tokens(target) + reqs_[i].r.prompt > queue_limit_) {
      reqs_[i].refused = true;
      reqs_[i].finish = now_;
      return;
    }
    workers_[target].prompts.push_back(i);
    try_start(target);
  }

  void try_start(size_t w) {
    Work& k = workers_[w];
    if (k.busy) return;
    while (!k.waiting.empty() && static_cast<int>(k.running.size()) + k.local_started < k.cap) {
      k.running.push_back(k.waiting.front());
      k.waiting.pop_front();
    }
    k.step_decodes = k.running;
    k.step_chunks.clear();
    int budget = shape_.max_batch_tokens - static_cast<int>(k.step_decodes.size());
    for (size_t i : k.prompts) {
      if (budget <= 0) break;
      Req& r = reqs_[i];
      if (!r.remote && !r.started) {
        if (static_cast<int>(k.running.size()) + k.local_started >= k.cap) break;  // FIFO: wait for a slot
        r.started = true;
        ++k.local_started;
      }
      const int take = std::min(budget, r.r.prompt - r.prefilled);
      k.step_chunks.push_back({i, take});
      budget -= take;
    }
    double chunk = 0, ctx = 0;
    for (auto& c : k.step_chunks) chunk += c.second;
    for (size_t i : k.step_decodes) ctx += reqs_[i].r.prompt + reqs_[i].generated;
    const double n = static_cast<double>(k.step_decodes.size());
    const double dt = shape_.prefill_seconds(chunk) + (n > 0 ? shape_.decode_seconds(n, ctx / n) : 0.0);
    if (dt <= 0) return;
    k.busy = true;
    k.busy_s += dt;
    push(now_ + dt, Ev::kStepEnd, w);
  }

  void token(Req& r) {
    ++r.generated;
    r.last_token = now_;
    if (r.generated >= r.r.output) {
      r.finish = now_;
      ++interval_finished_;
      interval_output_ += r.r.output;
      if (r.r.output > 1) interval_tpots_.push_back((now_ - r.first_token) / (r.r.output - 1));
      end_ = std::max(end_, now_);
    }
  }

  void step_end(size_t w) {
    Work& k = workers_[w];
    k.busy = false;
    for (size_t i : k.step_decodes) token(reqs_[i]);
    std::vector<size_t> keep;
    for (size_t i : k.running) {
      if (reqs_[i].finish < 0) keep.push_back(i);
    }
    k.running = std::move(keep);
    for (auto [i, take] : k.step_chunks) {
      Req& r = reqs_[i];
      r.prefilled += take;
      if (r.prefilled < r.r.prompt) continue;
      k.prompts.erase(std::find(k.prompts.begin(), k.prompts.end(), i));
      r.first_token = now_;
      interval_ttfts_.push_back(now_ - r.r.arrival_s);
      token(r);
      if (r.started) --k.local_started;
      if (r.finish >= 0) continue;
      size_t to = w;
      if (r.remote) {
        int best = -1;
        for (size_t v = 0; v < workers_.size(); ++v) {
          if (serving(v) && (best < 0 || workers_[v].work() < workers_[best].work())) best = static_cast<int>(v);
        }
        if (best >= 0) to = static_cast<size_t>(best);
      }
      if (to == w) {
        k.running.push_back(i);
      } else {
        push(now_ + o_.handoff_s, Ev::kHandoff, i, to);
      }
    }
    try_start(w);
  }

  bool pending() const {
    for (const auto& r : reqs_) {
      if (r.finish < 0) return true;
    }
    return false;
  }

  void tick() {
    PlannerObservation obs;
    obs.interval_s = o_.planner.interval_s;
    obs.arrivals = interval_arrivals_;
    obs.prompt_tokens = interval_prompt_;
    obs.finished = interval_finished_;
    obs.output_tokens = interval_output_;
    if (!interval_ttfts_.empty()) obs.ttft_p95_s = p95(interval_ttfts_);
    if (!interval_tpots_.empty()) obs.itl_p95_s = p95(interval_tpots_);
    interval_arrivals_ = interval_prompt_ = interval_finished_ = interval_output_ = 0;
    interval_ttfts_.clear();
    interval_tpots_.clear();

    std::vector<PlannerWorker> view;
    for (const auto& k : workers_) view.push_back({k.role, k.work()});
    PlanDecision d = planner_->step(obs, view);
    Plan plan = d.plan;
    if (o_.use_planner) {
      for (const auto& c : d.changes) {
        workers_[c.worker].role = c.to;
        ++role_changes_;
      }
      for (size_t w = 0; w < workers_.size(); ++w) workers_[w].cap = plan.decode_max_running;
    } else {
      d.changes.clear();  // a static split: only the admission limits follow the load
      plan = planner_->evaluate(o_.static_prefill, o_.workers, d.predicted_prompt_tps, d.predicted_output_tps);
    }
    if (o_.admission) {
      const int sides = plan.prefill > 0 ? plan.prefill : o_.workers;
      queue_limit_ = std::max<long long>(1, plan.max_prefill_queue_tokens / sides);
    }
    for (size_t w = 0; w < workers_.size(); ++w) try_start(w);
    if (!d.changes.empty()) {
      char t[32];
      std::snprintf(t, sizeof t, "t=%.0fs ", now_);
      log_.push_back(t + d.reason);
    }
    if (pending()) push(now_ + o_.planner.interval_s, Ev::kTick);
  }

  SimResult result() const {
    SimResult res;
    res.requests = static_cast<int>(reqs_.size());
    std::vector<double> ttft, tpot;
    for (const auto& r : reqs_) {
      TANDEM_CHECK(r.finish >= 0);
      const size_t minute = static_cast<size_t>(r.r.arrival_s / 60);
      if (res.violations_by_minute.size() <= minute) res.violations_by_minute.resize(minute + 1);
      if (r.refused) {
        ++res.refused;
        ++res.violations;
        ++res.violations_by_minute[minute];
        continue;
      }
      const double t = r.first_token - r.r.arrival_s;
      const double g = r.r.output > 1 ? (r.finish - r.first_token) / (r.r.output - 1) : 0.0;
      ttft.push_back(t);
      tpot.push_back(g);
      const bool bad_t = t > o_.planner.ttft_p95_s, bad_g = g > o_.planner.itl_p95_s;
      res.ttft_violations += bad_t;
      res.itl_violations += bad_g;
      res.violations += bad_t || bad_g;
      res.violations_by_minute[minute] += bad_t || bad_g;
    }
    res.ttft_p95_s = p95(ttft);
    res.tpot_p95_s = p95(tpot);
    res.end_s = end_;
    res.gpu_seconds = end_ * static_cast<double>(workers_.size());
    for (const auto& k : workers_) res.busy_gpu_seconds += k.busy_s;
    res.role_changes = role_changes_;
    res.log = log_;
    return res;
  }

  const PlannerShape& shape_;
  SimOptions o_;
  std::vector<Req> reqs_;
  std::vector<Work> workers_;
  std::priority_queue<Event, std::vector<Event>, std::greater<Event>> events_;
  uint64_t next_seq_ = 0;
  double now_ = 0, end_ = 0;
  std::optional<Planner> planner_;
  double interval_arrivals_ = 0, interval_prompt_ = 0, interval_finished_ = 0, interval_output_ = 0;
  std::vector<double> interval_ttfts_, interval_tpots_;
  int role_changes_ = 0;
  long long queue_limit_ = 0;  // admission: queued prompt tokens per worker; 0 = none
  std::vector<std::string> log_;
};

double knot_value(const std::vector<TraceKnot>& k, double t, double TraceKnot::*field) {
  if (t <= k.front().t) return k.front().*field;
  for (size_t i = 0; i + 1 < k.size(); ++i) {
    if (t <= k[i + 1].t) {
      const double w = (t - k[i].t) / (k[i + 1].t - k[i].t);
      return k[i].*field + w * (k[i + 1].*field - k[i].*field);
    }
  }
  return k.back().*field;
}

}  // namespace

std::vector<SimRequest> make_trace(const TraceOptions& o) {
  TANDEM_CHECK(o.knots.size() >= 2);
  double max_rps = 0;
  for (const auto& k : o.knots) max_rps = std::max(max_rps, k.rps);
  std::vector<SimRequest> out;
  if (max_rps <= 0) return out;
  std::mt19937_64 rng(o.seed);
  const double end = o.knots.back().t;
  double t = o.knots.front().t;
  auto length = [&](int mean) { return std::max(1, static_cast<int>(std::lround(mean * (0.5 + uniform(rng))))); };
  for (;;) {
    t += -std::log(1 - uniform(rng)) / max_rps;
    if (t >= end) break;
    if (uniform(rng) * max_rps >= knot_value(o.knots, t, &TraceKnot::rps)) continue;  // thinning
    const bool doc = uniform(rng) < knot_value(o.knots, t, &TraceKnot::doc_share);
    SimRequest r;
    r.arrival_s = t;
    r.prompt = length(doc ? o.doc_prompt : o.chat_prompt);
    r.output = length(doc ? o.doc_output : o.chat_output);
    out.push_back(r);
  }
  return out;
}

TraceOptions bursty_trace_options(uint64_t seed) {
  TraceOptions o;
  o.seed = seed;
  // (t s, requests/s, document share): quiet start, a ramp of document
  // traffic, a 20 s batch spike, a chat ramp with its own spike, a mixed tail.
  o.knots = {{0, 2, 0.2},     {60, 2, 0.2},  {180, 10, 0.7}, {240, 10, 0.7}, {241, 18, 0.9},
             {260, 18, 0.9},  {261, 4, 0.2}, {360, 4, 0.2},  {420, 12, 0.1}, {421, 16, 0.05},
             {440, 16, 0.05}, {441, 6, 0.5}, {600, 6, 0.5}};
  return o;
}

SimResult simulate_planner(const std::vector<SimRequest>& trace, const PlannerShape& shape, const SimOptions& options) {
  return Sim(trace, shape, options).run();
}

}  // namespace tandem::scheduler

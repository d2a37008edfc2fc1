// main::DashboardSampler: the figures behind /dashboard. Once a second (from
// serve's main loop) it reads the metrics registry, the same numbers
// Prometheus scrapes, and keeps a bounded history (the last `history`
// samples, 10 minutes at 1 s) of:
//   prompt and generation tok/s over the last interval;
//   TTFT and ITL p50/p95/p99 over the last `window` samples (from the
//   histograms' bucket deltas, metrics::quantile_of_delta), null when no
//   request produced one in the window;
//   prefix cache hit rate over the window (null without lookups);
//   running and waiting requests, KV use (0..1) now.
// and, as of the last sample, each worker: name, backend, device, role, state
// (ready, draining, failed, stopped), running, waiting and KV use per tier
// ("device" from tandem_kv_blocks_*; "host", "disk", ... from
// tandem_kv_tier_blocks_used/_capacity{worker,tier} when those exist).
//
// The planner's decisions go on a bounded timeline through record_decision();
// until a planner runs, "planner" says enabled false with no decisions. (The
// planner lives below main, in scheduler/: serve hands it a callback that
// turns its decision into a PlannerDecision here, so the dependency stays
// main -> scheduler.)
//
// data(since) is the JSON of GET /dashboard/data (shape in
// src/frontend/README.md): samples and decisions carry a `seq` from one
// counter, and only those with seq > since are sent.
//
// Threading: sample() from one thread (serve's main loop); record_decision()
// and data() from any thread (a mutex guards the history). The registry must
// outlive the sampler.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/metrics.h"
#include "frontend/dashboard_source.h"
#include "scheduler/generation.h"

namespace tandem::main {

// What serve's wiring knows of a worker and the registry does not.
struct DashboardWorker {
  std::string name;     // as in the metrics' worker label ("cuda0", "cpu1")
  std::string backend;  // "cuda", "cpu"
  std::string device;   // "cuda:0", "cpu"
};

// One planner decision (written by the planner; the dashboard draws them on
// a timeline). Times are Unix milliseconds.
struct PlannerDecision {
  int64_t unix_ms = 0;
  std::string action;  // what changed: "role", "admission", ...
  std::string worker;  // the worker concerned; "" when the decision is about the whole server
  std::string from;    // the value before ("prefill", "8")
  std::string to;      // the value after ("decode", "16")
  std::string reason;  // one line: what the planner saw ("TTFT p95 1.8 s over the 1.0 s target")
};

class DashboardSampler : public frontend::DashboardSource {
 public:
  using Clock = std::chrono::steady_clock;

  struct Options {
    std::string model;                         // the served model's name
    std::vector<DashboardWorker> workers;      // backend and device per worker name
    size_t history = 600;                      // samples kept, >= 1
    size_t window = 10;                        // samples the percentiles and hit rate span, >= 1
    size_t max_decisions = 500;                // planner decisions kept, >= 1
    bool planner_enabled = false;              // whether a planner runs (it fills the timeline)
    std::chrono::milliseconds interval{1000};  // the sampling period serve aims at
  };

  DashboardSampler(const metrics::Registry& registry, Options options);

  // Takes a sample when at least half an interval has passed since the last
  // one (earlier calls do nothing; the first call only sets the baseline).
  // `stats` is GenerationService::stats(); `draining`: the server has begun
  // its drain. `unix_ms` is the wall-clock time shown on the charts.
  void sample(Clock::time_point now, int64_t unix_ms, const scheduler::ServiceStats& stats, bool draining);

  void record_decision(PlannerDecision decision);

  std::string data(uint64_t since) const override;

 private:
  // Cumulative readings of the registry at one instant.
  struct Reading {
    Clock::time_point at;
    double prompt_tokens = 0;
    double generation_tokens = 0;
    double prefix_queries = 0;
    double prefix_hits = 0;
    std::vector<double> ttft_bounds, itl_bounds;
    std::vector<uint64_t> ttft, itl;  // bucket counts (empty before the histogram exists)
  };
  struct Percentiles {
    std::optional<double> p50, p95, p99;
  };
  struct Point {
    uint64_t seq = 0;
    int64_t unix_ms = 0;
    double prompt_tps = 0;
    double generation_tps = 0;
    Percentiles ttft, itl;  // seconds
    std::optional<double> hit_rate;
    int running = 0;
    int waiting = 0;
    double kv_usage = 0;
  };
  struct TierUse {
    double used = 0;
    double capacity = 0;
  };
  struct WorkerView {
    std::string name, backend, device, role, state;
    double running = 0, waiting = 0;
    std::map<std::string, TierUse> kv;  // by tier; "device" first in the JSON
  };
  struct Decision {
    uint64_t seq = 0;
    PlannerDecision d;
  };

  Reading read(Clock::time_point now) const;
  std::vector<WorkerView> read_workers(const scheduler::ServiceStats& stats, bool draining) const;

  const metrics::Registry& registry_;
  const Options options_;

  // sample()'s thread only.
  std::deque<Reading> readings_;  // the last window + 1

  mutable std::mutex mu_;  // guards what follows
  uint64_t seq_ = 0;
  std::deque<Point> points_;
  std::deque<Decision> decisions_;
  std::vector<WorkerView> workers_;
  bool draining_ = false;
  int64_t last_unix_ms_ = 0;
};

}  // namespace tandem::main

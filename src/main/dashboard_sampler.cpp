#include "main/dashboard_sampler.h"

#include <algorithm>
#include <utility>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "common/check.h"
#include "common/histogram_quantile.h"

namespace tandem::main {
namespace {

constexpr const char* kTtft = "tandem_time_to_first_token_seconds";
constexpr const char* kItl = "tandem_inter_token_latency_seconds";

std::string label(const metrics::Labels& labels, const std::string& key) {
  for (const auto& [k, v] : labels) {
    if (k == key) return v;
  }
  return "";
}

// A number, or null for a figure that does not exist (no request in the window).
boost::json::value optional_number(const std::optional<double>& v) {
  if (v) return *v;
  return nullptr;
}

// What the dashboard calls a worker's state: scheduler::WorkerState's names,
// with the one that serves called "ready" (as /ready does), and every worker
// "draining" once the server drains.
std::string state_name(const std::string& worker_state, bool draining) {
  if (worker_state == "running") return draining ? "draining" : "ready";
  return worker_state;
}

}  // namespace

DashboardSampler::DashboardSampler(const metrics::Registry& registry, Options options)
    : registry_(registry), options_(std::move(options)) {
  TANDEM_CHECK(options_.history >= 1 && options_.window >= 1 && options_.max_decisions >= 1);
}

DashboardSampler::Reading DashboardSampler::read(Clock::time_point now) const {
  Reading r;
  r.at = now;
  r.prompt_tokens = registry_.total("tandem_prompt_tokens_total");
  r.generation_tokens = registry_.total("tandem_generation_tokens_total");
  r.prefix_queries = registry_.total("tandem_prefix_cache_queries_total");
  r.prefix_hits = registry_.total("tandem_prefix_cache_hits_total");
  if (auto h = registry_.histogram_total(kTtft)) {
    r.ttft_bounds = std::move(h->bounds);
    r.ttft = std::move(h->buckets);
  }
  if (auto h = registry_.histogram_total(kItl)) {
    r.itl_bounds = std::move(h->bounds);
    r.itl = std::move(h->buckets);
  }
  return r;
}

std::vector<DashboardSampler::WorkerView> DashboardSampler::read_workers(const scheduler::ServiceStats& stats,
                                                                         bool draining) const {
  std::vector<WorkerView> views;
  std::map<std::string, size_t> index;
  for (const scheduler::WorkerStatus& w : stats.workers) {
    WorkerView v;
    v.name = w.name;
    v.role = w.role.empty() ? "aggregated" : w.role;
    v.state = state_name(w.state, draining);
    for (const DashboardWorker& known : options_.workers) {
      if (known.name == w.name) {
        v.backend = known.backend;
        v.device = known.device;
      }
    }
    index[v.name] = views.size();
    views.push_back(std::move(v));
  }
  // Per-worker gauges: each series' worker label picks the view.
  const auto each = [&](const std::string& name, auto&& apply) {
    for (const auto& s : registry_.series(name)) {
      auto it = index.find(label(s.labels, "worker"));
      if (it != index.end()) apply(views[it->second], s);
    }
  };
  using Series = metrics::Registry::SeriesValue;
  each("tandem_worker_requests_running", [](WorkerView& v, const Series& s) { v.running = s.value; });
  each("tandem_worker_requests_waiting", [](WorkerView& v, const Series& s) { v.waiting = s.value; });
  each("tandem_kv_blocks_used", [](WorkerView& v, const Series& s) { v.kv["device"].used = s.value; });
  each("tandem_kv_blocks_capacity", [](WorkerView& v, const Series& s) { v.kv["device"].capacity = s.value; });
  // Offload tiers (host memory, disk), whichever exist, by their tier label.
  each("tandem_kv_tier_blocks_used", [](WorkerView& v, const Series& s) {
    const std::string tier = label(s.labels, "tier");
    if (!tier.empty() && tier != "device") v.kv[tier].used = s.value;
  });
  each("tandem_kv_tier_blocks_capacity", [](WorkerView& v, const Series& s) {
    const std::string tier = label(s.labels, "tier");
    if (!tier.empty() && tier != "device") v.kv[tier].capacity = s.value;
  });
  return views;
}

void DashboardSampler::sample(Clock::time_point now, int64_t unix_ms, const scheduler::ServiceStats& stats,
                              bool draining) {
  if (!readings_.empty() && now - readings_.back().at < options_.interval / 2) return;
  Reading cur = read(now);
  std::vector<WorkerView> workers = read_workers(stats, draining);
  const bool first = readings_.empty();
  readings_.push_back(std::move(cur));
  while (readings_.size() > options_.window + 1) readings_.pop_front();

  std::lock_guard lock(mu_);
  workers_ = std::move(workers);
  draining_ = draining;
  last_unix_ms_ = unix_ms;
  if (first) return;  // the baseline: no interval to report yet
  const Reading& now_r = readings_.back();
  const Reading& prev = readings_[readings_.size() - 2];
  const Reading& oldest = readings_.front();  // the window's start
  const double seconds = std::chrono::duration<double>(now_r.at - prev.at).count();
  Point p;
  p.seq = ++seq_;
  p.unix_ms = unix_ms;
  if (seconds > 0) {
    p.prompt_tps = std::max(0.0, now_r.prompt_tokens - prev.prompt_tokens) / seconds;
    p.generation_tps = std::max(0.0, now_r.generation_tokens - prev.generation_tokens) / seconds;
  }
  const auto percentiles = [](const std::vector<double>& bounds, const std::vector<uint64_t>& before,
                              const std::vector<uint64_t>& after) {
    Percentiles out;
    out.p50 = metrics::quantile_of_delta(0.50, bounds, before, after);
    out.p95 = metrics::quantile_of_delta(0.95, bounds, before, after);
    out.p99 = metrics::quantile_of_delta(0.99, bounds, before, after);
    return out;
  };
  p.ttft = percentiles(now_r.ttft_bounds, oldest.ttft, now_r.ttft);
  p.itl = percentiles(now_r.itl_bounds, oldest.itl, now_r.itl);
  const double queries = now_r.prefix_queries - oldest.prefix_queries;
  if (queries > 0) p.hit_rate = std::clamp((now_r.prefix_hits - oldest.prefix_hits) / queries, 0.0, 1.0);
  p.running = stats.running;
  p.waiting = stats.waiting;
  p.kv_usage = registry_.total("tandem_kv_cache_usage_perc");
  points_.push_back(p);
  while (points_.size() > options_.history) points_.pop_front();
}

void DashboardSampler::record_decision(PlannerDecision decision) {
  std::lock_guard lock(mu_);
  decisions_.push_back({++seq_, std::move(decision)});
  while (decisions_.size() > options_.max_decisions) decisions_.pop_front();
}

std::string DashboardSampler::data(uint64_t since) const {
  namespace json = boost::json;
  std::lock_guard lock(mu_);
  json::object out;
  out["version"] = 1;
  out["model"] = options_.model;
  out["now"] = last_unix_ms_;
  out["seq"] = seq_;
  out["interval_s"] = std::chrono::duration<double>(options_.interval).count();
  out["window_s"] = std::chrono::duration<double>(options_.interval).count() * static_cast<double>(options_.window);
  out["history"] = options_.history;
  out["draining"] = draining_;

  json::array workers;
  std::map<std::string, TierUse> total_kv;
  double running = 0, waiting = 0;
  for (const WorkerView& w : workers_) {
    json::array kv;
    const auto tier_json = [&](const std::string& tier, const TierUse& u) {
      kv.push_back(json::object{{"tier", tier}, {"used", u.used}, {"capacity", u.capacity}});
      total_kv[tier].used += u.used;
      total_kv[tier].capacity += u.capacity;
    };
    if (auto it = w.kv.find("device"); it != w.kv.end()) tier_json(it->first, it->second);
    for (const auto& [tier, u] : w.kv) {
      if (tier != "device") tier_json(tier, u);
    }
    workers.push_back(json::object{{"name", w.name},
                                   {"backend", w.backend},
                                   {"device", w.device},
                                   {"role", w.role},
                                   {"state", w.state},
                                   {"running", w.running},
                                   {"waiting", w.waiting},
                                   {"kv", std::move(kv)}});
    running += w.running;
    waiting += w.waiting;
  }
  out["workers"] = std::move(workers);
  json::array kv_total;
  if (auto it = total_kv.find("device"); it != total_kv.end()) {
    kv_total.push_back(json::object{{"tier", "device"}, {"used", it->second.used}, {"capacity", it->second.capacity}});
  }
  for (const auto& [tier, u] : total_kv) {
    if (tier != "device") kv_total.push_back(json::object{{"tier", tier}, {"used", u.used}, {"capacity", u.capacity}});
  }
  out["kv"] = std::move(kv_total);

  json::array samples;
  for (const Point& p : points_) {
    if (p.seq <= since) continue;
    const auto pct = [](const Percentiles& x) {
      return json::object{
          {"p50", optional_number(x.p50)}, {"p95", optional_number(x.p95)}, {"p99", optional_number(x.p99)}};
    };
    samples.push_back(json::object{{"seq", p.seq},
                                   {"t", p.unix_ms},
                                   {"prompt_tps", p.prompt_tps},
                                   {"generation_tps", p.generation_tps},
                                   {"ttft_s", pct(p.ttft)},
                                   {"itl_s", pct(p.itl)},
                                   {"hit_rate", optional_number(p.hit_rate)},
                                   {"running", p.running},
                                   {"waiting", p.waiting},
                                   {"kv_usage", p.kv_usage}});
  }
  out["samples"] = std::move(samples);

  json::array decisions;
  for (const Decision& d : decisions_) {
    if (d.seq <= since) continue;
    decisions.push_back(json::object{{"seq", d.seq},
                                     {"t", d.d.unix_ms},
                                     {"action", d.d.action},
                                     {"worker", d.d.worker},
                                     {"from", d.d.from},
                                     {"to", d.d.to},
                                     {"reason", d.d.reason}});
  }
  out["planner"] = json::object{{"enabled", options_.planner_enabled}, {"decisions", std::move(decisions)}};
  return json::serialize(out);
}

}  // namespace tandem::main

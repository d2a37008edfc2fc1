// Process-wide metrics: counters, gauges and histograms with labels, rendered
// in the Prometheus text exposition format (version 0.0.4). The planner and
// the router read the same objects Prometheus scrapes (docs/design.md).
//
// Threading: every method is thread-safe. Metric objects returned by the
// registry live as long as the registry; updating them is lock-free.
//
// vLLM compatibility: with Options::vllm_aliases, render() also emits the
// metrics listed in vllm_alias_table() under vLLM's `vllm:*` names, with a
// `model_name` label, so existing dashboards and autoscaling rules work.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace tandem::metrics {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Counter {
 public:
  void inc(double v = 1.0) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void add(double v) { value_.fetch_add(v, std::memory_order_relaxed); }
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Cumulative histogram with fixed upper bounds (seconds, tokens, ...).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void observe(double v);
  const std::vector<double>& bounds() const { return bounds_; }
  // Per-bucket (non-cumulative) counts; the last entry is +Inf.
  std::vector<uint64_t> bucket_counts() const;
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1
  std::atomic<uint64_t> count_{0};
  std::atomic<double> sum_{0.0};
};

enum class MetricType { kCounter, kGauge, kHistogram };

struct AliasEntry {
  const char* tandem_name;
  const char* vllm_name;
};
// The tandem_* -> vllm:* name mapping (documented in docs/metrics.md).
const std::vector<AliasEntry>& vllm_alias_table();

class Registry {
 public:
  struct Options {
    bool vllm_aliases = false;
    std::string model_name;  // value of vLLM's model_name label on aliases
  };
  Registry() = default;
  explicit Registry(Options options) : options_(std::move(options)) {}

  // Get-or-create. A name always keeps the type (and buckets) of its first
  // registration; asking for it as another type is a programming error (CHECK).
  Counter& counter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge& gauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram& histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                       const Labels& labels = {});

  // Prometheus text format, families in registration order.
  std::string render() const;

  // The sum of a counter's or gauge's series (all label sets); 0 when no such
  // family exists. For readers inside the process (the periodic stats line).
  double total(const std::string& name) const;

  // Each series of a counter or gauge family with its labels, in label order;
  // empty when no such family exists (or it is a histogram).
  struct SeriesValue {
    Labels labels;
    double value = 0;
  };
  std::vector<SeriesValue> series(const std::string& name) const;

  // A histogram family summed over its series: per-bucket (non-cumulative)
  // counts with the +Inf bucket last, as Histogram::bucket_counts(). nullopt
  // when no such histogram exists. The buckets are read one by one while
  // observations go on, so count may differ from their sum by the few made
  // meanwhile.
  struct HistogramTotal {
    std::vector<double> bounds;
    std::vector<uint64_t> buckets;  // bounds.size() + 1
    uint64_t count = 0;
    double sum = 0;
  };
  std::optional<HistogramTotal> histogram_total(const std::string& name) const;

 private:
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
  };
  struct Family {
    std::string name;
    std::string help;
    MetricType type;
    std::vector<double> bounds;
    std::map<std::string, Series> series;  // keyed by rendered labels
  };

  Family& family(const std::string& name, const std::string& help, MetricType type);
  void render_family(std::string& out, const Family& f, const std::string& name, const Labels& extra) const;

  Options options_;
  mutable std::mutex mu_;
  std::deque<Family> families_;
  std::map<std::string, Family*> by_name_;
};

// Bucket helpers.
std::vector<double> exponential_buckets(double start, double factor, int count);

}  // namespace tandem::metrics

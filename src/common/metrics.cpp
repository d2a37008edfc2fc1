#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "common/check.h"

namespace tandem::metrics {
namespace {

std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  return std::string(buf, res.ptr);
}

void escape_label_value(std::string& out, const std::string& v) {
  for (char c : v) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out += c;
    }
  }
}

std::string render_labels(const Labels& labels) {
  if (labels.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k;
    out += "=\"";
    escape_label_value(out, v);
    out += '"';
  }
  out += '}';
  return out;
}

void escape_help(std::string& out, const std::string& help) {
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
}

const char* type_name(MetricType t) {
  switch (t) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  TANDEM_CHECK(std::is_sorted(bounds_.begin(), bounds_.end()));
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  size_t i = std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

const std::vector<AliasEntry>& vllm_alias_table() {
  static const std::vector<AliasEntry> kTable = {
      {"tandem_time_to_first_token_seconds", "vllm:time_to_first_token_seconds"},
      {"tandem_inter_token_latency_seconds", "vllm:inter_token_latency_seconds"},
      {"tandem_e2e_request_latency_seconds", "vllm:e2e_request_latency_seconds"},
      {"tandem_request_queue_time_seconds", "vllm:request_queue_time_seconds"},
      {"tandem_prompt_tokens_total", "vllm:prompt_tokens_total"},
      {"tandem_generation_tokens_total", "vllm:generation_tokens_total"},
      {"tandem_request_success_total", "vllm:request_success_total"},
      {"tandem_num_requests_running", "vllm:num_requests_running"},
      {"tandem_num_requests_waiting", "vllm:num_requests_waiting"},
      {"tandem_kv_cache_usage_perc", "vllm:kv_cache_usage_perc"},
      {"tandem_num_preemptions_total", "vllm:num_preemptions_total"},
      {"tandem_prefix_cache_queries_total", "vllm:prefix_cache_queries_total"},
      {"tandem_prefix_cache_hits_total", "vllm:prefix_cache_hits_total"},
      {"tandem_request_prompt_tokens", "vllm:request_prompt_tokens"},
      {"tandem_request_generation_tokens", "vllm:request_generation_tokens"},
      {"tandem_request_max_num_generation_tokens", "vllm:request_max_num_generation_tokens"},
      {"tandem_request_prefill_time_seconds", "vllm:request_prefill_time_seconds"},
      {"tandem_request_decode_time_seconds", "vllm:request_decode_time_seconds"},
      // vLLM's older names, still read by its published Grafana dashboard.
      {"tandem_inter_token_latency_seconds", "vllm:time_per_output_token_seconds"},
      {"tandem_kv_cache_usage_perc", "vllm:gpu_cache_usage_perc"},
  };
  return kTable;
}

Registry::Family& Registry::family(const std::string& name, const std::string& help, MetricType type) {
  auto it = by_name_.find(name);
  if (it != by_name_.end()) {
    TANDEM_CHECK_MSG(it->second->type == type, name.c_str());
    return *it->second;
  }
  families_.push_back(Family{name, help, type, {}, {}});
  by_name_[name] = &families_.back();
  return families_.back();
}

Counter& Registry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, MetricType::kCounter);
  Series& s = f.series[render_labels(labels)];
  if (!s.counter) {
    s.labels = labels;
    s.counter = std::make_unique<Counter>();
  }
  return *s.counter;
}

Gauge& Registry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, MetricType::kGauge);
  Series& s = f.series[render_labels(labels)];
  if (!s.gauge) {
    s.labels = labels;
    s.gauge = std::make_unique<Gauge>();
  }
  return *s.gauge;
}

double Registry::total(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return 0.0;
  double sum = 0.0;
  for (const auto& [key, s] : it->second->series) {
    if (s.counter) sum += s.counter->value();
    if (s.gauge) sum += s.gauge->value();
  }
  return sum;
}

std::vector<Registry::SeriesValue> Registry::series(const std::string& name) const {
  std::lock_guard lock(mu_);
  std::vector<SeriesValue> out;
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return out;
  for (const auto& [key, s] : it->second->series) {
    if (s.counter) out.push_back({s.labels, s.counter->value()});
    if (s.gauge) out.push_back({s.labels, s.gauge->value()});
  }
  return out;
}

std::optional<Registry::HistogramTotal> Registry::histogram_total(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end() || it->second->type != MetricType::kHistogram) return std::nullopt;
  HistogramTotal t;
  t.bounds = it->second->bounds;
  t.buckets.assign(t.bounds.size() + 1, 0);
  for (const auto& [key, s] : it->second->series) {
    if (!s.histogram) continue;
    const std::vector<uint64_t> b = s.histogram->bucket_counts();
    for (size_t i = 0; i < b.size() && i < t.buckets.size(); ++i) t.buckets[i] += b[i];
    t.count += s.histogram->count();
    t.sum += s.histogram->sum();
  }
  return t;
}

Histogram& Registry::histogram(const std::string& name, const std::string& help, std::vector<double> bounds,
                               const Labels& labels) {
  std::lock_guard lock(mu_);
  Family& f = family(name, help, MetricType::kHistogram);
  if (f.series.empty() && f.bounds.empty()) f.bounds = bounds;
  Series& s = f.series[render_labels(labels)];
  if (!s.histogram) {
    s.labels = labels;
    s.histogram = std::make_unique<Histogram>(f.bounds);
  }
  return *s.histogram;
}

void Registry::render_family(std::string& out, const Family& f, const std::string& name, const Labels& extra) const {
  out += "# HELP ";
  out += name;
  out += ' ';
  escape_help(out, f.help);
  out += "\n# TYPE ";
  out += name;
  out += ' ';
  out += type_name(f.type);
  out += '\n';
  for (const auto& [key, s] : f.series) {
    Labels labels = extra;
    labels.insert(labels.end(), s.labels.begin(), s.labels.end());
    switch (f.type) {
      case MetricType::kCounter:
        out += name + render_labels(labels) + ' ' + format_value(s.counter->value()) + '\n';
        break;
      case MetricType::kGauge: out += name + render_labels(labels) + ' ' + format_value(s.gauge->value()) + '\n'; break;
      case MetricType::kHistogram: {
        const Histogram& h = *s.histogram;
        std::vector<uint64_t> counts = h.bucket_counts();
        uint64_t cumulative = 0;
        for (size_t i = 0; i < counts.size(); ++i) {
          cumulative += counts[i];
          Labels with_le = labels;
          with_le.emplace_back("le", i < h.bounds().size() ? format_value(h.bounds()[i]) : "+Inf");
          out += name + "_bucket" + render_labels(with_le) + ' ' + format_value(static_cast<double>(cumulative)) + '\n';
        }
        out += name + "_sum" + render_labels(labels) + ' ' + format_value(h.sum()) + '\n';
        out += name + "_count" + render_labels(labels) + ' ' + format_value(static_cast<double>(cumulative)) + '\n';
        break;
      }
    }
  }
}

std::string Registry::render() const {
  std::lock_guard lock(mu_);
  std::string out;
  out.reserve(4096);
  for (const Family& f : families_) render_family(out, f, f.name, {});
  if (options_.vllm_aliases) {
    const Labels model{{"model_name", options_.model_name}};
    for (const AliasEntry& a : vllm_alias_table()) {
      auto it = by_name_.find(a.tandem_name);
      if (it == by_name_.end()) continue;
      render_family(out, *it->second, a.vllm_name, model);
    }
  }
  return out;
}

std::vector<double> exponential_buckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

}  // namespace tandem::metrics

#include "common/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tandem::metrics {
namespace {

TEST(Metrics, CounterAndGaugeRender) {
  Registry r;
  r.counter("tandem_prompt_tokens_total", "Prompt tokens.").inc(5);
  r.counter("tandem_prompt_tokens_total", "Prompt tokens.").inc(2);
  r.gauge("tandem_kv_blocks_used", "Used blocks.", {{"worker", "w0"}}).set(3);
  std::string text = r.render();
  EXPECT_NE(text.find("# TYPE tandem_prompt_tokens_total counter\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_prompt_tokens_total 7\n"), std::string::npos);
  EXPECT_NE(text.find("tandem_kv_blocks_used{worker=\"w0\"} 3\n"), std::string::npos);
}

TEST(Metrics, TotalSumsEverySeriesOfAFamily) {
  metrics::Registry r;
  EXPECT_EQ(r.total("absent_total"), 0.0);
  r.counter("req_total", "h", {{"route", "a"}}).inc(2);
  r.counter("req_total", "h", {{"route", "b"}}).inc(3.5);
  r.gauge("running", "h", {{"worker", "w0"}}).set(4);
  r.gauge("running", "h", {{"worker", "w1"}}).set(1);
  EXPECT_DOUBLE_EQ(r.total("req_total"), 5.5);
  EXPECT_DOUBLE_EQ(r.total("running"), 5.0);
}

TEST(Metrics, HistogramIsCumulative) {
  Registry r;
  Histogram& h = r.histogram("tandem_x_seconds", "X.", {0.1, 1.0});
  h.observe(0.05);
  h.observe(0.1);  // le is inclusive
  h.observe(0.5);
  h.observe(5.0);
  std::string text = r.render();
  EXPECT_NE(text.find("tandem_x_seconds_bucket{le=\"0.1\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tandem_x_seconds_bucket{le=\"1\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tandem_x_seconds_bucket{le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("tandem_x_seconds_count 4\n"), std::string::npos);
  EXPECT_NEAR(h.sum(), 5.65, 1e-9);
}

TEST(Metrics, LabelValuesAreEscaped) {
  Registry r;
  r.counter("tandem_c_total", "C.", {{"route", "a\"b\\c\nd"}}).inc();
  EXPECT_NE(r.render().find("tandem_c_total{route=\"a\\\"b\\\\c\\nd\"} 1"), std::string::npos);
}

TEST(Metrics, VllmAliases) {
  Registry r(Registry::Options{true, "smol"});
  r.counter("tandem_request_success_total", "Finished.", {{"finished_reason", "stop"}}).inc(4);
  r.gauge("tandem_unaliased", "Not in the table.").set(1);
  std::string text = r.render();
  EXPECT_NE(text.find("vllm:request_success_total{model_name=\"smol\",finished_reason=\"stop\"} 4"), std::string::npos)
      << text;
  EXPECT_EQ(text.find("vllm:unaliased"), std::string::npos);
  Registry plain;
  plain.counter("tandem_request_success_total", "Finished.").inc();
  EXPECT_EQ(plain.render().find("vllm:"), std::string::npos);
}

TEST(Metrics, ConcurrentUpdatesAreNotLost) {
  Registry r;
  Counter& c = r.counter("tandem_n_total", "N.");
  Histogram& h = r.histogram("tandem_h", "H.", {1.0});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.5);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000.0);
  EXPECT_EQ(h.count(), 40000u);
}

TEST(Metrics, SeriesListsEachLabelSet) {
  Registry r;
  r.gauge("tandem_kv_blocks_used", "Used.", {{"worker", "cpu0"}}).set(3);
  r.gauge("tandem_kv_blocks_used", "Used.", {{"worker", "cpu1"}}).set(5);
  const auto s = r.series("tandem_kv_blocks_used");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].labels, (Labels{{"worker", "cpu0"}}));
  EXPECT_EQ(s[0].value, 3.0);
  EXPECT_EQ(s[1].labels, (Labels{{"worker", "cpu1"}}));
  EXPECT_EQ(s[1].value, 5.0);
  EXPECT_TRUE(r.series("tandem_absent").empty());
  r.histogram("tandem_h", "H.", {1.0}).observe(0.5);
  EXPECT_TRUE(r.series("tandem_h").empty());
}

TEST(Metrics, HistogramTotalSumsTheSeries) {
  Registry r;
  r.histogram("tandem_h", "H.", {1.0, 2.0}, {{"worker", "a"}}).observe(0.5);
  r.histogram("tandem_h", "H.", {1.0, 2.0}, {{"worker", "b"}}).observe(1.5);
  r.histogram("tandem_h", "H.", {1.0, 2.0}, {{"worker", "b"}}).observe(7.0);
  const auto t = r.histogram_total("tandem_h");
  ASSERT_TRUE(t.has_value());
  EXPECT_EQ(t->bounds, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(t->buckets, (std::vector<uint64_t>{1, 1, 1}));
  EXPECT_EQ(t->count, 3u);
  EXPECT_DOUBLE_EQ(t->sum, 9.0);
  EXPECT_FALSE(r.histogram_total("tandem_absent").has_value());
  r.counter("tandem_c_total", "C.").inc();
  EXPECT_FALSE(r.histogram_total("tandem_c_total").has_value());
}

}  // namespace
}  // namespace tandem::metrics

#include "main/dashboard_sampler.h"

#include <chrono>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace tandem::main {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

// The registry as serve fills it: the frontend's counters and histograms, two
// workers' gauges.
struct Rig {
  metrics::Registry registry;
  metrics::Counter& prompt = registry.counter("tandem_prompt_tokens_total", "h");
  metrics::Counter& generated = registry.counter("tandem_generation_tokens_total", "h");
  metrics::Counter& queries = registry.counter("tandem_prefix_cache_queries_total", "h");
  metrics::Counter& hits = registry.counter("tandem_prefix_cache_hits_total", "h");
  metrics::Histogram& ttft = registry.histogram("tandem_time_to_first_token_seconds", "h", {0.1, 0.5, 1.0});
  metrics::Histogram& itl = registry.histogram("tandem_inter_token_latency_seconds", "h", {0.01, 0.05, 0.1});
  metrics::Gauge& kv_usage = registry.gauge("tandem_kv_cache_usage_perc", "h");
  metrics::Gauge& run0 = registry.gauge("tandem_worker_requests_running", "h", {{"worker", "cpu0"}});
  metrics::Gauge& run1 = registry.gauge("tandem_worker_requests_running", "h", {{"worker", "cpu1"}});
  metrics::Gauge& wait1 = registry.gauge("tandem_worker_requests_waiting", "h", {{"worker", "cpu1"}});
  metrics::Gauge& used0 = registry.gauge("tandem_kv_blocks_used", "h", {{"worker", "cpu0"}});
  metrics::Gauge& cap0 = registry.gauge("tandem_kv_blocks_capacity", "h", {{"worker", "cpu0"}});
  metrics::Gauge& cap1 = registry.gauge("tandem_kv_blocks_capacity", "h", {{"worker", "cpu1"}});
  DashboardSampler::Clock::time_point t0{};

  scheduler::ServiceStats stats(int running = 0, int waiting = 0) const {
    scheduler::ServiceStats s;
    s.running = running;
    s.waiting = waiting;
    s.workers = {{"cpu0", "running", true, "prefill"}, {"cpu1", "running", true, "decode"}};
    return s;
  }

  DashboardSampler::Options options(size_t window = 3) const {
    DashboardSampler::Options o;
    o.model = "smol";
    o.workers = {{"cpu0", "cpu", "cpu"}, {"cpu1", "cpu", "cpu"}};
    o.history = 5;
    o.window = window;
    return o;
  }
};

json::object parse(const std::string& text) { return json::parse(text).as_object(); }

TEST(DashboardSampler, RatesAreOverTheIntervalAndPercentilesOverTheWindow) {
  Rig r;
  DashboardSampler d(r.registry, r.options(/*window=*/2));
  r.generated.inc(1000);  // before the baseline: in no interval
  d.sample(r.t0, 1000, r.stats(), false);
  EXPECT_EQ(parse(d.data(0)).at("samples").as_array().size(), 0u) << "the first call is only the baseline";

  r.prompt.inc(300);
  r.generated.inc(50);
  for (int i = 0; i < 4; ++i) r.ttft.observe(0.3);  // (0.1, 0.5]
  r.queries.inc(100);
  r.hits.inc(25);
  r.kv_usage.set(0.25);
  d.sample(r.t0 + 2s, 3000, r.stats(2, 1), false);

  r.generated.inc(10);
  for (int i = 0; i < 4; ++i) r.itl.observe(0.02);  // (0.01, 0.05]
  d.sample(r.t0 + 3s, 4000, r.stats(1, 0), false);

  const json::object o = parse(d.data(0));
  const json::array& samples = o.at("samples").as_array();
  ASSERT_EQ(samples.size(), 2u);
  const json::object& a = samples[0].as_object();
  EXPECT_EQ(a.at("seq").as_int64(), 1);
  EXPECT_EQ(a.at("t").as_int64(), 3000);
  EXPECT_DOUBLE_EQ(a.at("prompt_tps").as_double(), 150.0);  // 300 tokens over 2 s
  EXPECT_DOUBLE_EQ(a.at("generation_tps").as_double(), 25.0);
  // 4 TTFTs in (0.1, 0.5]: p50 at rank 2 of 4 -> 0.1 + 0.4 * 2 / 4.
  EXPECT_NEAR(a.at("ttft_s").at("p50").as_double(), 0.3, 1e-12);
  EXPECT_TRUE(a.at("itl_s").at("p50").is_null()) << "no token gap yet";
  EXPECT_DOUBLE_EQ(a.at("hit_rate").as_double(), 0.25);
  EXPECT_EQ(a.at("running").as_int64(), 2);
  EXPECT_EQ(a.at("waiting").as_int64(), 1);
  EXPECT_DOUBLE_EQ(a.at("kv_usage").as_double(), 0.25);

  const json::object& b = samples[1].as_object();
  EXPECT_DOUBLE_EQ(b.at("generation_tps").as_double(), 10.0);
  EXPECT_DOUBLE_EQ(b.at("prompt_tps").as_double(), 0.0);
  // The window (2 samples) still holds the TTFTs and the lookups of the first interval.
  EXPECT_NEAR(b.at("ttft_s").at("p50").as_double(), 0.3, 1e-12);
  EXPECT_DOUBLE_EQ(b.at("hit_rate").as_double(), 0.25);
  // 4 gaps in (0.01, 0.05]: p95 at rank 3.8 -> 0.01 + 0.04 * 3.8 / 4.
  EXPECT_NEAR(b.at("itl_s").at("p95").as_double(), 0.048, 1e-12);

  // Two samples later the first interval has left the window.
  d.sample(r.t0 + 4s, 5000, r.stats(), false);
  d.sample(r.t0 + 5s, 6000, r.stats(), false);
  const json::object late = parse(d.data(3)).at("samples").as_array()[0].as_object();
  EXPECT_EQ(late.at("seq").as_int64(), 4);
  EXPECT_TRUE(late.at("ttft_s").at("p95").is_null());
  EXPECT_TRUE(late.at("hit_rate").is_null());
}

TEST(DashboardSampler, CallsCloserThanHalfAnIntervalAreIgnored) {
  Rig r;
  DashboardSampler d(r.registry, r.options());
  d.sample(r.t0, 0, r.stats(), false);
  d.sample(r.t0 + 400ms, 400, r.stats(), false);  // ignored
  r.generated.inc(30);
  d.sample(r.t0 + 1500ms, 1500, r.stats(), false);
  const json::array samples = parse(d.data(0)).at("samples").as_array();
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_DOUBLE_EQ(samples[0].at("generation_tps").as_double(), 20.0);  // 30 tokens over 1.5 s
}

TEST(DashboardSampler, HistoryIsBoundedAndSinceSendsOnlyWhatIsNew) {
  Rig r;
  DashboardSampler d(r.registry, r.options());  // history 5
  for (int i = 0; i <= 8; ++i) d.sample(r.t0 + i * 1s, i * 1000, r.stats(), false);
  json::object o = parse(d.data(0));
  EXPECT_EQ(o.at("seq").as_int64(), 8);
  const json::array& all = o.at("samples").as_array();
  ASSERT_EQ(all.size(), 5u);
  EXPECT_EQ(all.front().at("seq").as_int64(), 4);
  EXPECT_EQ(all.back().at("seq").as_int64(), 8);
  EXPECT_EQ(parse(d.data(6)).at("samples").as_array().size(), 2u);
  EXPECT_EQ(parse(d.data(8)).at("samples").as_array().size(), 0u);
}

TEST(DashboardSampler, WorkersCarryRoleStateQueueAndKvPerTier) {
  Rig r;
  r.run0.set(3);
  r.run1.set(1);
  r.wait1.set(2);
  r.used0.set(10);
  r.cap0.set(40);
  r.cap1.set(40);
  // An offload tier, as kv::TierCache names its gauges.
  r.registry.gauge("tandem_kv_tier_blocks_used", "h", {{"worker", "cpu0"}, {"tier", "host"}}).set(7);
  r.registry.gauge("tandem_kv_tier_blocks_capacity", "h", {{"worker", "cpu0"}, {"tier", "host"}}).set(100);
  DashboardSampler d(r.registry, r.options());
  scheduler::ServiceStats stats = r.stats();
  stats.workers[1].state = "failed";
  stats.workers[1].healthy = false;
  d.sample(r.t0, 0, stats, false);
  const json::object o = parse(d.data(0));
  EXPECT_EQ(o.at("model").as_string(), "smol");
  const json::array& workers = o.at("workers").as_array();
  ASSERT_EQ(workers.size(), 2u);
  const json::object& w0 = workers[0].as_object();
  EXPECT_EQ(w0.at("name").as_string(), "cpu0");
  EXPECT_EQ(w0.at("backend").as_string(), "cpu");
  EXPECT_EQ(w0.at("device").as_string(), "cpu");
  EXPECT_EQ(w0.at("role").as_string(), "prefill");
  EXPECT_EQ(w0.at("state").as_string(), "ready");
  EXPECT_DOUBLE_EQ(w0.at("running").as_double(), 3.0);
  const json::array& kv0 = w0.at("kv").as_array();
  ASSERT_EQ(kv0.size(), 2u);
  EXPECT_EQ(kv0[0].at("tier").as_string(), "device");
  EXPECT_DOUBLE_EQ(kv0[0].at("used").as_double(), 10.0);
  EXPECT_DOUBLE_EQ(kv0[0].at("capacity").as_double(), 40.0);
  EXPECT_EQ(kv0[1].at("tier").as_string(), "host");
  EXPECT_DOUBLE_EQ(kv0[1].at("used").as_double(), 7.0);
  EXPECT_DOUBLE_EQ(kv0[1].at("capacity").as_double(), 100.0);
  const json::object& w1 = workers[1].as_object();
  EXPECT_EQ(w1.at("role").as_string(), "decode");
  EXPECT_EQ(w1.at("state").as_string(), "failed");
  EXPECT_DOUBLE_EQ(w1.at("waiting").as_double(), 2.0);
  EXPECT_EQ(w1.at("kv").as_array().size(), 1u) << "no offload tier on cpu1";
  // Totals per tier over the workers.
  const json::array& kv = o.at("kv").as_array();
  ASSERT_EQ(kv.size(), 2u);
  EXPECT_EQ(kv[0].at("tier").as_string(), "device");
  EXPECT_DOUBLE_EQ(kv[0].at("capacity").as_double(), 80.0);
  EXPECT_EQ(kv[1].at("tier").as_string(), "host");

  // Draining: every serving worker says so.
  d.sample(r.t0 + 1s, 1000, r.stats(), true);
  const json::object drained = parse(d.data(0));
  EXPECT_TRUE(drained.at("draining").as_bool());
  EXPECT_EQ(drained.at("workers").as_array()[0].at("state").as_string(), "draining");
}

TEST(DashboardSampler, PlannerTimelineIsOffUntilAPlannerWritesDecisions) {
  Rig r;
  DashboardSampler d(r.registry, r.options());
  json::object o = parse(d.data(0));
  EXPECT_FALSE(o.at("planner").at("enabled").as_bool());
  EXPECT_TRUE(o.at("planner").at("decisions").as_array().empty());

  DashboardSampler::Options with = r.options();
  with.planner_enabled = true;
  with.max_decisions = 2;
  DashboardSampler p(r.registry, with);
  p.sample(r.t0, 0, r.stats(), false);
  p.sample(r.t0 + 1s, 1000, r.stats(), false);                                             // seq 1
  p.record_decision({1500, "role", "cpu0", "prefill", "decode", "ITL p95 over target"});   // seq 2
  p.record_decision({1600, "admission", "", "8", "16", "queue growing"});                  // seq 3
  p.record_decision({1700, "role", "cpu1", "decode", "prefill", "TTFT p95 over target"});  // seq 4
  o = parse(p.data(0));
  EXPECT_TRUE(o.at("planner").at("enabled").as_bool());
  const json::array& decisions = o.at("planner").at("decisions").as_array();
  ASSERT_EQ(decisions.size(), 2u) << "bounded by max_decisions";
  EXPECT_EQ(decisions[0].at("seq").as_int64(), 3);
  EXPECT_EQ(decisions[0].at("action").as_string(), "admission");
  EXPECT_EQ(decisions[0].at("worker").as_string(), "");
  EXPECT_EQ(decisions[1].at("t").as_int64(), 1700);
  EXPECT_EQ(decisions[1].at("from").as_string(), "decode");
  EXPECT_EQ(decisions[1].at("to").as_string(), "prefill");
  EXPECT_EQ(decisions[1].at("reason").as_string(), "TTFT p95 over target");
  EXPECT_EQ(o.at("seq").as_int64(), 4);
  EXPECT_EQ(parse(p.data(3)).at("planner").at("decisions").as_array().size(), 1u);
}

TEST(DashboardSampler, TheSnapshotHasEveryTopLevelField) {
  Rig r;
  DashboardSampler d(r.registry, r.options());
  d.sample(r.t0, 0, r.stats(), false);
  d.sample(r.t0 + 1s, 1000, r.stats(), false);
  const json::object o = parse(d.data(0));
  for (const char* key : {"version", "model", "now", "seq", "interval_s", "window_s", "history", "draining", "workers",
                          "kv", "samples", "planner"}) {
    EXPECT_TRUE(o.contains(key)) << key;
  }
  EXPECT_EQ(o.at("version").as_int64(), 1);
  EXPECT_DOUBLE_EQ(o.at("interval_s").as_double(), 1.0);
  EXPECT_DOUBLE_EQ(o.at("window_s").as_double(), 3.0);
  EXPECT_EQ(o.at("now").as_int64(), 1000);
  const json::object& s = o.at("samples").as_array()[0].as_object();
  for (const char* key :
       {"seq", "t", "prompt_tps", "generation_tps", "ttft_s", "itl_s", "hit_rate", "running", "waiting", "kv_usage"}) {
    EXPECT_TRUE(s.contains(key)) << key;
  }
}

}  // namespace
}  // namespace tandem::main

#include "discovery/discovery.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

namespace tandem::discovery {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

bool wait_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

class DiscoveryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-discovery-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  DiscoveryOptions options(const std::string& id, int port, const std::string& key = "k") const {
    DiscoveryOptions o;
    o.dir = dir_;
    o.id = id;
    o.url = "http://127.0.0.1:" + std::to_string(port);
    o.peer_key = key;
    o.ttl_s = 1;
    o.heartbeat = 100ms;
    o.roles = {"aggregated"};
    return o;
  }

  std::string dir_;
};

TEST_F(DiscoveryTest, PeersSeeEachOtherWithTheirLoadAndLeaveOnStop) {
  std::atomic<int> waiting{0};
  Discovery a(
      options("a", 1001),
      [&] {
        return std::vector<ModelLoad>{ModelLoad{"ma", {}, 10, 4, 8, waiting.load(), 1, 0.5}};
      },
      nullptr);
  metrics::Registry registry;
  Discovery b(
      options("b", 1002),
      [] {
        return std::vector<ModelLoad>{ModelLoad{"mb", {}, 10, 4, 8, 0, 0, 0}};
      },
      &registry);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return a.peers()->size() == 1 && b.peers()->size() == 1; }));
  EXPECT_EQ(a.peers()->at(0).id, "b");
  EXPECT_EQ(b.peers()->at(0).id, "a");
  EXPECT_EQ(b.peers()->at(0).url, "http://127.0.0.1:1001");
  ASSERT_NE(b.peers()->at(0).find_model("ma"), nullptr);
  // The heartbeat carries the load as it changes.
  waiting = 5;
  EXPECT_TRUE(wait_until([&] { return b.peers()->size() == 1 && b.peers()->at(0).models[0].waiting == 5; }));
  EXPECT_NE(registry.render().find("tandem_discovery_peers 1"), std::string::npos);
  a.stop();
  EXPECT_FALSE(fs::exists(dir_ + "/a.json"));
  // Removal is seen at once through inotify (well before the 1 s TTL).
  EXPECT_TRUE(wait_until([&] { return b.peers()->empty(); }, 800ms));
  b.stop();
}

TEST_F(DiscoveryTest, ARecordThatStopsBeatingExpires) {
  Discovery b(options("b", 1002), nullptr, nullptr);
  ASSERT_TRUE(b.start().ok());
  // A record written once, by no live process: seen, then expired after its ttl (1 s).
  PeerRecord r;
  r.id = "ghost";
  r.url = "http://127.0.0.1:1";
  r.version = "t";
  r.key_hash = peer_key_hash("k");
  r.updated_ms = unix_now_ms();
  r.ttl_s = 1;
  PeerDirectory(dir_, r.key_hash, "writer").write(r);
  ASSERT_TRUE(wait_until([&] { return b.peers()->size() == 1; }));
  EXPECT_TRUE(wait_until([&] { return b.peers()->empty(); }, 3000ms));
  EXPECT_GE(unix_now_ms() - r.updated_ms, 1000);
  b.stop();
}

TEST_F(DiscoveryTest, ForeignAndCorruptRecordsAreIgnoredAndCounted) {
  metrics::Registry registry;
  Discovery a(options("a", 1001, "group-one"), nullptr, nullptr);
  Discovery b(options("b", 1002, "group-two"), nullptr, &registry);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  std::ofstream(dir_ + "/junk.json") << "{\"schema\": 1, \"id\": ";
  ASSERT_TRUE(wait_until([&] {
    const std::string text = registry.render();
    return text.find("tandem_discovery_records_ignored_total{reason=\"foreign_key\"} 1") != std::string::npos &&
           text.find("tandem_discovery_records_ignored_total{reason=\"malformed\"} 1") != std::string::npos;
  })) << registry.render();
  EXPECT_TRUE(a.peers()->empty());
  EXPECT_TRUE(b.peers()->empty());
  // a's heartbeats rewrite its record every 100 ms: still one warning.
  std::this_thread::sleep_for(400ms);
  EXPECT_TRUE(b.peers()->empty());
  EXPECT_NE(registry.render().find("tandem_discovery_records_ignored_total{reason=\"foreign_key\"} 1\n"),
            std::string::npos);
  a.stop();
  b.stop();
}

TEST_F(DiscoveryTest, ARecordThatCannotBeWrittenDoesNotStopTheThread) {
  Discovery a(options("a", 1001), nullptr, nullptr);
  Discovery b(options("b", 1002), nullptr, nullptr);
  ASSERT_TRUE(a.start().ok());
  ASSERT_TRUE(b.start().ok());
  ASSERT_TRUE(wait_until([&] { return b.peers()->size() == 1; }));
  // a's record becomes a directory: a's heartbeats fail (rename onto a directory), b expires it,
  // and once the obstacle goes a's next heartbeat brings it back.
  fs::remove(dir_ + "/a.json");
  fs::create_directory(dir_ + "/a.json");
  EXPECT_TRUE(wait_until([&] { return b.peers()->empty(); }, 3000ms));
  std::this_thread::sleep_for(400ms);  // several failed heartbeats
  EXPECT_TRUE(b.peers()->empty());
  fs::remove(dir_ + "/a.json");
  EXPECT_TRUE(wait_until([&] { return b.peers()->size() == 1; }, 3000ms));
  a.stop();
  b.stop();
}

TEST_F(DiscoveryTest, StartRefusesABadIdOrUrl) {
  DiscoveryOptions bad_id = options("a", 1);
  bad_id.id = "a/b";
  Discovery d1(bad_id, nullptr, nullptr);
  Status st = d1.start();
  EXPECT_EQ(st.kind(), ErrorKind::kInvalidRequest);
  EXPECT_NE(st.message().find("[discovery] id"), std::string::npos);
  DiscoveryOptions bad_url = options("a", 1);
  bad_url.url = "ftp://x";
  Discovery d2(bad_url, nullptr, nullptr);
  st = d2.start();
  EXPECT_NE(st.message().find("[discovery] advertise_url"), std::string::npos);
  EXPECT_TRUE(fs::is_empty(dir_));
}

}  // namespace
}  // namespace tandem::discovery

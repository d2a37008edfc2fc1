#include "discovery/peer_directory.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace tandem::discovery {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kNow = 1700000000000;

class PeerDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tandem-discovery-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  PeerRecord record(const std::string& id, int64_t updated_ms = kNow) const {
    PeerRecord r;
    r.id = id;
    r.url = "http://127.0.0.1:9000";
    r.version = "t";
    r.key_hash = peer_key_hash("key");
    r.updated_ms = updated_ms;
    r.ttl_s = 10;
    r.roles = {"aggregated"};
    r.models.push_back(ModelLoad{"m", {}, 100, 4, 8, 0, 0, 0.0});
    return r;
  }
  void put(const std::string& name, const std::string& text) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << text;
  }

  std::string dir_;
};

TEST_F(PeerDirectoryTest, WriteIsAtomicAndLeavesNoTemporaryFile) {
  PeerDirectory d(dir_, peer_key_hash("key"), "self");
  ASSERT_TRUE(d.prepare().ok());
  ASSERT_TRUE(d.write(record("self")).ok());
  ASSERT_TRUE(d.write(record("self", kNow + 1)).ok());
  int files = 0;
  for (const auto& e : fs::directory_iterator(dir_)) {
    ++files;
    EXPECT_EQ(e.path().filename(), "self.json");
  }
  EXPECT_EQ(files, 1);
  // Another reader sees the record; this appliance does not see itself.
  PeerDirectory other(dir_, peer_key_hash("key"), "other");
  auto scan = other.scan(kNow + 2);
  ASSERT_EQ(scan.peers.size(), 1u);
  EXPECT_EQ(scan.peers[0].updated_ms, kNow + 1);
  EXPECT_TRUE(d.scan(kNow + 2).peers.empty());
  d.remove_own();
  EXPECT_TRUE(other.scan(kNow + 2).peers.empty());
  EXPECT_FALSE(fs::exists(dir_ + "/self.json"));
}

TEST_F(PeerDirectoryTest, PrepareCreatesTheDirectoryOrNamesIt) {
  PeerDirectory nested(dir_ + "/a/b", peer_key_hash("key"), "x");
  EXPECT_TRUE(nested.prepare().ok());
  EXPECT_TRUE(fs::is_directory(dir_ + "/a/b"));
  put("file", "x");
  PeerDirectory not_dir(dir_ + "/file", peer_key_hash("key"), "x");
  Status st = not_dir.prepare();
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.kind(), ErrorKind::kIo);
  EXPECT_NE(st.message().find(dir_ + "/file"), std::string::npos);
}

TEST_F(PeerDirectoryTest, CorruptPartialForeignStaleAndMisnamedFilesAreIgnored) {
  PeerDirectory writer(dir_, peer_key_hash("key"), "good");
  ASSERT_TRUE(writer.write(record("good")).ok());
  const std::string whole = encode_record(record("partial"));
  put("partial.json", whole.substr(0, whole.size() / 2));
  put("corrupt.json", std::string("\x00\x01garbage{", 10));
  put("empty.json", "");
  PeerRecord foreign = record("foreign");
  foreign.key_hash = peer_key_hash("another group");
  put("foreign.json", encode_record(foreign));
  put("stale.json", encode_record(record("stale", kNow - 60000)));
  put("misnamed.json", encode_record(record("someone-else")));
  put("notes.txt", "not a record");
  put(".good.json.123.tmp", whole.substr(0, 5));  // a writer's temporary file
  fs::create_directory(dir_ + "/dir.json");

  PeerDirectory reader(dir_, peer_key_hash("key"), "reader");
  ScanResult scan = reader.scan(kNow);
  ASSERT_EQ(scan.peers.size(), 1u);
  EXPECT_EQ(scan.peers[0].id, "good");
  std::map<std::string, ErrorKind> kinds;
  for (const IgnoredFile& f : scan.ignored) kinds[f.file] = f.reason.kind();
  EXPECT_EQ(kinds.size(), 7u);
  EXPECT_EQ(kinds["partial.json"], ErrorKind::kMalformedFile);
  EXPECT_EQ(kinds["corrupt.json"], ErrorKind::kMalformedFile);
  EXPECT_EQ(kinds["empty.json"], ErrorKind::kMalformedFile);
  EXPECT_EQ(kinds["foreign.json"], ErrorKind::kUnauthorized);
  EXPECT_EQ(kinds["stale.json"], ErrorKind::kTimeout);
  EXPECT_EQ(kinds["misnamed.json"], ErrorKind::kMalformedFile);
  EXPECT_EQ(kinds.count("dir.json"), 1u);
  EXPECT_EQ(scan.newly_ignored.size(), 7u);

  // The same files again: no new warnings.
  ScanResult again = reader.scan(kNow);
  EXPECT_EQ(again.ignored.size(), 7u);
  EXPECT_TRUE(again.newly_ignored.empty());

  // A file that changes is judged again: fixed, it is a peer; still bad for
  // the same kind of reason, it does not warn again; bad for another, it does.
  put("partial.json", whole);
  put("corrupt.json", "still { bad");
  put("stale.json", encode_record(foreign));
  ScanResult third = reader.scan(kNow);
  ASSERT_EQ(third.peers.size(), 2u);
  EXPECT_EQ(third.peers[1].id, "partial");
  ASSERT_EQ(third.newly_ignored.size(), 1u);
  EXPECT_EQ(third.newly_ignored[0].file, "stale.json");
  EXPECT_EQ(third.newly_ignored[0].reason.kind(), ErrorKind::kUnauthorized);
}

TEST_F(PeerDirectoryTest, ARecordExpiresWhenItsTtlPasses) {
  PeerDirectory writer(dir_, peer_key_hash("key"), "a");
  ASSERT_TRUE(writer.write(record("a")).ok());
  PeerDirectory reader(dir_, peer_key_hash("key"), "b");
  EXPECT_EQ(reader.scan(kNow + 10000).peers.size(), 1u);
  ScanResult later = reader.scan(kNow + 10001);
  EXPECT_TRUE(later.peers.empty());
  ASSERT_EQ(later.ignored.size(), 1u);
  EXPECT_EQ(later.ignored[0].reason.kind(), ErrorKind::kTimeout);
  // A heartbeat brings it back.
  ASSERT_TRUE(writer.write(record("a", kNow + 10000)).ok());
  EXPECT_EQ(reader.scan(kNow + 10001).peers.size(), 1u);
}

TEST_F(PeerDirectoryTest, AMissingDirectoryIsReportedNotFatal) {
  PeerDirectory reader(dir_ + "/missing", peer_key_hash("key"), "b");
  ScanResult scan = reader.scan(kNow);
  EXPECT_TRUE(scan.peers.empty());
  ASSERT_EQ(scan.ignored.size(), 1u);
  EXPECT_EQ(scan.ignored[0].reason.kind(), ErrorKind::kIo);
  EXPECT_EQ(scan.newly_ignored.size(), 1u);
  EXPECT_TRUE(reader.scan(kNow).newly_ignored.empty());
}

TEST_F(PeerDirectoryTest, AnOversizedFileIsNotRead) {
  put("big.json", std::string(kMaxRecordBytes + 1, ' '));
  PeerDirectory reader(dir_, peer_key_hash("key"), "b");
  ScanResult scan = reader.scan(kNow);
  ASSERT_EQ(scan.ignored.size(), 1u);
  EXPECT_NE(scan.ignored[0].reason.message().find("larger than"), std::string::npos);
}

}  // namespace
}  // namespace tandem::discovery

// The KV tiers below the device pool: CRC-32C, the host tier, the SQLite
// index, the disk store (corruption, another model, reopening after partial
// writes) and the tier cache that joins them.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "kv/crc32c.h"
#include "kv/disk_index.h"
#include "kv/disk_store.h"
#include "kv/frequency_sketch.h"
#include "kv/host_tier.h"
#include "kv/kv_index.h"
#include "kv/tier_cache.h"

namespace tandem::kv {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> n{0};
    path_ = fs::temp_directory_path() /
            ("tandem_tiers_test_" + std::to_string(::getpid()) + "_" + std::to_string(n.fetch_add(1)));
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

constexpr size_t kBlockBytes = 256;

std::vector<std::byte> block_data(uint8_t seed) {
  std::vector<std::byte> d(kBlockBytes);
  for (size_t i = 0; i < d.size(); ++i) d[i] = static_cast<std::byte>(seed * 31 + i * 7);
  return d;
}

std::vector<int32_t> tokens_of(int i) { return {i, i + 1, i + 2, i + 3}; }

std::span<const std::byte> bytes_of(const char* s) { return {reinterpret_cast<const std::byte*>(s), std::strlen(s)}; }

TEST(Crc32c, StandardCheckValues) {
  // RFC 3720 (iSCSI) B.4 and the usual "123456789" check value.
  EXPECT_EQ(crc32c(bytes_of("123456789")), 0xE3069283u);
  std::vector<std::byte> zeros(32, std::byte{0});
  EXPECT_EQ(crc32c(zeros), 0x8A9136AAu);
  std::vector<std::byte> ones(32, std::byte{0xFF});
  EXPECT_EQ(crc32c(ones), 0x62A8AB43u);
  // Incremental use gives the one-shot value, at every split (odd tails too).
  const auto all = bytes_of("The quick brown fox jumps over the lazy dog");
  for (size_t cut = 0; cut <= all.size(); ++cut) {
    EXPECT_EQ(crc32c(all.subspan(cut), crc32c(all.first(cut))), crc32c(all)) << cut;
  }
}

TEST(HostTier, InsertFindEvictLru) {
  auto made = HostTier::create(kBlockBytes, 2, {});
  ASSERT_TRUE(made.ok());
  HostTier& t = *made.value();
  std::vector<BlockHash> evicted;
  std::vector<std::byte> evicted_bytes;
  auto on_evict = [&](BlockHash h, const HostEntry&, std::span<const std::byte> d) {
    evicted.push_back(h);
    evicted_bytes.assign(d.begin(), d.end());
  };
  const auto a = block_data(1), b = block_data(2), c = block_data(3);
  auto slot = t.insert(10, 0, tokens_of(1), on_evict);
  std::copy(a.begin(), a.end(), slot.begin());
  slot = t.insert(11, 10, tokens_of(2), on_evict);
  std::copy(b.begin(), b.end(), slot.begin());
  EXPECT_NE(t.find(10, 0, tokens_of(1)), nullptr);
  // Another parent or other tokens under the same hash: a miss (a collision).
  EXPECT_EQ(t.find(10, 7, tokens_of(1)), nullptr);
  EXPECT_EQ(t.find(10, 0, tokens_of(9)), nullptr);
  t.touch(10);  // 11 is now the least recently used
  EXPECT_EQ(t.entry(10)->uses, 2u);
  slot = t.insert(12, 11, tokens_of(3), on_evict);
  std::copy(c.begin(), c.end(), slot.begin());
  ASSERT_EQ(evicted, std::vector<BlockHash>{11});
  EXPECT_EQ(evicted_bytes, b);  // the victim's bytes, before its slot was reused
  EXPECT_EQ(t.size(), 2);
  auto d10 = t.data(10);
  EXPECT_TRUE(std::equal(d10.begin(), d10.end(), a.begin()));
  auto d12 = t.data(12);
  EXPECT_TRUE(std::equal(d12.begin(), d12.end(), c.begin()));
  t.erase(12);
  EXPECT_FALSE(t.contains(12));
  EXPECT_EQ(t.size(), 1);
}

TEST(HostTier, UsesTheGivenMemory) {
  int allocs = 0, frees = 0;
  std::vector<std::byte> arena(kBlockBytes * 3);
  HostMemory m;
  m.allocate = [&](size_t bytes) -> void* {
    ++allocs;
    return bytes <= arena.size() ? arena.data() : nullptr;
  };
  m.release = [&](void* p) {
    EXPECT_EQ(p, arena.data());
    ++frees;
  };
  {
    auto t = HostTier::create(kBlockBytes, 3, m);
    ASSERT_TRUE(t.ok());
    auto slot = t.value()->insert(1, 0, tokens_of(0), {});
    EXPECT_GE(slot.data(), arena.data());
    EXPECT_LE(slot.data() + slot.size(), arena.data() + arena.size());
  }
  EXPECT_EQ(allocs, 1);
  EXPECT_EQ(frees, 1);
  auto too_big = HostTier::create(kBlockBytes, 4, m);
  EXPECT_FALSE(too_big.ok());
  EXPECT_EQ(too_big.status().kind(), ErrorKind::kIo);
}

TEST(DiskIndex, RowsRoundTripAndSurviveReopen) {
  TempDir dir;
  const std::string path = (dir.path() / "index.sqlite").string();
  DiskRow r;
  r.hash = 0xFFEEDDCCBBAA9988ULL;  // above INT64_MAX: stored as its two's complement
  r.parent = 0x8000000000000001ULL;
  r.tokens = {5, -1, 70000, 3};
  r.file = "ffeeddccbbaa9988.kv";
  r.length = 4096;
  r.checksum = 0xDEADBEEF;
  r.fingerprint = "fp-a";
  r.uses = 3;
  r.last_use_ms = 1000;
  {
    auto index = DiskIndex::open(path);
    ASSERT_TRUE(index.ok()) << index.status().message();
    ASSERT_TRUE(index.value()->put(r).ok());
    DiskRow other = r;
    other.hash = 1;
    other.fingerprint = "fp-b";
    other.last_use_ms = 500;
    ASSERT_TRUE(index.value()->put(other).ok());
    ASSERT_TRUE(index.value()->touch(r.hash, 2000).ok());
  }
  // The journal is WAL (what makes a commit survive kill -9 without a fsync per row).
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(s), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)), "wal");
  sqlite3_finalize(s);
  sqlite3_close(db);

  auto index = DiskIndex::open(path);
  ASSERT_TRUE(index.ok());
  auto rows = index.value()->rows();
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 2u);
  EXPECT_EQ((*rows)[0].hash, 1u);  // oldest last use first
  const DiskRow& got = (*rows)[1];
  EXPECT_EQ(got.hash, r.hash);
  EXPECT_EQ(got.parent, r.parent);
  EXPECT_EQ(got.tokens, r.tokens);
  EXPECT_EQ(got.file, r.file);
  EXPECT_EQ(got.length, r.length);
  EXPECT_EQ(got.checksum, r.checksum);
  EXPECT_EQ(got.fingerprint, "fp-a");
  EXPECT_EQ(got.uses, 4u);
  EXPECT_EQ(got.last_use_ms, 2000);
  auto taken = index.value()->take_other_fingerprints("fp-a");
  ASSERT_TRUE(taken.ok());
  ASSERT_EQ(taken->size(), 1u);
  EXPECT_EQ((*taken)[0].fingerprint, "fp-b");
  EXPECT_EQ(index.value()->rows()->size(), 1u);
  ASSERT_TRUE(index.value()->remove(r.hash).ok());
  EXPECT_TRUE(index.value()->rows()->empty());
}

TEST(DiskIndex, UnopenableDatabaseIsAnError) {
  TempDir dir;
  const fs::path not_a_db = dir.path() / "index.sqlite";
  std::ofstream(not_a_db) << "this is not an SQLite database, just some text that is long enough to matter";
  auto index = DiskIndex::open(not_a_db.string());
  ASSERT_FALSE(index.ok());
  EXPECT_EQ(index.status().kind(), ErrorKind::kIo);
  EXPECT_NE(index.status().message().find(not_a_db.string()), std::string::npos);
}

struct Events {
  std::vector<std::pair<KvEventKind, BlockHash>> list;
  DiskStore::EventFn fn() {
    return [this](KvEventKind k, BlockHash h, BlockHash, std::span<const int32_t>) { list.push_back({k, h}); };
  }
  size_t count(KvEventKind k) const {
    size_t n = 0;
    for (const auto& e : list) n += e.first == k;
    return n;
  }
};

DiskStoreOptions store_options(const fs::path& dir, const std::string& fp = "model-a", int64_t capacity = 8) {
  DiskStoreOptions o;
  o.dir = dir.string();
  o.fingerprint = fp;
  o.block_bytes = kBlockBytes;
  o.capacity = capacity;
  return o;
}

TEST(DiskStore, WritesReadsAndEvictsOldest) {
  TempDir dir;
  Events ev;
  auto store = DiskStore::open(store_options(dir.path(), "model-a", 2), ev.fn());
  ASSERT_TRUE(store.ok()) << store.status().message();
  DiskStore& s = *store.value();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.put(100 + i, 0, tokens_of(i), block_data(i), 1));
  s.drain();
  EXPECT_EQ(s.size(), 2);  // capacity 2: block 100 was evicted for block 102
  EXPECT_EQ(ev.count(KvEventKind::kStored), 3u);
  EXPECT_EQ(ev.count(KvEventKind::kEvicted), 1u);
  EXPECT_FALSE(s.find(100, 0, tokens_of(0)));
  EXPECT_FALSE(fs::exists(dir.path() / "0000000000000064.kv"));
  std::vector<std::byte> out(kBlockBytes);
  EXPECT_EQ(s.read(101, 0, tokens_of(1), out), DiskRead::kOk);
  EXPECT_EQ(out, block_data(1));
  EXPECT_EQ(s.read(101, 0, tokens_of(7), out), DiskRead::kMissing);  // other tokens: a collision, not served
  EXPECT_EQ(s.read(999, 0, tokens_of(1), out), DiskRead::kMissing);
  EXPECT_FALSE(s.put(101, 0, tokens_of(1), block_data(1), 1));  // held already
  EXPECT_EQ(s.counters().written_blocks, 3u);
}

TEST(DiskStore, CorruptBlockIsDroppedNeverServed) {
  TempDir dir;
  Events ev;
  {
    auto store = DiskStore::open(store_options(dir.path()), ev.fn());
    ASSERT_TRUE(store.ok());
    ASSERT_TRUE(store.value()->put(7, 0, tokens_of(7), block_data(7), 1));
    ASSERT_TRUE(store.value()->put(8, 7, tokens_of(8), block_data(8), 1));
  }
  // Flip one byte of block 7 (same size: only the checksum can tell).
  const fs::path f = dir.path() / "0000000000000007.kv";
  {
    std::fstream io(f, std::ios::in | std::ios::out | std::ios::binary);
    io.seekp(100);
    io.put('\x5A' ^ static_cast<char>(block_data(7)[100]));
  }
  auto store = DiskStore::open(store_options(dir.path()), ev.fn());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(store.value()->open_report().kept, 2);
  std::vector<std::byte> out(kBlockBytes);
  ev.list.clear();
  EXPECT_EQ(store.value()->read(7, 0, tokens_of(7), out), DiskRead::kCorrupt);
  EXPECT_EQ(ev.count(KvEventKind::kEvicted), 1u);  // the router hears it is gone
  EXPECT_FALSE(store.value()->find(7, 0, tokens_of(7)));
  EXPECT_FALSE(fs::exists(f));
  EXPECT_EQ(store.value()->read(7, 0, tokens_of(7), out), DiskRead::kMissing);
  EXPECT_EQ(store.value()->counters().corrupt, 1u);
  EXPECT_EQ(store.value()->read(8, 7, tokens_of(8), out), DiskRead::kOk);
  EXPECT_EQ(out, block_data(8));
}

TEST(DiskStore, AnotherModelsBlocksAreIgnoredAndReclaimed) {
  TempDir dir;
  Events ev;
  {
    auto store = DiskStore::open(store_options(dir.path(), "model-a"), ev.fn());
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 3; ++i) store.value()->put(i + 1, 0, tokens_of(i), block_data(i), 1);
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir.path()), fs::directory_iterator()) >= 3, true);
  auto store = DiskStore::open(store_options(dir.path(), "model-b"), ev.fn());
  ASSERT_TRUE(store.ok());
  EXPECT_EQ(store.value()->open_report().reclaimed, 3);
  EXPECT_EQ(store.value()->open_report().kept, 0);
  EXPECT_EQ(store.value()->size(), 0);
  std::vector<std::byte> out(kBlockBytes);
  EXPECT_EQ(store.value()->read(1, 0, tokens_of(0), out), DiskRead::kMissing);
  for (const auto& f : fs::directory_iterator(dir.path())) EXPECT_NE(f.path().extension(), ".kv") << f.path();
  // Back to model-a: nothing of it is left either.
  store.value().reset();
  auto again = DiskStore::open(store_options(dir.path(), "model-a"), ev.fn());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again.value()->size(), 0);
}

TEST(DiskStore, ReopensAfterPartialWrites) {
  TempDir dir;
  Events ev;
  {
    auto store = DiskStore::open(store_options(dir.path()), ev.fn());
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 4; ++i) store.value()->put(i + 1, 0, tokens_of(i), block_data(i), 1);
  }
  // What a kill -9 can leave: a block file written but its row never
  // committed (an orphan), a torn file under a committed row (power loss),
  // a committed row whose file is gone, and a half-written stray file.
  std::ofstream(dir.path() / "00000000000000ff.kv", std::ios::binary) << std::string(kBlockBytes, 'x');
  fs::resize_file(dir.path() / "0000000000000002.kv", kBlockBytes / 2);
  fs::remove(dir.path() / "0000000000000003.kv");
  std::ofstream(dir.path() / "0000000000000abc.kv", std::ios::binary) << "half";
  auto store = DiskStore::open(store_options(dir.path()), ev.fn());
  ASSERT_TRUE(store.ok()) << store.status().message();
  const DiskOpenReport& r = store.value()->open_report();
  EXPECT_EQ(r.kept, 2);
  EXPECT_EQ(r.dropped, 2);
  EXPECT_EQ(r.orphans, 2);
  EXPECT_FALSE(fs::exists(dir.path() / "00000000000000ff.kv"));
  EXPECT_FALSE(fs::exists(dir.path() / "0000000000000002.kv"));
  std::vector<std::byte> out(kBlockBytes);
  EXPECT_EQ(store.value()->read(1, 0, tokens_of(0), out), DiskRead::kOk);
  EXPECT_EQ(out, block_data(0));
  EXPECT_EQ(store.value()->read(4, 0, tokens_of(3), out), DiskRead::kOk);
  EXPECT_EQ(out, block_data(3));
  EXPECT_EQ(store.value()->read(2, 0, tokens_of(1), out), DiskRead::kMissing);
  // A process killed inside an index transaction (kill -9 with uncommitted
  // WAL frames) leaves a store that opens, without the uncommitted change.
  store.value().reset();
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sqlite3* db = nullptr;
    if (sqlite3_open((dir.path() / "index.sqlite").c_str(), &db) != SQLITE_OK) ::_exit(2);
    sqlite3_exec(db, "PRAGMA cache_size=1; BEGIN; DELETE FROM blocks;", nullptr, nullptr, nullptr);
    for (int i = 0; i < 2000; ++i) {  // enough to spill uncommitted pages into the WAL
      const std::string sql =
          "INSERT INTO blocks VALUES(" + std::to_string(1000 + i) + ", 0, x'00', 'x.kv', 0, 256, 0, 'model-a', 1, 0)";
      sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    }
    ::kill(::getpid(), SIGKILL);
    ::_exit(3);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);
  auto third = DiskStore::open(store_options(dir.path()), ev.fn());
  ASSERT_TRUE(third.ok()) << third.status().message();
  EXPECT_EQ(third.value()->size(), 2);  // neither the delete nor the inserts happened
  EXPECT_EQ(third.value()->read(1, 0, tokens_of(0), out), DiskRead::kOk);
}

TEST(DiskStore, FullQueueDropsInsteadOfBlocking) {
  TempDir dir;
  DiskStoreOptions o = store_options(dir.path(), "m", 1000);
  o.max_pending = 1;
  auto store = DiskStore::open(o, {});
  ASSERT_TRUE(store.ok());
  int accepted = 0;
  for (int i = 0; i < 200; ++i) accepted += store.value()->put(i + 1, 0, tokens_of(i), block_data(i), 1) ? 1 : 0;
  store.value()->drain();
  const DiskCounters c = store.value()->counters();
  EXPECT_EQ(c.written_blocks + c.dropped_writes, 200u);
  EXPECT_EQ(static_cast<int>(c.written_blocks), accepted);
  EXPECT_EQ(store.value()->size(), accepted);
}

TEST(KvIndexTiers, ABlockCountsWhileAnyTierHoldsItAndCreditsTakeTheBestTier) {
  KvIndex index;
  auto ev = [](KvEventKind k, KvTier t, BlockHash h, uint64_t seq) {
    KvEvent e;
    e.kind = k;
    e.tier = t;
    e.block_hash = h;
    e.seq_no = seq;
    return e;
  };
  // Worker 0: blocks 1, 2 on the device, 3 on the host; worker 1: 1 on disk, 2 and 3 on the host.
  index.apply(0, ev(KvEventKind::kStored, KvTier::kDevice, 1, 0));
  index.apply(0, ev(KvEventKind::kStored, KvTier::kDevice, 2, 1));
  index.apply(0, ev(KvEventKind::kStored, KvTier::kHost, 3, 0));  // the host tier numbers its own events
  index.apply(0, ev(KvEventKind::kStored, KvTier::kHost, 1, 1));
  index.apply(1, ev(KvEventKind::kStored, KvTier::kDisk, 1, 0));
  index.apply(1, ev(KvEventKind::kStored, KvTier::kHost, 2, 0));
  index.apply(1, ev(KvEventKind::kStored, KvTier::kHost, 3, 1));
  EXPECT_EQ(index.seq_no_gaps(), 0u);
  const std::vector<BlockHash> prompt = {1, 2, 3, 4};
  const double w[3] = {1.0, 0.75, 0.25};
  std::vector<uint32_t> blocks(2);
  std::vector<double> credit(2);
  index.credits(prompt, std::span<const double, 3>(w), blocks, credit);
  EXPECT_EQ(blocks, (std::vector<uint32_t>{3, 3}));
  EXPECT_DOUBLE_EQ(credit[0], 1.0 + 1.0 + 0.75);  // block 1 is on the device and the host: the device counts
  EXPECT_DOUBLE_EQ(credit[1], 0.25 + 0.75 + 0.75);
  std::vector<uint32_t> any(2);
  index.overlaps(prompt, any);
  EXPECT_EQ(any, blocks);
  // Evicted from the device, block 1 is still held by worker 0 (host).
  index.apply(0, ev(KvEventKind::kEvicted, KvTier::kDevice, 1, 2));
  EXPECT_TRUE(index.holds(0, 1));
  index.credits(prompt, std::span<const double, 3>(w), blocks, credit);
  EXPECT_EQ(blocks[0], 3u);
  EXPECT_DOUBLE_EQ(credit[0], 0.75 + 1.0 + 0.75);
  index.apply(0, ev(KvEventKind::kEvicted, KvTier::kHost, 1, 2));
  EXPECT_FALSE(index.holds(0, 1));
  index.credits(prompt, std::span<const double, 3>(w), blocks, credit);
  EXPECT_EQ(blocks[0], 0u);
  EXPECT_DOUBLE_EQ(credit[0], 0.0);
  EXPECT_EQ(index.num_blocks(0, KvTier::kDevice), 1u);
  EXPECT_EQ(index.num_blocks(0, KvTier::kHost), 1u);
  EXPECT_EQ(index.num_blocks(1), 3u);
  EXPECT_EQ(index.num_hashes(), 3u);
  // A gap in one tier's numbering is a gap.
  index.apply(1, ev(KvEventKind::kStored, KvTier::kHost, 9, 5));
  EXPECT_EQ(index.seq_no_gaps(), 1u);
}

TEST(FrequencySketch, CountsNeverUnderestimateAndAge) {
  FrequencySketch sketch(64);
  // Distinct well-mixed hashes (as chain hashes are): estimates never fall
  // below the true counts.
  std::vector<BlockHash> hashes;
  for (int i = 0; i < 40; ++i) hashes.push_back(chain_hash(0, tokens_of(i)));
  for (int i = 0; i < 40; ++i) {
    for (int k = 0; k <= i % 5; ++k) sketch.add(hashes[i]);
  }
  for (int i = 0; i < 40; ++i) EXPECT_GE(sketch.estimate(hashes[i]), static_cast<uint32_t>(i % 5 + 1)) << i;
  const uint32_t e4 = sketch.estimate(hashes[4]);
  EXPECT_EQ(sketch.add(hashes[4]), std::min<uint32_t>(e4 + 1, FrequencySketch::kMax));
  for (int k = 0; k < 40; ++k) sketch.add(hashes[0]);
  EXPECT_EQ(sketch.estimate(hashes[0]), FrequencySketch::kMax);  // saturates
  // 10 x width additions halve every counter.
  const uint32_t before = sketch.estimate(hashes[0]);
  for (int k = 0; k < 640; ++k) sketch.add(chain_hash(1, tokens_of(k)));
  EXPECT_LE(sketch.estimate(hashes[0]), before / 2 + 1);
}

// ---- TierCache ----------------------------------------------------------------

struct Recorder {
  std::vector<KvEvent> events;
  KvIndex index;
  KvEventSink sink() {
    return [this](const KvEvent& e) {
      events.push_back(e);
      index.apply(0, e);
    };
  }
};

TierCacheOptions tier_options(const fs::path& dir, int64_t host, int64_t disk, uint32_t admit) {
  TierCacheOptions o;
  o.worker = "w0";
  o.block_bytes = kBlockBytes;
  o.host_blocks = host;
  o.disk_blocks = disk;
  o.disk_dir = dir.string();
  o.fingerprint = "fp";
  o.disk_admit_uses = admit;
  return o;
}

Status fill_with(std::span<std::byte> slot, uint8_t seed) {
  const auto d = block_data(seed);
  std::copy(d.begin(), d.end(), slot.begin());
  return {};
}

TEST(TierCache, OffloadOnboardAndDiskAdmissionFilter) {
  TempDir dir;
  Recorder rec;
  auto opened = TierCache::open(tier_options(dir.path(), 2, 16, 2), rec.sink(), nullptr);
  ASSERT_TRUE(opened.ok()) << opened.status().message();
  TierCache& t = *opened.value();
  // Block 1 is used twice (offloaded, then touched by a device hit); 2 and 3 once.
  t.offload(1, 0, tokens_of(1), [](auto s) { return fill_with(s, 1); });
  t.touch(1);
  t.offload(2, 1, tokens_of(2), [](auto s) { return fill_with(s, 2); });
  t.offload(1, 0, tokens_of(1), [](auto) -> Status {
    ADD_FAILURE() << "a held block is not filled again";
    return {};
  });
  EXPECT_EQ(t.find(1, 0, tokens_of(1)), KvTier::kHost);
  // Two more blocks push 1 and 2 out of the 2-slot host tier: 1 (2 uses)
  // goes to disk, 2 (1 use) does not.
  t.offload(3, 2, tokens_of(3), [](auto s) { return fill_with(s, 3); });
  t.offload(4, 3, tokens_of(4), [](auto s) { return fill_with(s, 4); });
  t.flush();  // also waits for the disk writer
  EXPECT_EQ(t.find(1, 0, tokens_of(1)), KvTier::kDisk);
  EXPECT_EQ(t.find(2, 1, tokens_of(2)), std::nullopt);
  EXPECT_EQ(t.figures().disk_blocks, 1);
  EXPECT_EQ(rec.index.num_blocks(0, KvTier::kHost), 2u);
  EXPECT_EQ(rec.index.num_blocks(0, KvTier::kDisk), 1u);
  EXPECT_TRUE(rec.index.holds(0, 1));
  EXPECT_FALSE(rec.index.holds(0, 2));
  EXPECT_EQ(rec.index.seq_no_gaps(), 0u);

  // Onboarding a disk block goes through the host tier and hands the exact bytes over.
  std::vector<std::byte> got;
  KvTier from = KvTier::kDevice;
  ASSERT_TRUE(t.onboard(
      1, 0, tokens_of(1),
      [&](std::span<const std::byte> b) {
        got.assign(b.begin(), b.end());
        return Status();
      },
      &from));
  EXPECT_EQ(from, KvTier::kDisk);
  EXPECT_EQ(got, block_data(1));
  EXPECT_EQ(t.find(1, 0, tokens_of(1)), KvTier::kHost);
  ASSERT_TRUE(t.onboard(
      1, 0, tokens_of(1), [&](std::span<const std::byte>) { return Status(); }, &from));
  EXPECT_EQ(from, KvTier::kHost);
  EXPECT_FALSE(t.onboard(
      2, 1, tokens_of(2), [&](std::span<const std::byte>) { return Status(); }, &from));
  // A failed import is a failed onboard (the caller computes the block).
  EXPECT_FALSE(t.onboard(
      1, 0, tokens_of(1), [&](std::span<const std::byte>) { return Status(ErrorKind::kDevice, "boom"); }, &from));
  const TierFigures f = t.figures();
  EXPECT_EQ(f.offloaded_host, 4u);
  EXPECT_EQ(f.onboarded_disk, 1u);
  EXPECT_EQ(f.onboarded_host, 1u);
}

TEST(TierCache, AnnounceRepeatsEverythingHeldForANewSink) {
  TempDir dir;
  {
    Recorder first;
    auto t = TierCache::open(tier_options(dir.path(), 4, 16, 1), first.sink(), nullptr);
    ASSERT_TRUE(t.ok());
    for (int i = 1; i <= 3; ++i) t.value()->offload(i, i - 1, tokens_of(i), [i](auto s) { return fill_with(s, i); });
    t.value()->flush();  // admit 1: every host block goes to disk at shutdown
  }
  // A restart: the disk blocks are announced once a sink is connected.
  Recorder rec;
  auto t = TierCache::open(tier_options(dir.path(), 4, 16, 1), {}, nullptr);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t.value()->figures().disk_blocks, 3);
  KvEventSink sink = rec.sink();
  KvEventSink current;
  t.value()->set_sink([&](const KvEvent& e) {
    if (current) current(e);
  });
  t.value()->announce([&] { current = sink; });
  EXPECT_EQ(rec.index.num_blocks(0, KvTier::kDisk), 3u);
  for (const KvEvent& e : rec.events) {
    EXPECT_EQ(e.kind, KvEventKind::kStored);
    EXPECT_EQ(e.tier, KvTier::kDisk);
    EXPECT_EQ(e.worker, "w0");
    EXPECT_EQ(e.tokens, tokens_of(static_cast<int>(e.block_hash)));
  }
}

TEST(TierCache, DiskDirectoryThatCannotBeCreatedIsAnIoError) {
  TempDir dir;
  const fs::path file = dir.path() / "a-file";
  std::ofstream(file) << "x";
  auto t = TierCache::open(tier_options(file / "sub", 2, 4, 1), {}, nullptr);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().kind(), ErrorKind::kIo);
  EXPECT_NE(t.status().message().find((file / "sub").string()), std::string::npos);
}

}  // namespace
}  // namespace tandem::kv

#include "kv/disk_store.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <unordered_set>

#include "common/check.h"
#include "kv/crc32c.h"

namespace tandem::kv {
namespace {

namespace fs = std::filesystem;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool same_block(BlockHash parent, std::span<const int32_t> tokens, BlockHash want_parent,
                std::span<const int32_t> want_tokens) {
  return parent == want_parent && std::equal(tokens.begin(), tokens.end(), want_tokens.begin(), want_tokens.end());
}

// Writes all of `data` to `path` (created or truncated). Errors name the file.
Status write_file(const std::string& path, std::span<const std::byte> data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Status(ErrorKind::kIo, "cannot create " + path + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int err = errno;
      ::close(fd);
      return Status(ErrorKind::kIo, "cannot write " + path + ": " + std::strerror(err));
    }
    done += static_cast<size_t>(n);
  }
  if (::close(fd) != 0) return Status(ErrorKind::kIo, "cannot write " + path + ": " + std::strerror(errno));
  return {};
}

// Reads exactly out.size() bytes at offset 0; false when the file is missing or short.
bool read_file(const std::string& path, std::span<std::byte> out, bool* missing) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *missing = errno == ENOENT;
    return false;
  }
  size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  char extra;
  const bool longer = ::pread(fd, &extra, 1, static_cast<off_t>(out.size())) == 1;
  ::close(fd);
  *missing = false;
  return done == out.size() && !longer;
}

}  // namespace

std::string DiskStore::file_name(BlockHash hash) const {
  char name[32];
  std::snprintf(name, sizeof name, "%016llx.kv", static_cast<unsigned long long>(hash));
  return name;
}

Result<std::unique_ptr<DiskStore>> DiskStore::open(DiskStoreOptions options, EventFn on_event) {
  TANDEM_CHECK(!options.fingerprint.empty() && options.block_bytes >= 1 && options.capacity >= 1);
  std::error_code ec;
  fs::create_directories(options.dir, ec);
  if (ec) return Status(ErrorKind::kIo, "cannot create the disk KV directory " + options.dir + ": " + ec.message());
  if (::access(options.dir.c_str(), W_OK | X_OK) != 0) {
    return Status(ErrorKind::kIo, "the disk KV directory " + options.dir + " is not writable: " + std::strerror(errno));
  }
  auto index = DiskIndex::open((fs::path(options.dir) / "index.sqlite").string());
  if (!index.ok()) return index.status();
  std::unique_ptr<DiskStore> store(new DiskStore(std::move(options), std::move(on_event), std::move(index).value()));
  if (Status st = store->load(); !st.ok()) return st;
  store->thread_ = std::thread([p = store.get()] { p->writer(); });
  return store;
}

DiskStore::DiskStore(DiskStoreOptions options, EventFn on_event, std::unique_ptr<DiskIndex> index)
    : options_(std::move(options)), on_event_(std::move(on_event)), index_(std::move(index)) {}

DiskStore::~DiskStore() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status DiskStore::load() {
  const fs::path dir(options_.dir);
  auto other = index_->take_other_fingerprints(options_.fingerprint);
  if (!other.ok()) return other.status();
  for (const DiskRow& r : *other) {
    std::error_code ec;
    fs::remove(dir / r.file, ec);
    ++report_.reclaimed;
  }
  auto rows = index_->rows();
  if (!rows.ok()) return rows.status();
  std::unordered_set<std::string> files;
  for (const DiskRow& r : *rows) {
    std::error_code ec;
    const auto size = fs::file_size(dir / r.file, ec);
    const bool usable =
        !ec && r.offset == 0 && r.length == options_.block_bytes && size == r.length && r.file == file_name(r.hash);
    if (!usable) {
      if (Status st = index_->remove(r.hash); !st.ok()) return st;
      fs::remove(dir / r.file, ec);
      ++report_.dropped;
      continue;
    }
    files.insert(r.file);
    Entry e;
    e.parent = r.parent;
    e.tokens = r.tokens;
    e.checksum = r.checksum;
    e.lru_pos = lru_.insert(lru_.end(), r.hash);  // rows come oldest first
    map_.emplace(r.hash, std::move(e));
  }
  std::error_code ec;
  for (const auto& f : fs::directory_iterator(dir, ec)) {
    const std::string name = f.path().filename().string();
    if (f.path().extension() != ".kv" || files.count(name)) continue;
    std::error_code rm;
    fs::remove(f.path(), rm);
    ++report_.orphans;
  }
  while (static_cast<int64_t>(map_.size()) > options_.capacity) {
    drop_locked(lru_.front(), false);
    ++report_.dropped;
  }
  report_.kept = static_cast<int64_t>(map_.size());
  return {};
}

const DiskStore::Job* DiskStore::pending_locked(BlockHash hash) const {
  if (queued_.count(hash) == 0) return nullptr;
  if (writing_job_ != nullptr && writing_job_->hash == hash) return writing_job_;
  for (const Job& j : queue_) {
    if (j.hash == hash) return &j;
  }
  return nullptr;
}

bool DiskStore::find(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(hash);
  if (it != map_.end()) return same_block(it->second.parent, it->second.tokens, parent, tokens);
  const Job* j = pending_locked(hash);
  return j != nullptr && same_block(j->parent, j->tokens, parent, tokens);
}

bool DiskStore::contains(BlockHash hash) const {
  std::lock_guard<std::mutex> lock(mu_);
  return map_.count(hash) != 0 || queued_.count(hash) != 0;
}

bool DiskStore::put(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens, std::span<const std::byte> data,
                    uint32_t uses, bool wait) {
  TANDEM_CHECK(data.size() == options_.block_bytes);
  {
    std::unique_lock<std::mutex> lock(mu_);
    if (wait) idle_.wait(lock, [&] { return queue_.size() < options_.max_pending; });
    if (map_.count(hash) != 0 || queued_.count(hash) != 0) return false;
    if (queue_.size() >= options_.max_pending) {
      ++counters_.dropped_writes;
      return false;
    }
    Job j;
    j.hash = hash;
    j.parent = parent;
    j.tokens.assign(tokens.begin(), tokens.end());
    j.data.assign(data.begin(), data.end());
    j.uses = uses;
    queue_.push_back(std::move(j));
    ++queued_[hash];
  }
  wake_.notify_one();
  return true;
}

DiskRead DiskStore::read(BlockHash hash, BlockHash parent, std::span<const int32_t> tokens, std::span<std::byte> out) {
  TANDEM_CHECK(out.size() == options_.block_bytes);
  uint32_t checksum;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = map_.find(hash);
    if (it == map_.end()) {
      const Job* j = pending_locked(hash);
      if (j == nullptr || !same_block(j->parent, j->tokens, parent, tokens)) return DiskRead::kMissing;
      std::copy(j->data.begin(), j->data.end(), out.begin());
      return DiskRead::kOk;
    }
    if (!same_block(it->second.parent, it->second.tokens, parent, tokens)) return DiskRead::kMissing;
    checksum = it->second.checksum;
  }
  bool missing = false;
  const bool read_ok = read_file((fs::path(options_.dir) / file_name(hash)).string(), out, &missing);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(hash);
  if (it == map_.end()) return DiskRead::kMissing;  // evicted meanwhile
  if (!read_ok || crc32c(out) != checksum) {
    spdlog::warn("[kv] disk block {:016x} in {} is {}; dropped", hash, options_.dir,
                 missing ? "missing" : "corrupt (size or checksum)");
    drop_locked(hash);
    if (missing) return DiskRead::kMissing;
    ++counters_.corrupt;
    return DiskRead::kCorrupt;
  }
  lru_.splice(lru_.end(), lru_, it->second.lru_pos);
  if (Status st = index_->touch(hash, now_ms()); !st.ok()) spdlog::warn("[kv] {}", st.message());
  return DiskRead::kOk;
}

void DiskStore::drain() {
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [&] { return queue_.empty() && !writing_; });
}

int64_t DiskStore::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(map_.size());
}

DiskCounters DiskStore::counters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return counters_;
}

void DiskStore::for_each(const std::function<void(BlockHash, BlockHash, std::span<const int32_t>)>& fn,
                         const std::function<void()>& before) const {
  std::lock_guard<std::mutex> lock(mu_);
  if (before) before();
  for (BlockHash h : lru_) {
    const Entry& e = map_.at(h);
    fn(h, e.parent, e.tokens);
  }
}

void DiskStore::drop_locked(BlockHash hash, bool emit) {
  auto it = map_.find(hash);
  if (it == map_.end()) return;
  if (Status st = index_->remove(hash); !st.ok()) spdlog::warn("[kv] {}", st.message());
  std::error_code ec;
  fs::remove(fs::path(options_.dir) / file_name(hash), ec);
  const Entry e = std::move(it->second);
  lru_.erase(e.lru_pos);
  map_.erase(it);
  if (emit && on_event_) on_event_(KvEventKind::kEvicted, hash, e.parent, e.tokens);
}

void DiskStore::writer() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stop_ and nothing left
    Job job = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    writing_job_ = &job;
    lock.unlock();
    write_one(job);
    lock.lock();
    if (--queued_[job.hash] == 0) queued_.erase(job.hash);
    writing_ = false;
    writing_job_ = nullptr;
    idle_.notify_all();
  }
  idle_.notify_all();
}

void DiskStore::write_one(Job& job) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::string name = file_name(job.hash);
  const std::string path = (fs::path(options_.dir) / name).string();
  const uint32_t checksum = crc32c(job.data);
  // Data first; the row is committed only once the file is complete.
  Status st = write_file(path, job.data);
  std::lock_guard<std::mutex> lock(mu_);
  if (st.ok()) {
    while (static_cast<int64_t>(map_.size()) >= options_.capacity && !lru_.empty()) {
      drop_locked(lru_.front());
      ++counters_.evicted;
    }
    DiskRow row;
    row.hash = job.hash;
    row.parent = job.parent;
    row.tokens = job.tokens;
    row.file = name;
    row.length = job.data.size();
    row.checksum = checksum;
    row.fingerprint = options_.fingerprint;
    row.uses = job.uses;
    row.last_use_ms = now_ms();
    st = index_->put(row);
  }
  if (!st.ok()) {
    spdlog::warn("[kv] disk tier write dropped: {}", st.message());
    std::error_code ec;
    fs::remove(path, ec);
    ++counters_.dropped_writes;
    return;
  }
  Entry e;
  e.parent = job.parent;
  e.tokens = job.tokens;
  e.checksum = checksum;
  e.lru_pos = lru_.insert(lru_.end(), job.hash);
  auto [it, inserted] = map_.emplace(job.hash, std::move(e));
  TANDEM_CHECK(inserted);
  ++counters_.written_blocks;
  counters_.written_bytes += job.data.size();
  counters_.write_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (on_event_) on_event_(KvEventKind::kStored, job.hash, it->second.parent, it->second.tokens);
}

}  // namespace tandem::kv

#include "discovery/peer_directory.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

namespace tandem::discovery {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".json";

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

Status io_error(const std::string& what) { return Status(ErrorKind::kIo, what + ": " + std::strerror(errno)); }

// Reads a whole file of at most kMaxRecordBytes (more: kMalformedFile).
Result<std::string> read_small_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd < 0) return io_error("cannot open " + path);
  std::string text;
  Status failed;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    failed = io_error("cannot stat " + path);
  } else if (!S_ISREG(st.st_mode)) {
    failed = Status(ErrorKind::kMalformedFile, "not a regular file");
  } else if (static_cast<size_t>(st.st_size) > kMaxRecordBytes) {
    failed = Status(ErrorKind::kMalformedFile, "larger than " + std::to_string(kMaxRecordBytes) + " bytes");
  } else {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        failed = io_error("cannot read " + path);
        break;
      }
      if (n == 0) break;
      text.append(buf, static_cast<size_t>(n));
      if (text.size() > kMaxRecordBytes) {
        failed = Status(ErrorKind::kMalformedFile, "larger than " + std::to_string(kMaxRecordBytes) + " bytes");
        break;
      }
    }
  }
  ::close(fd);
  if (!failed.ok()) return failed;
  return text;
}

}  // namespace

PeerDirectory::PeerDirectory(std::string dir, std::string key_hash, std::string self_id)
    : dir_(std::move(dir)), key_hash_(std::move(key_hash)), self_id_(std::move(self_id)) {}

Status PeerDirectory::prepare() const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return Status(ErrorKind::kIo, "cannot create the directory " + dir_ + ": " + ec.message());
  if (!fs::is_directory(dir_, ec)) return Status(ErrorKind::kIo, dir_ + " is not a directory");
  return {};
}

Status PeerDirectory::write(const PeerRecord& record) const {
  const std::string final_path = dir_ + "/" + record.id + std::string(kSuffix);
  // A dot file: readers skip it, so a half-written record is never read.
  const std::string tmp_path = dir_ + "/." + record.id + ".json." + std::to_string(::getpid()) + ".tmp";
  const std::string text = encode_record(record);
  const int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return io_error("cannot create " + tmp_path);
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      Status st = io_error("cannot write " + tmp_path);
      ::close(fd);
      ::unlink(tmp_path.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  // fsync: on a shared mount the rename must not become visible before the data.
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Status st = io_error("cannot flush " + tmp_path);
    ::unlink(tmp_path.c_str());
    return st;
  }
  if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
    Status st = io_error("cannot rename " + tmp_path + " to " + final_path);
    ::unlink(tmp_path.c_str());
    return st;
  }
  return {};
}

void PeerDirectory::remove_own() const {
  const std::string path = dir_ + "/" + self_id_ + std::string(kSuffix);
  ::unlink(path.c_str());
}

ScanResult PeerDirectory::scan(int64_t now_ms) {
  ScanResult out;
  std::error_code ec;
  fs::directory_iterator it(dir_, ec);
  if (ec) {
    IgnoredFile f{".", Status(ErrorKind::kIo, "cannot list " + dir_ + ": " + ec.message())};
    out.ignored.push_back(f);
    if (ignored_before_.count(".") == 0) out.newly_ignored.push_back(f);
    ignored_before_["."] = Seen{ErrorKind::kIo};
    return out;
  }
  std::set<std::string> present;
  const std::string own_file = self_id_ + std::string(kSuffix);
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.empty() || name.front() == '.' || !ends_with(name, kSuffix) || name == own_file) continue;
    present.insert(name);
    Status reason;
    auto text = read_small_file(it->path().string());
    if (!text.ok()) {
      reason = text.status();
    } else {
      auto record = parse_record(*text, key_hash_);
      if (!record.ok()) {
        reason = record.status();
      } else if (record->id + std::string(kSuffix) != name) {
        reason = Status(ErrorKind::kMalformedFile, "holds the record of \"" + record->id + "\" (expected " +
                                                       name.substr(0, name.size() - kSuffix.size()) + ")");
      } else if (record->expired(now_ms)) {
        reason = Status(ErrorKind::kTimeout, "stale: written " + std::to_string((now_ms - record->updated_ms) / 1000) +
                                                 " s ago, ttl " + std::to_string(record->ttl_s) + " s");
      } else {
        out.peers.push_back(std::move(record).value());
        ignored_before_.erase(name);
        continue;
      }
    }
    IgnoredFile f{name, reason};
    out.ignored.push_back(f);
    const Seen now{reason.kind()};
    auto seen = ignored_before_.find(name);
    if (seen == ignored_before_.end() || seen->second.kind != now.kind) {
      out.newly_ignored.push_back(f);
    }
    ignored_before_[name] = now;
  }
  for (auto i = ignored_before_.begin(); i != ignored_before_.end();) {
    i = present.count(i->first) || i->first == "." ? std::next(i) : ignored_before_.erase(i);
  }
  if (!ec) ignored_before_.erase(".");
  std::sort(out.peers.begin(), out.peers.end(), [](const PeerRecord& a, const PeerRecord& b) { return a.id < b.id; });
  return out;
}

}  // namespace tandem::discovery

#include "kv/disk_index.h"

#include <sqlite3.h>

#include <cstring>

namespace tandem::kv {
namespace {

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr); }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
};

int64_t to_i64(uint64_t v) {
  int64_t out;
  std::memcpy(&out, &v, sizeof v);
  return out;
}
uint64_t to_u64(int64_t v) {
  uint64_t out;
  std::memcpy(&out, &v, sizeof v);
  return out;
}

constexpr const char* kColumns = "hash, parent, tokens, file, offset, length, checksum, fingerprint, uses, last_use";

DiskRow read_row(sqlite3_stmt* s) {
  DiskRow r;
  r.hash = to_u64(sqlite3_column_int64(s, 0));
  r.parent = to_u64(sqlite3_column_int64(s, 1));
  const int n = sqlite3_column_bytes(s, 2);
  const void* blob = sqlite3_column_blob(s, 2);
  r.tokens.resize(static_cast<size_t>(n) / sizeof(int32_t));
  if (blob != nullptr && !r.tokens.empty()) std::memcpy(r.tokens.data(), blob, r.tokens.size() * sizeof(int32_t));
  const unsigned char* file = sqlite3_column_text(s, 3);
  r.file = file ? reinterpret_cast<const char*>(file) : "";
  r.offset = static_cast<uint64_t>(sqlite3_column_int64(s, 4));
  r.length = static_cast<uint64_t>(sqlite3_column_int64(s, 5));
  r.checksum = static_cast<uint32_t>(sqlite3_column_int64(s, 6));
  const unsigned char* fp = sqlite3_column_text(s, 7);
  r.fingerprint = fp ? reinterpret_cast<const char*>(fp) : "";
  r.uses = static_cast<uint32_t>(sqlite3_column_int64(s, 8));
  r.last_use_ms = sqlite3_column_int64(s, 9);
  return r;
}

}  // namespace

Result<std::unique_ptr<DiskIndex>> DiskIndex::open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Status(ErrorKind::kIo, "cannot open the disk KV index " + path + ": " + msg);
  }
  std::unique_ptr<DiskIndex> index(new DiskIndex(db, path));
  sqlite3_busy_timeout(db, 5000);
  for (const char* sql : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL",
                          "CREATE TABLE IF NOT EXISTS blocks(hash INTEGER PRIMARY KEY, parent INTEGER NOT NULL, "
                          "tokens BLOB NOT NULL, file TEXT NOT NULL, offset INTEGER NOT NULL, length INTEGER NOT NULL, "
                          "checksum INTEGER NOT NULL, fingerprint TEXT NOT NULL, uses INTEGER NOT NULL, "
                          "last_use INTEGER NOT NULL)"}) {
    if (Status st = index->exec(sql); !st.ok()) return st;
  }
  // journal_mode answers with the mode it set; a file system without shared
  // memory (some network mounts) refuses WAL.
  Stmt mode(db, "PRAGMA journal_mode");
  if (!mode.ok() || sqlite3_step(mode.get()) != SQLITE_ROW ||
      std::strcmp(reinterpret_cast<const char*>(sqlite3_column_text(mode.get(), 0)), "wal") != 0) {
    return Status(ErrorKind::kIo, "the disk KV index " + path + " cannot use a WAL journal on this file system");
  }
  return index;
}

DiskIndex::~DiskIndex() { sqlite3_close(db_); }

Status DiskIndex::error(const char* what) const {
  return Status(ErrorKind::kIo, std::string("disk KV index ") + path_ + ": " + what + ": " + sqlite3_errmsg(db_));
}

Status DiskIndex::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Status(ErrorKind::kIo, "disk KV index " + path_ + ": " + sql + ": " + msg);
  }
  return {};
}

Status DiskIndex::put(const DiskRow& r) {
  Stmt s(db_,
         "INSERT OR REPLACE INTO blocks(hash, parent, tokens, file, offset, length, checksum, fingerprint, uses, "
         "last_use) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
  if (!s.ok()) return error("prepare insert");
  sqlite3_bind_int64(s.get(), 1, to_i64(r.hash));
  sqlite3_bind_int64(s.get(), 2, to_i64(r.parent));
  sqlite3_bind_blob(s.get(), 3, r.tokens.data(), static_cast<int>(r.tokens.size() * sizeof(int32_t)), SQLITE_TRANSIENT);
  sqlite3_bind_text(s.get(), 4, r.file.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s.get(), 5, static_cast<int64_t>(r.offset));
  sqlite3_bind_int64(s.get(), 6, static_cast<int64_t>(r.length));
  sqlite3_bind_int64(s.get(), 7, r.checksum);
  sqlite3_bind_text(s.get(), 8, r.fingerprint.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(s.get(), 9, r.uses);
  sqlite3_bind_int64(s.get(), 10, r.last_use_ms);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return error("insert");
  return {};
}

Status DiskIndex::remove(BlockHash hash) {
  Stmt s(db_, "DELETE FROM blocks WHERE hash = ?1");
  if (!s.ok()) return error("prepare delete");
  sqlite3_bind_int64(s.get(), 1, to_i64(hash));
  if (sqlite3_step(s.get()) != SQLITE_DONE) return error("delete");
  return {};
}

Status DiskIndex::touch(BlockHash hash, int64_t last_use_ms) {
  Stmt s(db_, "UPDATE blocks SET last_use = ?2, uses = uses + 1 WHERE hash = ?1");
  if (!s.ok()) return error("prepare update");
  sqlite3_bind_int64(s.get(), 1, to_i64(hash));
  sqlite3_bind_int64(s.get(), 2, last_use_ms);
  if (sqlite3_step(s.get()) != SQLITE_DONE) return error("update");
  return {};
}

Result<std::vector<DiskRow>> DiskIndex::rows() const {
  const std::string sql = std::string("SELECT ") + kColumns + " FROM blocks ORDER BY last_use, hash";
  Stmt s(db_, sql.c_str());
  if (!s.ok()) return error("prepare select");
  std::vector<DiskRow> out;
  int rc;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_row(s.get()));
  if (rc != SQLITE_DONE) return error("select");
  return out;
}

Result<std::vector<DiskRow>> DiskIndex::take_other_fingerprints(const std::string& fingerprint) {
  if (Status st = exec("BEGIN IMMEDIATE"); !st.ok()) return st;
  std::vector<DiskRow> out;
  {
    const std::string sql = std::string("SELECT ") + kColumns + " FROM blocks WHERE fingerprint <> ?1";
    Stmt s(db_, sql.c_str());
    if (!s.ok()) {
      exec("ROLLBACK");
      return error("prepare select");
    }
    sqlite3_bind_text(s.get(), 1, fingerprint.c_str(), -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_row(s.get()));
    if (rc != SQLITE_DONE) {
      exec("ROLLBACK");
      return error("select");
    }
  }
  {
    Stmt d(db_, "DELETE FROM blocks WHERE fingerprint <> ?1");
    if (!d.ok()) {
      exec("ROLLBACK");
      return error("prepare delete");
    }
    sqlite3_bind_text(d.get(), 1, fingerprint.c_str(), -1, SQLITE_TRANSIENT);
    if (sqlite3_step(d.get()) != SQLITE_DONE) {
      Status st = error("delete");
      exec("ROLLBACK");
      return st;
    }
  }
  if (Status st = exec("COMMIT"); !st.ok()) return st;
  return out;
}

}  // namespace tandem::kv

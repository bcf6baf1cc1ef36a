#include "core/sqlite_conn.h"

#include <sqlite3.h>

#include <algorithm>
#include <thread>

#include "core/error.h"

namespace walstream {

SqliteConnection::SqliteConnection(const std::string& path, int flags) : path_(path) {
  if (flags == 0) flags = SQLITE_OPEN_READWRITE;
  int rc = sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close_v2(db_);
    db_ = nullptr;
    throw Error("cannot open SQLite database " + path + ": " + msg);
  }
  sqlite3_extended_result_codes(db_, 1);
}

SqliteConnection::~SqliteConnection() {
  sqlite3_close_v2(db_);
}

void SqliteConnection::fail(std::string_view what, int rc) const {
  throw Error(std::string(what) + " on " + path_ + ": " + sqlite3_errmsg(db_) + " (" +
              sqlite3_errstr(rc) + ")");
}

void SqliteConnection::exec(std::string_view sql) {
  std::string s(sql);
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail("\"" + s + "\" failed", rc);
}

int64_t SqliteConnection::queryInt(std::string_view sql) {
  SqliteStatement st(*this, sql);
  return st.step() ? st.columnInt(0) : 0;
}

std::string SqliteConnection::queryText(std::string_view sql) {
  SqliteStatement st(*this, sql);
  return st.step() ? st.columnText(0) : std::string();
}

void SqliteConnection::setBusyTimeout(int ms) {
  sqlite3_busy_timeout(db_, ms);
}

void SqliteConnection::setPollingBusyTimeout(std::chrono::microseconds interval,
                                             std::chrono::milliseconds timeout) {
  busyPolling_ = {interval, timeout, {}};
  sqlite3_busy_handler(db_, &SqliteConnection::onBusy, &busyPolling_);
}

int SqliteConnection::onBusy(void* polling, int tries) {
  auto& p = *static_cast<BusyPolling*>(polling);
  const auto now = std::chrono::steady_clock::now();
  if (tries == 0) p.firstTry = now;
  if (now - p.firstTry >= p.timeout) return 0;  // give up: the statement reports SQLITE_BUSY
  // A writer committing back to back frees its lock for microseconds between transactions:
  // the first millisecond of tries only yields the CPU, later ones sleep.
  if (now - p.firstTry < std::chrono::milliseconds(1)) {
    std::this_thread::yield();
  } else {
    std::this_thread::sleep_for(p.interval);
  }
  return 1;
}

CheckpointResult SqliteConnection::checkpoint(int mode) {
  CheckpointResult r;
  int rc = sqlite3_wal_checkpoint_v2(db_, nullptr, mode, &r.walFrames, &r.checkpointed);
  if (rc == SQLITE_OK && r.walFrames < 0) {
    // SQLite 3.40 checkpoints only through a connection that has opened the WAL, which happens
    // on its first read; before that the call does nothing and still reports success.
    queryInt("SELECT count(*) FROM sqlite_master");
    rc = sqlite3_wal_checkpoint_v2(db_, nullptr, mode, &r.walFrames, &r.checkpointed);
    if (rc == SQLITE_OK && r.walFrames < 0) {
      throw Error("cannot checkpoint " + path_ + ": the database is not in WAL mode");
    }
  }
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) {
    r.busy = true;
  } else if (rc != SQLITE_OK) {
    fail("checkpoint failed", rc);
  }
  return r;
}

void SqliteConnection::setPersistWal(bool on) {
  int v = on ? 1 : 0;
  int rc = sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &v);
  if (rc != SQLITE_OK) fail("SQLITE_FCNTL_PERSIST_WAL failed", rc);
}

SqliteStatement::SqliteStatement(SqliteConnection& conn, std::string_view sql)
    : conn_(conn), sql_(sql) {
  int rc = sqlite3_prepare_v2(conn_.handle(), sql_.c_str(), static_cast<int>(sql_.size()), &stmt_,
                              nullptr);
  if (rc != SQLITE_OK) conn_.fail("cannot prepare \"" + sql_ + "\"", rc);
}

SqliteStatement::~SqliteStatement() {
  sqlite3_finalize(stmt_);
}

SqliteStatement& SqliteStatement::bind(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK) conn_.fail("bind failed for \"" + sql_ + "\"", rc);
  return *this;
}

SqliteStatement& SqliteStatement::bind(int i, std::string_view text) {
  int rc =
      sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) conn_.fail("bind failed for \"" + sql_ + "\"", rc);
  return *this;
}

SqliteStatement& SqliteStatement::bindBlob(int i, const void* data, size_t n) {
  int rc = sqlite3_bind_blob(stmt_, i, data, static_cast<int>(n), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) conn_.fail("bind failed for \"" + sql_ + "\"", rc);
  return *this;
}

bool SqliteStatement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  conn_.fail("\"" + sql_ + "\" failed", rc);
}

void SqliteStatement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

int SqliteStatement::columnCount() const {
  return sqlite3_column_count(stmt_);
}

int64_t SqliteStatement::columnInt(int i) const {
  return sqlite3_column_int64(stmt_, i);
}

std::string SqliteStatement::columnText(int i) const {
  const unsigned char* t = sqlite3_column_text(stmt_, i);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(stmt_, i))
           : std::string();
}

int SqliteStatement::columnType(int i) const {
  return sqlite3_column_type(stmt_, i);
}

uint32_t sqliteMaxPageCount() {
  SqliteConnection conn(":memory:", SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  const int64_t n = conn.queryInt("PRAGMA max_page_count");
  return static_cast<uint32_t>(std::clamp<int64_t>(n, 1, 0xfffffffe));
}

namespace {

// A file name as an SQLite URI path: '%', '?' and '#' would be read as URI syntax.
std::string uriPath(const std::string& path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : path) {
    if (c == '%' || c == '?' || c == '#') {
      out += '%';
      out += kHex[static_cast<unsigned char>(c) >> 4];
      out += kHex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string quickCheckImage(const std::string& path) {
  try {
    SqliteConnection conn("file:" + uriPath(path) + "?immutable=1",
                          SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    const std::string result = conn.queryText("PRAGMA quick_check(1)");
    return result == "ok" ? std::string() : result;
  } catch (const Error& e) {
    return e.what();
  }
}

}  // namespace walstream

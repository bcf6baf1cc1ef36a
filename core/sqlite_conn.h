// RAII wrappers for SQLite connections and prepared statements. Errors are thrown as
// walstream::Error carrying the database path, the statement and SQLite's message.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace walstream {

class SqliteConnection;

class SqliteStatement {
 public:
  SqliteStatement(SqliteConnection& conn, std::string_view sql);
  ~SqliteStatement();
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;

  SqliteStatement& bind(int i, int64_t v);
  SqliteStatement& bind(int i, std::string_view text);
  SqliteStatement& bindBlob(int i, const void* data, size_t n);
  bool step();  // true while a row is available; throws on error
  void reset();
  int columnCount() const;
  int64_t columnInt(int i) const;
  std::string columnText(int i) const;
  int columnType(
      int i) const;  // SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB, SQLITE_NULL

 private:
  SqliteConnection& conn_;
  sqlite3_stmt* stmt_ = nullptr;
  std::string sql_;
};

struct CheckpointResult {
  bool busy = false;     // SQLITE_BUSY: could not complete (readers or writers in the way)
  int walFrames = 0;     // frames in the WAL
  int checkpointed = 0;  // frames backfilled into the database
};

class SqliteConnection {
 public:
  // flags: SQLITE_OPEN_* (default read-write, no create).
  explicit SqliteConnection(const std::string& path, int flags = 0);
  ~SqliteConnection();
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  void exec(std::string_view sql);
  // Runs sql and returns the first column of the first row (0 when there is no row).
  int64_t queryInt(std::string_view sql);
  std::string queryText(std::string_view sql);
  void setBusyTimeout(int ms);
  // A busy handler that retries every `interval` until `timeout` has passed. SQLite's own
  // (sqlite3_busy_timeout) sleeps 1, 2, 5, 10... ms between tries, so against a writer that
  // commits back to back it almost never lands in the microseconds between two transactions;
  // polling does, and costs one failed fcntl per try.
  void setPollingBusyTimeout(std::chrono::microseconds interval, std::chrono::milliseconds timeout);
  // mode: SQLITE_CHECKPOINT_PASSIVE / FULL / RESTART / TRUNCATE.
  CheckpointResult checkpoint(int mode);
  // Keeps the -wal file on last close (SQLITE_FCNTL_PERSIST_WAL).
  void setPersistWal(bool on);

  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  [[noreturn]] void fail(std::string_view what, int rc) const;

 private:
  struct BusyPolling {
    std::chrono::microseconds interval{0};
    std::chrono::milliseconds timeout{0};
    std::chrono::steady_clock::time_point firstTry;
  };
  static int onBusy(void* polling, int tries);

  sqlite3* db_ = nullptr;
  std::string path_;
  BusyPolling busyPolling_;  // read by onBusy while a statement of this connection waits
};

// The most pages a database can have with the SQLite this process links: max_page_count of a
// new connection (SQLITE_MAX_PAGE_COUNT as compiled; 1073741823 up to SQLite 3.44).
uint32_t sqliteMaxPageCount();

// SQLite's check of a database image's structure (PRAGMA quick_check: b-tree pages, cell
// bounds, freelist, page counts; not index contents), for a file nothing else has open: it is
// opened immutable (no lock, no -wal or -shm created, nothing written). "" when the image
// passes, else what SQLite found (its first problem, or why it cannot read the file).
std::string quickCheckImage(const std::string& path);

}  // namespace walstream

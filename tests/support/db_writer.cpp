#include "tests/support/db_writer.h"

#include <sqlite3.h>

#include "core/sqlite_conn.h"

namespace walstream::test {

void createWriterTable(const std::string& path) {
  SqliteConnection c(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  c.setBusyTimeout(10000);
  c.exec("PRAGMA journal_mode=WAL");
  c.exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v BLOB)");
}

namespace {

void insertBatch(SqliteConnection& c, int rows, int payloadBytes) {
  c.exec("BEGIN IMMEDIATE");
  try {
    SqliteStatement st(c, "INSERT INTO t(v) VALUES(randomblob(?))");
    for (int i = 0; i < rows; ++i) {
      st.bind(1, int64_t{payloadBytes});
      st.step();
      st.reset();
    }
    c.exec("COMMIT");
  } catch (...) {
    c.exec("ROLLBACK");
    throw;
  }
}

}  // namespace

void insertRows(const std::string& path, int rows, int payloadBytes, int rowsPerTransaction) {
  SqliteConnection c(path);
  c.setBusyTimeout(10000);
  for (int done = 0; done < rows;) {
    const int n = std::min(rowsPerTransaction, rows - done);
    insertBatch(c, n, payloadBytes);
    done += n;
  }
}

DbWriter::DbWriter(std::string path, DbWriterOptions options)
    : thread_([this, path = std::move(path), options] { run(path, options); }) {}

DbWriter::~DbWriter() {
  stop();
  if (thread_.joinable()) thread_.join();
}

void DbWriter::stop() {
  stop_ = true;
}

std::string DbWriter::wait() {
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  return error_;
}

void DbWriter::run(std::string path, DbWriterOptions options) {
  const auto deadline = std::chrono::steady_clock::now() + options.maxDuration;
  try {
    SqliteConnection c(path);
    c.setBusyTimeout(10000);
    while (!stop_ && committed_ < options.rows) {
      if (std::chrono::steady_clock::now() >= deadline) {
        throw std::runtime_error("writer ran out of time after " +
                                 std::to_string(committed_.load()) + " rows");
      }
      const int n = std::min(options.rowsPerTransaction, options.rows - committed_.load());
      insertBatch(c, n, options.payloadBytes);
      committed_ += n;
      if (options.pauseBetweenTransactions.count() > 0) {
        // Pacing a workload, not waiting for a condition.
        std::this_thread::sleep_for(options.pauseBetweenTransactions);
      }
    }
  } catch (const std::exception& e) {
    std::lock_guard lock(mu_);
    error_ = e.what();
  }
}

}  // namespace walstream::test

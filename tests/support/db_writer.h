// Writes a real SQLite database in WAL mode from a thread, the way an application would: one
// connection, one row per INSERT, a bounded number of rows and a bounded time.
//
// Table: t(id INTEGER PRIMARY KEY, v BLOB), created by createWriterTable(); each row's v is
// `payloadBytes` random bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace walstream::test {

struct DbWriterOptions {
  int rows = 100;  // rows to insert in total
  int rowsPerTransaction = 1;
  int payloadBytes = 100;
  std::chrono::milliseconds pauseBetweenTransactions{0};
  std::chrono::milliseconds maxDuration{30000};  // the thread stops after this, rows or not
};

// Creates (if needed) `path` in WAL mode with table t.
void createWriterTable(const std::string& path);

// Inserts `rows` rows on the calling thread, `rowsPerTransaction` per transaction.
void insertRows(const std::string& path, int rows, int payloadBytes = 100,
                int rowsPerTransaction = 1);

class DbWriter {
 public:
  DbWriter(std::string path, DbWriterOptions options);  // starts writing at once
  ~DbWriter();                                          // stops and joins
  DbWriter(const DbWriter&) = delete;
  DbWriter& operator=(const DbWriter&) = delete;

  // Waits (bounded by the writer's maxDuration) until the thread is done; returns the error
  // that stopped it, or "" when it wrote every row.
  std::string wait();
  void stop();
  int committedRows() const { return committed_.load(); }

 private:
  void run(std::string path, DbWriterOptions options);

  std::atomic<bool> stop_{false};
  std::atomic<int> committed_{0};
  std::mutex mu_;
  std::string error_;
  std::thread thread_;
};

}  // namespace walstream::test

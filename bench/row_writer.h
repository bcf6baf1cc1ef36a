// The workload on the primary: ONE SQLite connection in WAL mode with
// synchronous=NORMAL, committing one transaction per row of
//   rows(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, payload BLOB NOT NULL)
// where payload is 100 random bytes and ts the wall-clock time in microseconds.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/sqlite_conn.h"

namespace walstream::bench {

// Creates the database (WAL mode) and the rows table. Throws if it exists.
void createRowsDatabase(const std::string& path);

struct WritePlan {
  int perSecond = 0;  // 0: as fast as possible
  std::chrono::milliseconds duration{0};
  int64_t maxRows = 0;  // stops at whichever of duration and maxRows comes first
  bool recordCommitTimes = false;
};

struct WriteRun {
  int64_t firstId = 0;  // id of the first row written (rows are numbered consecutively)
  int64_t rows = 0;
  double seconds = 0;  // from the first BEGIN to the last COMMIT returning
  // With recordCommitTimes: when COMMIT of row firstId + i returned, on the steady clock.
  std::vector<std::chrono::steady_clock::time_point> commitTimes;
  double rowsPerSecond() const { return seconds > 0 ? static_cast<double>(rows) / seconds : 0; }
};

class RowWriter {
 public:
  explicit RowWriter(const std::string& path);
  // Writes on the calling thread. A paced plan follows a fixed schedule (row i is due at
  // start + i/perSecond), so a stall is followed by rows written back to back, not skipped.
  // `afterEachCommit` runs on this thread right after each COMMIT returned and its time was
  // taken, before the next row: to read what the commit left behind (e.g. the WAL's end).
  WriteRun write(const WritePlan& plan, const std::function<void()>& afterEachCommit = {});

 private:
  SqliteConnection conn_;
  std::unique_ptr<SqliteStatement> insert_;
  std::mt19937_64 rng_{0x5eed};
};

}  // namespace walstream::bench

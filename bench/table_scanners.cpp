#include "bench/table_scanners.h"

#include <sqlite3.h>

#include <memory>

#include "core/error.h"
#include "core/sqlite_conn.h"

namespace walstream::bench {

TableScanners::TableScanners(const std::string& replicaDb, int readers,
                             std::chrono::milliseconds maxRun) {
  const auto deadline = std::chrono::steady_clock::now() + maxRun;
  for (int i = 0; i < readers; ++i) {
    threads_.emplace_back([this, replicaDb, deadline] { scan(replicaDb, deadline); });
  }
}

TableScanners::~TableScanners() {
  stop();
}

void TableScanners::stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void TableScanners::problem(const std::string& what) {
  ++errors_;
  std::lock_guard lock(mu_);
  if (firstError_.empty()) firstError_ = what;
}

std::string TableScanners::firstError() const {
  std::lock_guard lock(mu_);
  return firstError_;
}

void TableScanners::scan(const std::string& replicaDb,
                         std::chrono::steady_clock::time_point deadline) {
  std::unique_ptr<SqliteConnection> conn;
  std::unique_ptr<SqliteStatement> scan;
  try {
    conn = std::make_unique<SqliteConnection>(replicaDb, SQLITE_OPEN_READONLY);
    scan = std::make_unique<SqliteStatement>(
        *conn,
        "SELECT count(*), coalesce(min(id), 0), coalesce(max(id), 0), "
        "coalesce(sum(length(payload)), 0) FROM rows");
  } catch (const Error& e) {
    problem(e.what());
    return;
  }
  while (!stop_ && std::chrono::steady_clock::now() < deadline) {
    try {
      scan->step();
      const int64_t count = scan->columnInt(0), min = scan->columnInt(1), max = scan->columnInt(2),
                    bytes = scan->columnInt(3);
      scan->reset();
      if ((count > 0 && count != max - min + 1) || bytes != 100 * count) {
        problem("inconsistent scan: count=" + std::to_string(count) + " ids " +
                std::to_string(min) + ".." + std::to_string(max) +
                " payload bytes=" + std::to_string(bytes));
      }
      ++scans_;
      rowsScanned_ += static_cast<uint64_t>(count);
    } catch (const Error& e) {
      scan->reset();
      problem(e.what());
    }
  }
}

}  // namespace walstream::bench

#include "bench/row_visibility.h"

#include <sqlite3.h>

#include <thread>

#include "core/sqlite_conn.h"

namespace walstream::bench {

using namespace std::chrono_literals;

int64_t maxRowId(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryInt("SELECT coalesce(max(id), 0) FROM rows");
}

std::optional<double> secondsUntilRowVisible(const std::string& replicaDb, int64_t id,
                                             std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  SqliteConnection c(replicaDb, SQLITE_OPEN_READONLY);
  SqliteStatement maxId(c, "SELECT coalesce(max(id), 0) FROM rows");
  for (;;) {
    maxId.step();
    const int64_t seen = maxId.columnInt(0);
    maxId.reset();
    const auto now = std::chrono::steady_clock::now();
    if (seen >= id) return std::chrono::duration<double>(now - start).count();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(1ms);
  }
}

}  // namespace walstream::bench

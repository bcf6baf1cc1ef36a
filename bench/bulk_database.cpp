#include "bench/bulk_database.h"

#include <fcntl.h>
#include <sqlite3.h>

#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"

namespace walstream::bench {

uint64_t createBulkDatabase(const std::string& path, uint64_t bytes) {
  if (pathExists(path)) throw Error("cannot create " + path + ": it exists");
  {
    SqliteConnection c(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA page_size=4096");
    c.exec("PRAGMA journal_mode=OFF");
    c.exec("PRAGMA synchronous=OFF");
    c.exec("CREATE TABLE blobs(id INTEGER PRIMARY KEY, payload BLOB NOT NULL)");
    constexpr int kRowsPerBatch = 16'384;  // about 16 MiB
    // Bounded: each batch adds about 16 MiB, and the target is far below 2^20 batches.
    for (int batch = 0; batch < (1 << 20); ++batch) {
      const auto pages = static_cast<uint64_t>(c.queryInt("PRAGMA page_count"));
      if (pages * 4096 >= bytes) break;
      c.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < " +
             std::to_string(kRowsPerBatch) +
             ") INSERT INTO blobs(payload) SELECT randomblob(1000) FROM n");
    }
    if (c.queryText("PRAGMA journal_mode=WAL") != "wal") {
      throw Error("cannot put " + path + " in WAL mode");
    }
  }
  // No connection is open any more, so this descriptor cannot drop SQLite's locks.
  UniqueFd fd = openFile(path, O_RDONLY);
  fsyncFd(fd.get(), path);
  return fileSize(fd.get(), path);
}

bool sameBulkContent(const std::string& a, const std::string& b) {
  SqliteConnection ca(a, SQLITE_OPEN_READONLY), cb(b, SQLITE_OPEN_READONLY);
  const std::string sql = "SELECT count(*) * 1000000 + sum(length(payload)) FROM blobs";
  return ca.queryInt("PRAGMA page_count") == cb.queryInt("PRAGMA page_count") &&
         ca.queryInt(sql) == cb.queryInt(sql);
}

}  // namespace walstream::bench

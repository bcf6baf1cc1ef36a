// The VFS through SQLite's C API over a real backup: a read transaction keeps the position it
// began at while the poller publishes newer ones, and the next transaction sees the newest; SQLite
// drops its page cache when the position moved (page 1's change counter); writes fail.
#include <doctest/doctest.h>

#include <sqlite3.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/sqlite_conn.h"
#include "tests/support/backup_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"
#include "vfs/walstream_vfs.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// Waits (bounded) until a new transaction of `c` sees `want` rows in t.
bool waitForRows(SqliteConnection& c, int64_t want) {
  for (const auto until = std::chrono::steady_clock::now() + scaled(10s);
       std::chrono::steady_clock::now() < until;) {
    if (c.queryInt("SELECT count(*) FROM t") == want) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

}  // namespace

TEST_CASE("a read transaction keeps its position; the next one sees the newest") {
  TempDir dir;
  BackupFixture backup(dir);
  backup.insertRows(1, 101, 100);
  backup.snapshot();
  REQUIRE(walstream_vfs_register("walstream", 0) == SQLITE_OK);
  const std::string uri =
      "file:" + dir.file("vfs.db") + "?vfs=walstream&poll=20ms&backup=" + backup.url();
  SqliteConnection c(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  CHECK(c.queryInt("SELECT count(*) FROM t") == 100);
  CHECK(c.queryText("SELECT walstream_vfs_position()") == backup.position().str());

  SqliteConnection fresh(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  fresh.exec("BEGIN");
  // Reads page 1, the table's root and one leaf: the other leaves are read only after the
  // backup moved, and must still come from the position the transaction began at.
  CHECK(fresh.queryInt("SELECT id FROM t WHERE id = 1") == 1);
  backup.insertRows(101, 151, 100);
  REQUIRE(backup.backUpWal());
  std::this_thread::sleep_for(200ms);  // several polls: the source has the new view by now
  CHECK(fresh.queryInt("SELECT count(*) FROM t") == 100);
  CHECK(fresh.queryInt("SELECT max(id) FROM t") == 100);
  CHECK(fresh.queryText("SELECT walstream_vfs_position()") != backup.position().str());
  CHECK(fresh.queryText("PRAGMA integrity_check") == "ok");
  fresh.exec("COMMIT");

  CHECK(waitForRows(c, 150));
  CHECK(c.queryText("SELECT walstream_vfs_position()") == backup.position().str());
  CHECK(c.queryText("PRAGMA integrity_check") == "ok");
  // Rewritten pages, not only new ones: SQLite's cache of the old pages must go.
  backup.db().exec("UPDATE t SET b = x'00' WHERE id <= 10");
  REQUIRE(backup.backUpWal());
  for (const auto until = std::chrono::steady_clock::now() + scaled(10s);
       c.queryInt("SELECT count(*) FROM t WHERE b = x'00'") != 10 &&
       std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(10ms);
  }
  CHECK(c.queryInt("SELECT count(*) FROM t WHERE b = x'00'") == 10);

  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, nullptr) ==
          SQLITE_OK);
  CHECK(sqlite3_exec(db, "DELETE FROM t", nullptr, nullptr, nullptr) == SQLITE_READONLY);
  sqlite3_close(db);
}

TEST_CASE("an open without a backup fails, and a URI parameter that does not parse too") {
  REQUIRE(walstream_vfs_register("walstream", 0) == SQLITE_OK);
  TempDir dir;
  for (const std::string params : {"", "&backup=file:///nonexistent&cache-size=lots"}) {
    sqlite3* db = nullptr;
    const std::string uri = "file:" + dir.file("x.db") + "?vfs=walstream" + params;
    const int rc =
        sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, nullptr);
    CHECK(rc == SQLITE_CANTOPEN);
    sqlite3_close(db);
  }
}

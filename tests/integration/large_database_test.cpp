// A database that crosses 1 GiB while its pages beyond that are still only in the WAL. SQLite
// never stores the page that holds the 1 GiB offset (the pending-byte page, used for file
// locking), and until the next checkpoint the database file is shorter than the database: a
// snapshot must take the database's size from its header, serve the pending-byte page as
// zeros, and the later pages from the WAL.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int kZeroRows = 4;  // zero-filled rows, together just under 1 GiB

// What the test compares: full dumps of a gigabyte are too slow. Every row's length, and the
// last bytes of each row but the zero-filled ones.
std::string fingerprint(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  c.setBusyTimeout(5000);
  return c.queryText(
      "SELECT count(*) || '/' || group_concat(id || ':' || length(b) || ':' || "
      "CASE WHEN id <= " +
      std::to_string(kZeroRows) + " THEN '' ELSE hex(substr(b, -32)) END, ',') FROM big");
}

bool waitForSameFingerprint(const std::string& app, const std::string& rep,
                            std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  const std::string want = fingerprint(app);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (fingerprint(rep) == want) return true;
    } catch (const Error&) {
      // not there yet
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

}  // namespace

TEST_CASE("a database crossing 1 GiB before a checkpoint replicates, snapshots included") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  {
    // Built fast, without a journal, to just under 1 GiB; then in WAL mode.
    SqliteConnection c(app, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA page_size=4096");
    c.exec("PRAGMA journal_mode=OFF");
    c.exec("PRAGMA synchronous=OFF");
    c.exec("CREATE TABLE big(id INTEGER PRIMARY KEY, b BLOB)");
    for (int i = 0; i < kZeroRows; ++i) {  // SQLite's blobs stop short of 1 GB
      c.exec("INSERT INTO big(b) VALUES(zeroblob(" + std::to_string(kGiB / kZeroRows - 1048576) +
             "))");
    }
    c.exec("PRAGMA journal_mode=WAL");
  }
  // No checkpoint from here on: the application's connection does none, nor does capture.
  SqliteConnection writer(app);
  writer.setBusyTimeout(5000);
  writer.exec("PRAGMA wal_autocheckpoint=0");
  auto grow = [&](int rows) {
    for (int i = 0; i < rows; ++i) writer.exec("INSERT INTO big(b) VALUES(randomblob(1048576))");
  };
  PrimaryProcess primary(
      app, dir.file("primary"),
      {"--min-checkpoint-pages", "1000000", "--max-checkpoint-pages", "1000000"});
  ReplicaProcess before(primary.url(), dir.file("before.db"), dir.file("before"));
  REQUIRE(before.waitForSnapshots(1, 120s) == 1);

  grow(8);  // the database now ends past 1 GiB + 2 MiB; its file is still under 1 GiB
  CHECK(writer.queryInt("PRAGMA page_count") * 4096 > kGiB + 2 * 1048576);
  CHECK(std::filesystem::file_size(app) < static_cast<uint64_t>(kGiB));

  // A replica that was there follows the WAL across the pending-byte page; a new one gets a
  // snapshot taken now, mid-index, from the file and the WAL together.
  ReplicaProcess after(primary.url(), dir.file("after.db"), dir.file("after"));
  CHECK(waitForSameFingerprint(app, dir.file("before.db"), 120s));
  CHECK(waitForSameFingerprint(app, dir.file("after.db"), 120s));
  CHECK(after.waitForSnapshots(1, 10s) == 1);  // its log line comes a moment after
  // Served at the first attempt: the pending-byte page is neither in the file nor in the WAL.
  CHECK_MESSAGE(
      primary.process().stderrText().find("cannot read the snapshot") == std::string::npos,
      primary.process().stderrText());
  grow(2);
  CHECK(waitForSameFingerprint(app, dir.file("after.db"), 60s));
  for (const char* name : {"before.db", "after.db"}) {
    SqliteConnection check(dir.file(name), SQLITE_OPEN_READONLY);
    CHECK(check.queryText("PRAGMA quick_check") == "ok");
  }
}

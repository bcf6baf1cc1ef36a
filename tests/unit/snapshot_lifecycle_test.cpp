// A snapshot reader (core/snapshot.h) across the capture's lifecycle: capture closing while a
// snapshot is read, and a sync that fails while a snapshot waits for one. The test thread is the
// capture thread here, so every step happens exactly when the test says.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <future>

#include "core/database.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/db_writer.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// Runs syncs on the calling thread (the capture thread) until `f` is ready, bounded.
template <typename T>
T syncUntilReady(Database& db, std::future<T>& f) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (f.wait_for(1ms) != std::future_status::ready) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    try {
      db.sync();
    } catch (const Error&) {
      // a failing sync is what some tests want; the future tells the outcome
    }
  }
  return f.get();
}

}  // namespace

TEST_CASE("capture closing while a snapshot is read abandons the snapshot, never tears it") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createWriterTable(app);
  insertRows(app, 300, 3000, 10);
  Database db(app, CaptureOptions{});
  db.open();
  auto opening = std::async(std::launch::async, [&] { return db.openSnapshot(); });
  std::unique_ptr<SnapshotReader> snap = syncUntilReady(db, opening);
  const uint32_t page = snap->pageSize();
  std::string first = snap->read(page);
  CHECK(first.size() == page);

  // A capture error closes capture (Database::run); closing its descriptors on -shm would drop
  // the snapshot's read lock with them. The application can then truncate the WAL and write
  // new pages into the database file, so the snapshot must not go on reading it.
  db.close();
  // The application is another process: this one's SQLite would see the snapshot's lock in its
  // own bookkeeping even after the kernel dropped it.
  const RunResult truncated = runToCompletion(
      {"/usr/bin/sqlite3", app,
       "PRAGMA busy_timeout=2000; INSERT INTO t(v) SELECT randomblob(3000) FROM t LIMIT 200; "
       "PRAGMA wal_checkpoint(TRUNCATE);"},
      dir.file("sqlite3"));
  REQUIRE(truncated.exitCode == 0);
  CHECK(truncated.out.find("0|0|0") != std::string::npos);  // not busy: nothing reads the WAL
  CHECK_THROWS_WITH_AS(snap->read(1 << 20), doctest::Contains("abandoned"), Error);

  // Capture reopens as after an error; a new snapshot works.
  db.open();
  auto again = std::async(std::launch::async, [&] { return db.openSnapshot(); });
  std::unique_ptr<SnapshotReader> snap2 = syncUntilReady(db, again);
  std::string image;
  for (std::string chunk; !(chunk = snap2->read(1 << 20)).empty();) image += chunk;
  CHECK(image.size() == snap2->size());
}

TEST_CASE("a snapshot does not take its position from a sync that failed") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createWriterTable(app);
  insertRows(app, 50, 1000, 10);
  Database db(app, CaptureOptions{});
  db.open();
  db.sync();
  // Commits that the next sync copies, but cannot write into a file: a plain file stands where
  // the generations' directory was. A snapshot begun now has them in its read transaction.
  insertRows(app, 50, 1000, 10);
  const std::string generations = app + "-walstream/generations";
  REQUIRE(std::filesystem::exists(generations));
  std::filesystem::rename(generations, app + "-walstream/moved-away");
  writeFileAtomic(generations, "not a directory");
  auto opening = std::async(std::launch::async, [&] { return db.openSnapshot(); });
  // The snapshot's barrier must not be satisfied by the failing syncs: it fails instead of
  // returning a position behind its read transaction.
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  int failedSyncs = 0;
  while (opening.wait_for(1ms) != std::future_status::ready) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    try {
      db.sync();
    } catch (const Error&) {
      ++failedSyncs;
    }
  }
  CHECK(failedSyncs > 0);
  CHECK_THROWS_WITH_AS(opening.get(), doctest::Contains("did not complete a sync"), Error);
  db.close();
}

TEST_CASE("a snapshot with nothing of its WAL index yet is the header's page count long") {
  // SQLITE_FCNTL_CHUNK_SIZE makes the database file grow in whole chunks, so the file is longer
  // than the database: the image must end where the database does.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createWriterTable(app);
  {
    SqliteConnection c(app);
    int chunk = 1 << 20;
    REQUIRE(sqlite3_file_control(c.handle(), "main", SQLITE_FCNTL_CHUNK_SIZE, &chunk) == SQLITE_OK);
    c.exec("INSERT INTO t(v) VALUES(randomblob(50000))");
    REQUIRE_FALSE(c.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
    const auto pages = static_cast<uint64_t>(c.queryInt("PRAGMA page_count"));
    REQUIRE(std::filesystem::file_size(app) == uint64_t{1} << 20);
    REQUIRE(pages * 4096 < std::filesystem::file_size(app));
  }
  Database db(app, CaptureOptions{});
  db.open();  // the WAL is empty: position offset 0
  REQUIRE(db.position().offset == 0);
  auto opening = std::async(std::launch::async, [&] { return db.openSnapshot(); });
  std::unique_ptr<SnapshotReader> snap = syncUntilReady(db, opening);
  SqliteConnection c(app, SQLITE_OPEN_READONLY);
  CHECK(snap->size() == static_cast<uint64_t>(c.queryInt("PRAGMA page_count")) * snap->pageSize());
  std::string image;
  for (std::string chunk; !(chunk = snap->read(1 << 20)).empty();) image += chunk;
  const std::string copy = dir.file("image.db");
  writeFileAtomic(copy, image);
  SqliteConnection check(copy, SQLITE_OPEN_READONLY);
  CHECK(check.queryText("PRAGMA integrity_check") == "ok");
  CHECK(check.queryInt("SELECT count(*) FROM t") == 1);
  snap.reset();
  db.close();
}

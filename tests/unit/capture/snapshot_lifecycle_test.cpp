// Snapshot readers (server/capture/snapshot.h) and stream iterators across the capture's lifecycle:
// capture closing while a snapshot is read, a sync that fails while a snapshot waits for one,
// WAL restarts with retention while a snapshot or a stream still needs an index, and a caller
// that stops wanting a snapshot while it is being opened. The test thread is the capture thread
// here, so every step happens exactly when the test says.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <future>

#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "server/capture/database.h"
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

namespace {

// Commits and syncs until capture's position is past WAL index `index` (each hand-off lets the
// next commit restart the WAL), bounded.
void restartPast(Database& db, const std::string& app, uint64_t index) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (db.position().index <= index) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    insertRows(app, 5, 1000, 1);
    db.sync();
  }
}

CaptureOptions restartingOften() {
  CaptureOptions options;
  options.minCheckpointPages = 5;  // a hand-off, and so a WAL restart, every few syncs
  options.shadowRetention = 1;     // only the current index would be kept
  return options;
}

}  // namespace

// A captured database whose WAL restarts every few syncs, with a first index that holds rows.
struct RestartingDatabase {
  RestartingDatabase() : app(dir.file("app.db")) {
    createWriterTable(app);
    db = std::make_unique<Database>(app, restartingOften());
    db->open();
    insertRows(app, 20, 1000, 1);
    db->sync();
    start = db->position();
    REQUIRE(start.offset > 0);
  }
  TempDir dir;
  const std::string app;
  std::unique_ptr<Database> db;
  Pos start;
};

TEST_CASE("retention keeps the WAL index a stream has yet to send") {
  RestartingDatabase fixture;
  Database& db = *fixture.db;
  const std::string& app = fixture.app;
  const Pos start = fixture.start;
  // A stream that has not sent anything yet.
  std::shared_ptr<SegmentIterator> stream = db.openIterator(Pos{start.generation, start.index, 0});
  restartPast(db, app, start.index + 3);
  ShadowWal shadow(app + "-walstream");
  CHECK_FALSE(shadow.listSegments(start.generation, start.index).empty());
  auto first = stream->next();
  REQUIRE(first);
  CHECK(first->pos == Pos{start.generation, start.index, 0});
  CHECK_NOTHROW(shadow.readSegmentRun(std::span<const SegmentInfo>(&*first, 1)));
  // Once it has sent past the index, the index goes at the next restart.
  stream->consumed(db.position());
  restartPast(db, app, db.position().index + 1);
  CHECK(shadow.listSegments(start.generation, start.index).empty());
  stream->close();
  db.close();
}

TEST_CASE("a retention hold keeps its WAL index without an iterator, until it advances") {
  RestartingDatabase fixture;
  Database& db = *fixture.db;
  const std::string& app = fixture.app;
  const Pos start = fixture.start;
  // A consumer that fell behind (a backup whose store is down) holds its place.
  std::shared_ptr<Database::RetentionHold> hold = db.holdRetention(start);
  restartPast(db, app, start.index + 3);
  ShadowWal shadow(app + "-walstream");
  CHECK_FALSE(shadow.listSegments(start.generation, start.index).empty());
  // It can open an iterator at its place again, later.
  std::shared_ptr<SegmentIterator> again = db.openIterator(Pos{start.generation, start.index, 0});
  auto first = again->next();
  REQUIRE(first);
  CHECK(first->pos == Pos{start.generation, start.index, 0});
  again->close();
  // A hold never moves back, and once advanced past the index, the index goes at the next
  // restart.
  hold->advance(db.position());
  hold->advance(start);
  CHECK(hold->index() == db.position().index);
  restartPast(db, app, db.position().index + 1);
  CHECK(shadow.listSegments(start.generation, start.index).empty());
  db.close();
}

TEST_CASE("retention keeps the WAL index of a snapshot that does not hold back restarts") {
  // A snapshot begun while every frame is backfilled reads the database file alone (read mark
  // 0), which does not stop a WAL restart: the WAL moves on to the next index while it is sent,
  // and the stream continues after it from its index, which must still be there.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createWriterTable(app);
  Database db(app, restartingOften());
  db.open();
  // Sync until a hand-off left every frame backfilled and capture's pin on read mark 0: the
  // application's TRUNCATE checkpoint then succeeds.
  SqliteConnection appConn(app);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    insertRows(app, 3, 1000, 1);
    db.sync();
    if (db.position().index > 0 && !appConn.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy) break;
  }
  auto opening = std::async(std::launch::async, [&] { return db.openSnapshot(); });
  std::unique_ptr<SnapshotReader> snap = syncUntilReady(db, opening);
  const Pos x = snap->position();
  // One restart (the reader on read mark 0 then holds back any backfill, so no second one) is
  // enough for retention 1 to remove x's index.
  restartPast(db, app, x.index);
  ShadowWal shadow(app + "-walstream");
  CHECK_FALSE(shadow.listSegments(x.generation, x.index).empty());
  std::string image;
  for (std::string chunk; !(chunk = snap->read(1 << 20)).empty();) image += chunk;
  CHECK(image.size() == snap->size());
  snap.reset();
  restartPast(db, app, db.position().index + 1);
  CHECK(shadow.listSegments(x.generation, x.index).empty());
  db.close();
}

TEST_CASE("a snapshot its caller stops wanting is abandoned mid-overlay and holds nothing after") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createWriterTable(app);
  Database db(app, CaptureOptions{});
  db.open();
  // Several segments in the current index, so that the overlay has steps to stop between.
  for (int i = 0; i < 5; ++i) {
    insertRows(app, 20, 3000, 10);
    db.sync();
  }
  // Wanted before the read transaction and after the barrier; no longer at the first segment.
  std::atomic<int> asked{0};
  auto wanted = [&] { return ++asked < 3; };
  auto opening = std::async(std::launch::async, [&] { return db.openSnapshot(0ms, wanted); });
  CHECK_THROWS_AS(syncUntilReady(db, opening), SnapshotAbandoned);
  CHECK(asked.load() == 3);
  // Its read transaction went with it: no snapshot counts as open.
  CHECK(db.metrics().snapshotsOpen.load() == 0);

  // Sharing: an abandoned opening leaves nothing to share; the next caller opens its own.
  asked = 0;
  auto shared = std::async(std::launch::async, [&] { return db.openSnapshot(60s, wanted); });
  CHECK_THROWS_AS(syncUntilReady(db, shared), SnapshotAbandoned);
  auto next = std::async(std::launch::async, [&] { return db.openSnapshot(60s); });
  std::unique_ptr<SnapshotReader> snap = syncUntilReady(db, next);
  std::string image;
  for (std::string chunk; !(chunk = snap->read(1 << 20)).empty();) image += chunk;
  CHECK(image.size() == snap->size());
  CHECK(db.metrics().snapshotsOpen.load() == 1);
}

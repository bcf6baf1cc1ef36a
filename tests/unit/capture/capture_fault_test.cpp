// Capture (server/capture/database.h) when a write, sync or rename of its own files fails, through
// the file-system seam (core/file_system.h) and tests/support/faulty_file_system.h.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "core/wal_format.h"
#include "server/capture/database.h"
#include "tests/support/capture_thread.h"
#include "tests/support/faulty_file_system.h"
#include "tests/support/process.h"
#include "tests/support/shadow_replay.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// The application's database with an empty WAL, and a copy of its file (returned) that a
// generation's segments are replayed onto.
std::string createAppAndBase(const TempDir& dir, const std::string& app) {
  {
    SqliteConnection c(app, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA page_size=4096");
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, n INTEGER)");
    c.exec("CREATE TABLE counter(k INTEGER PRIMARY KEY, n INTEGER)");
    c.exec("INSERT INTO counter VALUES(1, 0)");
    c.checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
  }
  const std::string base = dir.file("base.db");
  std::filesystem::copy_file(app, base);
  return base;
}

// The application: one connection that commits transactions, each adding one to a counter. It
// runs no checkpoint of its own (autocheckpoint off), so only capture's hand-offs restart the
// WAL while capture runs, and nothing does while it is closed.
class App {
 public:
  explicit App(const std::string& path) : path_(path), conn_(path) {
    conn_.setBusyTimeout(5000);
    conn_.exec("PRAGMA wal_autocheckpoint=0");
  }

  SqliteConnection& connection() { return conn_; }
  int committed() const { return committed_; }

  void commit(int rows) {
    conn_.exec("BEGIN IMMEDIATE");
    for (int r = 0; r < rows; ++r) {
      conn_.exec("INSERT INTO t(v, n) VALUES(randomblob(3000), " + std::to_string(committed_) +
                 ")");
    }
    conn_.exec("UPDATE counter SET n = n + 1 WHERE k = 1");
    conn_.exec("COMMIT");
    ++committed_;
  }

  // The salts of the WAL file's header (0 when it has none): they change when the WAL
  // restarts. SQLite takes no lock on the -wal, so reading it here drops none.
  uint64_t walSalts() const {
    UniqueFd fd = openFileIfExists(path_ + "-wal", O_RDONLY);
    if (!fd.valid()) return 0;
    uint8_t h[kWalHeaderSize];
    if (preadFull(fd.get(), h, sizeof h, 0, path_) != sizeof h) return 0;
    return loadBE64(h + 16);
  }

 private:
  std::string path_;
  SqliteConnection conn_;
  int committed_ = 0;
};

CaptureOptions optionsWith(FaultyFileSystem& fs) {
  CaptureOptions o = smallCaptureThresholds();
  o.fileSystem = &fs;
  return o;
}

// Commits small transactions until capture has seen the WAL restart, and written the new
// index's first segment.
void startNewIndex(CaptureThread& cap, App& application) {
  const uint64_t restarts = cap.db.metrics().walRestarts.load();
  for (int i = 0; i < 500 && cap.db.metrics().walRestarts.load() == restarts; ++i) {
    application.commit(1);
    cap.caughtUp();
  }
  REQUIRE(cap.db.metrics().walRestarts.load() > restarts);
}

int counterOf(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return static_cast<int>(c.queryInt("SELECT n FROM counter"));
}

// Replays the generation onto a copy of `base` named `name`; the replayed database must be one
// the application had: sound, with a counter of at most `committed`. Returns its counter.
int replayCopy(const TempDir& dir, const std::string& app, const std::string& base,
               uint64_t generation, const std::string& name) {
  const std::string copy = dir.file(name);
  std::filesystem::copy_file(base, copy);
  replayGeneration(app + "-walstream", generation, copy);
  SqliteConnection check(copy, SQLITE_OPEN_READONLY);
  CHECK(check.queryText("PRAGMA integrity_check") == "ok");
  return counterOf(copy);
}

// Every file in the shadow WAL's index directories is a segment file (no partial .tmp) and, unless
// segment files were retired into the pool (a generation was removed), every spare file is
// empty: a partial write left nothing behind.
void checkNoPartialFiles(const std::string& root, bool retired = false) {
  for (const auto& e : std::filesystem::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const std::string path = e.path().string();
    if (path.find("/spare/") != std::string::npos) {
      if (!retired) CHECK_MESSAGE(e.file_size() == 0, path);
    } else if (path.find("/wal/") != std::string::npos) {
      CHECK_MESSAGE(path.ends_with(".wal.lz4"), path);
    }
  }
}

}  // namespace

TEST_CASE(
    "a failed write, sync or rename of a segment file is reported, retried, and loses "
    "nothing; after a failed sync, in a new generation") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  const std::string base = createAppAndBase(dir, app);
  const std::string root = app + "-walstream";
  FaultyFileSystem fs;
  // From its first matching call on, every matching call fails until the fault is cleared:
  // capture fails, closes, reopens and fails again, as on a bad or full disk.
  Fault fault;
  fault.sticky = true;
  SUBCASE("a short write in the middle of a segment file, then a full disk") {
    fault.op = FsOp::kWrite;
    fault.pathContains = "/spare/";  // segment files are written into pooled files
    fault.error = ENOSPC;
    fault.shortWriteBytes = 100;
  }
  SUBCASE("a failed fdatasync or syncfs of segment files") {
    fault.op = FsOp::kSync;
    fault.pathContains = root;
  }
  SUBCASE("a failed rename of a segment file into place") {
    fault.op = FsOp::kRename;
    fault.pathContains = ".wal.lz4";
  }
  SUBCASE("a failed fsync of an index directory") {
    fault.op = FsOp::kSyncDir;
    fault.pathContains = "/wal/";
  }
  // A failed sync may have dropped what it was to write, and no later sync brings it back
  // (faulty_file_system.h): the generation is abandoned. The new one starts from the database
  // file as the failures left it (nothing checkpoints meanwhile) and the WAL.
  const bool syncFault = fault.op == FsOp::kSync || fault.op == FsOp::kSyncDir;
  const std::string baseAfterFault = dir.file("base-after-fault.db");
  App application(app);
  uint64_t generation = 0;
  {
    CaptureThread cap(app, optionsWith(fs));
    generation = cap.caughtUp().generation;
    for (int i = 0; i < 30; ++i) application.commit(i % 10 == 0 ? 20 : 1);
    cap.caughtUp();
    // The fault is armed in the middle of a WAL index: right after a restart, while the WAL
    // holds too few frames for a checkpoint, so the next segment files continue that index.
    // (A failure that leaves an index without its first segment makes the reopen start a new
    // generation, docs/capture.md §6: tested below.)
    startNewIndex(cap, application);
    fs.addFault(fault);
    // The application is not held up by capture's failures.
    for (int i = 0; i < 30; ++i) application.commit(i % 10 == 0 ? 20 : 1);
    // The first failure, the close that follows it, and at least one reopen that fails again.
    REQUIRE_MESSAGE(fs.waitForInjected(3, scaled(30s)), "faults injected: " << fs.injected());
    CHECK_FALSE(cap.db.healthy());
    CHECK_MESSAGE(cap.db.healthReason().find(std::strerror(fault.error)) != std::string::npos,
                  cap.db.healthReason());
    // Meanwhile nothing is half-visible: the shadow WAL replays, whole, to a state the
    // application had.
    CHECK(replayCopy(dir, app, base, generation, "during.db") <= application.committed());
    // Another process copies the database file: a descriptor opened and closed here would drop
    // this process's SQLite locks on it (docs/sqlite-wal.md §4.5).
    REQUIRE(runToCompletion({"/bin/cp", app, baseAfterFault}, dir.file("cp")).exitCode == 0);

    fs.clearFaults();
    for (int i = 0; i < 10; ++i) application.commit(1);
    const Pos end = cap.caughtUp();
    CHECK(cap.db.healthy());
    if (syncFault) {
      CHECK(end.generation != generation);
      generation = end.generation;
    } else {
      // The WAL still held every frame: the generation continues, and no replica would need a
      // snapshot.
      CHECK(end.generation == generation);
    }
  }
  if (fault.op == FsOp::kWrite) {
    const std::vector<FsCall> calls = fs.injectedCalls();
    REQUIRE_FALSE(calls.empty());
    CHECK(calls.front().bytes > fault.shortWriteBytes);  // it was cut short, not just refused
  }
  checkNoPartialFiles(root, /*retired=*/syncFault);
  CHECK(replayCopy(dir, app, syncFault ? baseAfterFault : base, generation, "after.db") ==
        application.committed());
  CHECK(dumpDatabase(dir.file("after.db")) == dumpDatabase(app));
}

TEST_CASE("every segment file, and every directory above it, is durable before the WAL restarts") {
  // No fault: the file system's model of durability alone (faulty_file_system.h). When a commit
  // of the application restarts the WAL, capture must already have made every frame it copied
  // durable (docs/capture.md §4), and reachable after a power failure: data, names, and the
  // names of the directories above them, the generation's included.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppAndBase(dir, app);
  const std::string root = app + "-walstream";
  FaultyFileSystem fs;
  App application(app);
  Database db(app, optionsWith(fs));
  db.open();  // this thread is capture's thread
  int restarts = 0;
  for (int i = 0; i < 2000 && restarts < 3; ++i) {
    const uint64_t salts = application.walSalts();
    application.commit(i % 7 == 0 ? 10 : 1);
    if (salts != 0 && application.walSalts() != salts) {
      ++restarts;
      const std::vector<std::string> lost = fs.notDurable(root + "/generation", root);
      std::string names;
      for (const std::string& l : lost) names += "\n  " + l;
      CHECK_MESSAGE(lost.empty(), "restart " << restarts << ", not durable:" << names);
    }
    db.sync();
  }
  CHECK(restarts >= 3);
  db.close();
}

TEST_CASE(
    "a checkpoint job whose fsync failed abandons its generation; the next one loses nothing") {
  // The checkpoint worker makes a job's segments durable, then moves the pin. When its fsync
  // fails, the pin stays and the failure goes back to capture (CheckpointWorker::rethrowFailure),
  // which fails and closes. Syncing those files again proves nothing (faulty_file_system.h), so
  // the generation is not resumed, even though the WAL was not restarted meanwhile: capture
  // reopens in a new generation, from the database file and the WAL.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppAndBase(dir, app);
  const std::string root = app + "-walstream";
  FaultyFileSystem fs;
  CaptureOptions options = optionsWith(fs);
  options.minCheckpointPages = 1;  // every sync that copied something starts a worker job
  App application(app);
  Database db(app, options);
  db.open();  // this thread is capture's thread
  const uint64_t generation = db.position().generation;
  // The first sync of the shadow WAL that does not run on this thread: the worker's.
  Fault fault;
  fault.op = FsOp::kSync;
  fault.pathContains = root;
  const std::thread::id captureThread = std::this_thread::get_id();
  fault.when = [captureThread](const FsCall& c) { return c.thread != captureThread; };
  fs.addFault(fault);
  for (int i = 0; i < 5; ++i) application.commit(i == 0 ? 20 : 1);
  db.sync();  // writes the segment files and hands them to a worker job
  REQUIRE(fs.waitForInjected(1, scaled(10s)));
  // What the job was to make durable is not.
  CHECK_FALSE(fs.notDurable(".wal.lz4", root).empty());

  SUBCASE("the next checkpoint collects the failure, and the sync fails") {
    application.commit(1);
    bool failed = false;
    const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
    // Until the job has recorded its failure (a sync meanwhile finds the worker busy).
    for (int i = 0; i < 100'000 && !failed && std::chrono::steady_clock::now() < deadline; ++i) {
      try {
        db.sync();
      } catch (const ShadowSyncError& e) {
        failed = true;
        CHECK(std::string(e.what()).find(std::strerror(EIO)) != std::string::npos);
      }
    }
    REQUIRE(failed);
  }
  SUBCASE("closing collects it") {}

  db.close();  // as Database::run does after a failure
  // Another process copies the database file (see replayCopy): the new generation's base.
  const std::string base = dir.file("base-at-reopen.db");
  REQUIRE(runToCompletion({"/bin/cp", app, base}, dir.file("cp")).exitCode == 0);
  // The WAL's salts are those the generation ends with, but it is not resumed.
  db.open();
  const uint64_t next = db.position().generation;
  CHECK(next != generation);
  for (int i = 0; i < 5; ++i) application.commit(1);
  db.sync();
  db.close();
  CHECK(replayCopy(dir, app, base, next, "replayed.db") == application.committed());
  CHECK(dumpDatabase(dir.file("replayed.db")) == dumpDatabase(app));
}

TEST_CASE("a new index left without its first segment costs a new generation, and loses nothing") {
  // A proven WAL restart begins index I + 1. If its first segment file cannot be written, the
  // shadow WAL ends with an index that has no start, and on reopen nothing proves that the WAL's
  // new salts continue index I: a new generation begins (docs/capture.md §6), from the WAL as it
  // is. Its base is the database file as the restart left it: nothing checkpoints while capture
  // fails (the application runs no checkpoint of its own).
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppAndBase(dir, app);
  const std::string root = app + "-walstream";
  FaultyFileSystem fs;
  Fault fault;
  fault.op = FsOp::kRename;
  fault.pathContains = "/0000000000000000.wal.lz4";  // the first segment file of an index
  fault.sticky = true;
  App application(app);
  uint64_t generation = 0;
  const std::string base = dir.file("base-at-restart.db");
  {
    CaptureThread cap(app, optionsWith(fs));
    generation = cap.caughtUp().generation;
    application.commit(1);  // index 0 begins
    cap.caughtUp();
    fs.addFault(fault);
    // Until a WAL restart begins the next index (a sync that fails reports no position).
    for (int i = 0; i < 2000 && fs.injected() == 0; ++i) {
      application.commit(1);
      (void)cap.db.syncBarrier(scaled(2s));
    }
    // Failed, closed, and failed again to start a new generation.
    REQUIRE(fs.waitForInjected(3, scaled(30s)));
    CHECK_FALSE(cap.db.healthy());
    // Another process copies the database file: a descriptor opened and closed here would drop
    // this process's SQLite locks on it (docs/sqlite-wal.md §4.5).
    REQUIRE(runToCompletion({"/bin/cp", app, base}, dir.file("cp")).exitCode == 0);
    fs.clearFaults();
    for (int i = 0; i < 20; ++i) application.commit(i % 5 == 0 ? 10 : 1);
    const Pos end = cap.caughtUp();
    CHECK(cap.db.healthy());
    CHECK(end.generation != generation);
    generation = end.generation;
  }
  CHECK(ShadowWal(root).listGenerations() == std::vector<uint64_t>{generation});
  checkNoPartialFiles(root, /*retired=*/true);
  std::filesystem::rename(base, dir.file("base.db"));
  CHECK(replayCopy(dir, app, dir.file("base.db"), generation, "after.db") ==
        application.committed());
  CHECK(dumpDatabase(dir.file("after.db")) == dumpDatabase(app));
}

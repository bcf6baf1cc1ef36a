// A replica whose only state is a snapshot taken in the middle of a WAL index, against a primary
// that lost its last transactions (a power failure: synchronous=NORMAL does not sync commits)
// and then wrote others of the same sizes, reaching the very same position with other content.
// The snapshot carried the WAL chain at its position, so the replica's resume is checked and it
// gets a new snapshot instead of resuming onto a history that is not its own.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>

#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/process.h"
#include "tests/support/process_stop.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Transactions of one frame each (the same page, same size), with `tag` in the data.
void updateRow(const std::string& db, int count, const std::string& tag) {
  SqliteConnection c(db);
  c.setBusyTimeout(5000);
  c.exec("PRAGMA wal_autocheckpoint=0");
  for (int i = 0; i < count; ++i) {
    c.exec("UPDATE t SET v = '" + tag + "-" + std::to_string(1000 + i) + "' WHERE id = 1");
  }
}

// Files are copied by a child process: a descriptor opened and closed in this one would drop
// the POSIX locks of the connection that keeps the database open (core/file_util.h).
void copyFile(const std::string& from, const std::string& to, const std::string& logPrefix) {
  const RunResult r = runToCompletion({"/bin/cp", "--", from, to}, logPrefix);
  REQUIRE_MESSAGE(r.exitCode == 0, r.err);
}

void copyState(const std::string& db, const std::string& to, const std::string& logPrefix) {
  fs::create_directories(to);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    copyFile(db + suffix, to + "/db" + suffix, logPrefix);
  }
  fs::copy(db + "-walstream", to + "/shadow", fs::copy_options::recursive);
}

// Back to the saved files, rewritten in place (same inodes, as after a power failure).
void restoreState(const std::string& from, const std::string& db, const std::string& logPrefix) {
  for (const char* suffix : {"", "-wal", "-shm"}) {
    copyFile(from + "/db" + suffix, db + suffix, logPrefix);
  }
  fs::remove_all(db + "-walstream");
  fs::copy(from + "/shadow", db + "-walstream", fs::copy_options::recursive);
}

}  // namespace

TEST_CASE("a replica that has only a mid-index snapshot does not resume onto another history") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  {
    SqliteConnection c(app, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("PRAGMA wal_autocheckpoint=0");
    c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
    c.exec("INSERT INTO t VALUES(1, 'start')");
    // This connection stays open below while walstream is stopped, so that the WAL is neither
    // checkpointed nor deleted: the primary resumes its generation each time.
  }
  SqliteConnection keeper(app);
  keeper.exec("PRAGMA wal_autocheckpoint=0");
  keeper.queryInt("SELECT count(*) FROM t");

  {
    PrimaryProcess primary(
        app, dir.file("primary-1"),
        {"--min-checkpoint-pages", "100000", "--max-checkpoint-pages", "100000"});
    updateRow(app, 5, "common");
    stopCleanly(primary.process());
  }
  const std::string saved = dir.file("saved");
  copyState(app, saved, dir.file("cp"));  // the primary's state before the transactions it loses

  {
    PrimaryProcess primary(
        app, dir.file("primary-2"),
        {"--min-checkpoint-pages", "100000", "--max-checkpoint-pages", "100000"});
    updateRow(app, 10, "lost");
    ReplicaProcess replica(primary.url(), rep, dir.file("replica-1"));
    REQUIRE(waitForConvergence(app, rep, 60s));
    CHECK(replica.waitForSnapshots(1, 10s) == 1);
    stopCleanly(replica.process());
    stopCleanly(primary.process());
  }
  // The primary's machine loses power: its last 10 transactions are gone. The application then
  // commits 10 others of the same sizes: the WAL reaches the same position, other content.
  restoreState(saved, app, dir.file("cp"));
  updateRow(app, 10, "other");
  PrimaryProcess primary(app, dir.file("primary-3"),
                         {"--min-checkpoint-pages", "100000", "--max-checkpoint-pages", "100000"});
  ReplicaProcess replica(primary.url(), rep, dir.file("replica-2"));
  CHECK(waitForConvergence(app, rep, 60s));
  CHECK(replica.waitForSnapshots(1, 10s) == 1);  // a new snapshot, not a resume
  SqliteConnection check(rep, SQLITE_OPEN_READONLY);
  CHECK(check.queryText("SELECT v FROM t WHERE id = 1") == "other-1009");
  CHECK(primary.process().stderrText().find("checksum mismatch") != std::string::npos);
}

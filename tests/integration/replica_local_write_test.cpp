// Local writes to LOCAL_DB made while no replica runs, with the real binaries and the sqlite3
// shell: the restarted replica notices them and restores LOCAL_DB with a snapshot.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <memory>

#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/process_stop.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

std::string integrity(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryText("PRAGMA integrity_check");
}

}  // namespace

TEST_CASE("a local write made while the replica is stopped is undone by a snapshot") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  {
    ReplicaProcess replica(primary.url(), rep, dir.file("replica1"));
    {
      BankWriter writer(app, 0, 100);
      writer.waitFor(100, 30s);
    }
    REQUIRE(waitForConvergence(app, rep, 30s));
    stopCleanly(replica.process());
  }
  std::string expectLog;
  std::unique_ptr<SqliteConnection> holder;
  SUBCASE("checkpointed into the database file") {
    // The sqlite3 shell (Makefile: DEB_PACKAGES) is the last connection to close LOCAL_DB: it
    // would checkpoint anyway.
    const auto r = runToCompletion(
        {"/usr/bin/sqlite3", rep,
         "UPDATE acct SET bal = bal + 5 WHERE id = 1; PRAGMA wal_checkpoint(TRUNCATE);"},
        dir.file("sqlite3"));
    REQUIRE(r.exitCode == 0);
    REQUIRE_FALSE(pathExists(rep + "-wal"));
    expectLog = "has changed since the saved position";
  }
  SUBCASE("still in the WAL") {
    // A reader keeps LOCAL_DB open through the write and the replica's start: no checkpoint.
    holder = std::make_unique<SqliteConnection>(rep, SQLITE_OPEN_READONLY);
    holder->queryInt("SELECT count(*) FROM acct");
    {
      SqliteConnection c(rep);
      c.exec("UPDATE acct SET bal = bal + 5 WHERE id = 1");
    }
    REQUIRE(pathExists(rep + "-wal"));
    expectLog = "is not where the saved position";
  }
  {
    SqliteConnection c(rep, SQLITE_OPEN_READONLY);
    REQUIRE(c.queryInt("SELECT sum(bal) FROM acct") == 5);
  }
  ReplicaProcess replica(primary.url(), rep, dir.file("replica2"));
  CHECK(replica.process().waitForStderr(expectLog, 30s) != "");
  CHECK(replica.waitForSnapshots(1, 30s) == 1);
  CHECK(waitForConvergence(app, rep, 30s));
  SqliteConnection c(rep, SQLITE_OPEN_READONLY);
  CHECK(c.queryInt("SELECT sum(bal) FROM acct") == 0);
  CHECK(integrity(rep) == "ok");
}

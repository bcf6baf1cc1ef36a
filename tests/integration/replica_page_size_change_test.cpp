// The primary's database rebuilt with another page size while walstream was down: the primary
// starts a new generation, and an existing replica replaces LOCAL_DB with the new snapshot
// (SQLite's WAL cannot hold pages of two sizes) instead of retrying forever. A reader that was
// in a transaction meanwhile keeps its consistent view; new connections read the new database.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("a page size change on the primary replaces the replica's database") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  auto primary = std::make_unique<PrimaryProcess>(app, dir.file("primary-1"));
  const uint16_t port = primary->port();
  ReplicaProcess replica(primary->url(), rep, dir.file("replica"));
  {
    BankWriter writer(app, 0, 300);
    writer.waitFor(300, 60s);
  }
  REQUIRE(waitForConvergence(app, rep, 60s));
  REQUIRE(replica.waitForSnapshots(1, 10s) == 1);

  // A reader in the middle of a transaction on the replica.
  SqliteConnection reader(rep, SQLITE_OPEN_READONLY);
  reader.exec("BEGIN");
  const int64_t transfersBefore = reader.queryInt("SELECT v FROM meta WHERE k = 'n'");

  primary->process().signal(SIGTERM);
  REQUIRE(primary->process().wait(20s) == 0);
  primary.reset();
  {
    SqliteConnection c(app);
    c.exec("PRAGMA journal_mode=DELETE");
    c.exec("PRAGMA page_size=8192");
    c.exec("VACUUM");
    c.exec("PRAGMA journal_mode=WAL");
    REQUIRE(c.queryInt("PRAGMA page_size") == 8192);
  }
  primary = std::make_unique<PrimaryProcess>(app, dir.file("primary-2"), std::vector<std::string>{},
                                             port);
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, 60s);
  }
  CHECK(waitForConvergence(app, rep, 60s));
  CHECK(replica.waitForSnapshots(2, 10s) == 2);
  SqliteConnection fresh(rep, SQLITE_OPEN_READONLY);
  CHECK(fresh.queryInt("PRAGMA page_size") == 8192);
  CHECK(fresh.queryText("PRAGMA integrity_check") == "ok");
  CHECK(fresh.queryInt("SELECT v FROM meta WHERE k = 'n'") == transfersBefore + 100);
  // The old reader's transaction still sees the state it began with, consistently.
  CHECK(reader.queryInt("SELECT v FROM meta WHERE k = 'n'") == transfersBefore);
  CHECK(reader.queryInt("SELECT sum(bal) FROM acct") == 0);
  CHECK(reader.queryInt("SELECT count(*) FROM log") == transfersBefore);
  reader.exec("COMMIT");
  CHECK(replica.process().stderrText().find("page size changed") != std::string::npos);
}

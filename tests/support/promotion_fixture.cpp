#include "tests/support/promotion_fixture.h"

#include <doctest/doctest.h>
#include <sqlite3.h>

#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/process_stop.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

namespace walstream::test {

using namespace std::chrono_literals;

RunResult promote(const std::string& db, const TempDir& dir, const std::string& logName) {
  return runToCompletion({WALSTREAM_BINARY, "promote", db}, dir.file(logName), scaled(30s));
}

std::string bankDigest(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryText(
      "SELECT (SELECT v FROM meta) || ':' || (SELECT count(*) FROM log) || ':' || "
      "(SELECT group_concat(bal) FROM acct) || ':' || (SELECT sum(bal) FROM acct)");
}

std::string integrity(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryText("PRAGMA integrity_check");
}

void makeStoppedReplica(const std::string& app, const std::string& rep, const TempDir& dir,
                        int transfers) {
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary0"));
  ReplicaProcess replica(primary.url(), rep, dir.file("replica0"));
  // Segments after the snapshot: the replica then knows the chain at its position.
  REQUIRE(replica.waitForSnapshots(1, scaled(30s)) == 1);
  {
    BankWriter writer(app, 0, transfers);
    writer.waitFor(transfers, scaled(30s));
  }
  REQUIRE(waitForConvergence(app, rep, scaled(30s)));
  stopCleanly(replica.process());
  stopCleanly(primary.process());
}

void transferWithShell(const std::string& db, const TempDir& dir) {
  const auto r = runToCompletion(
      {"/usr/bin/sqlite3", db,
       "BEGIN; UPDATE acct SET bal = bal - 7 WHERE id = 1; UPDATE acct SET bal = bal + 7 WHERE "
       "id = 2; INSERT INTO log VALUES((SELECT v FROM meta WHERE k = 'n') + 1, randomblob(9)); "
       "UPDATE meta SET v = v + 1 WHERE k = 'n'; COMMIT;"},
      dir.file("sqlite3"));
  REQUIRE_MESSAGE(r.exitCode == 0, r.err);
}

std::vector<std::string> lineageFiles(const std::string& db) {
  std::vector<std::string> found;
  for (const std::string& gen : listDir(db + "-walstream/generations")) {
    const std::string path = db + "-walstream/generations/" + gen + "/lineage";
    if (pathExists(path)) found.push_back(path);
  }
  return found;
}

}  // namespace walstream::test

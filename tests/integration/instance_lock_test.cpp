// One walstream process per database (core/instance_lock.h), with the real binary: a second
// primary, a replica on a primary's database and a primary on a running replica's LOCAL_DB are
// refused with the holder named and change nothing; a killed holder leaves no stale lock.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <string>

#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/primary_status.h"
#include "tests/support/process_stop.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Every file under `root` with its size and modification time: what a refused process must
// leave exactly as it was.
std::map<std::string, std::string> treeState(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    std::string state = e.is_regular_file() ? std::to_string(e.file_size()) : "dir";
    state += "@" + std::to_string(e.last_write_time().time_since_epoch().count());
    out[e.path().string()] = state;
  }
  return out;
}

RunResult runPrimaryOnce(const std::string& db, const TempDir& dir, const std::string& log) {
  return runToCompletion({WALSTREAM_BINARY, "primary", "--http", "127.0.0.1:0", db}, dir.file(log),
                         scaled(30s));
}

void writeRows(const std::string& db, int from, int count) {
  SqliteConnection c(db);
  c.setBusyTimeout(5000);
  c.exec("BEGIN IMMEDIATE");
  for (int i = from; i < from + count; ++i) {
    c.exec("INSERT INTO log VALUES(" + std::to_string(i) + ", randomblob(100))");
  }
  c.exec("COMMIT");
}

}  // namespace

TEST_CASE("a second primary on the same database is refused, names the first, changes nothing") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  ReplicaProcess replica(primary.url(), rep, dir.file("replica"));
  writeRows(app, 1, 50);
  REQUIRE(waitForConvergence(app, rep, 30s));
  const auto before = treeState(app + "-walstream");
  const std::string holder =
      "walstream primary (pid " + std::to_string(primary.process().pid()) + ")";

  const RunResult second = runPrimaryOnce(app, dir, "second");
  CHECK(second.exitCode == 1);
  CHECK_MESSAGE(second.err.find(app + " is in use by " + holder) != std::string::npos, second.err);
  CHECK(second.err.find(app + "-walstream/lock is locked") != std::string::npos);
  CHECK(treeState(app + "-walstream") == before);

  // The same database twice on one command line: the second is refused by the first.
  const RunResult twice = runToCompletion({WALSTREAM_BINARY, "primary", "--http", "127.0.0.1:0",
                                           dir.file("other.db"), dir.file("other.db")},
                                          dir.file("twice"), scaled(30s));
  CHECK(twice.exitCode != 0);

  // The first primary goes on: new commits still reach the replica.
  writeRows(app, 51, 50);
  CHECK(waitForConvergence(app, rep, 30s));
  CHECK(primary.process().stderrText().find("error") == std::string::npos);
  stopCleanly(replica.process());
  stopCleanly(primary.process());
}

TEST_CASE("a replica on a primary's database, and a primary on a replica's, are refused") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  ReplicaProcess replica(primary.url(), rep, dir.file("replica"));
  REQUIRE(waitForConvergence(app, rep, 30s));
  REQUIRE(replica.process().waitForStderr(": following ", scaled(10s)) != "");
  const std::string appBefore =
      SqliteConnection(app).queryText("SELECT group_concat(bal) FROM acct");

  const RunResult intoPrimary =
      runToCompletion({WALSTREAM_BINARY, "replica", "--upstream", primary.url(), app},
                      dir.file("into-primary"), scaled(30s));
  CHECK(intoPrimary.exitCode == 1);
  CHECK_MESSAGE(
      intoPrimary.err.find(app + " is in use by walstream primary (pid " +
                           std::to_string(primary.process().pid()) + ")") != std::string::npos,
      intoPrimary.err);
  CHECK(SqliteConnection(app).queryText("SELECT group_concat(bal) FROM acct") == appBefore);

  const RunResult onReplica = runPrimaryOnce(rep, dir, "on-replica");
  CHECK(onReplica.exitCode == 1);
  CHECK_MESSAGE(
      onReplica.err.find(rep + " is in use by walstream replica (pid " +
                         std::to_string(replica.process().pid()) + ")") != std::string::npos,
      onReplica.err);
  // Nothing of a primary's was created beside the replica's database.
  CHECK_FALSE(fs::exists(rep + "-walstream/generations"));

  writeRows(app, 1, 20);
  CHECK(waitForConvergence(app, rep, 30s));
  stopCleanly(replica.process());
  stopCleanly(primary.process());
}

TEST_CASE("a primary killed with SIGKILL leaves no stale lock: the next one starts at once") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createBank(app);
  {
    PrimaryProcess primary(app, dir.file("primary"));
    writeRows(app, 1, 10);
    primary.process().signal(SIGKILL);
    REQUIRE(primary.process().wait(scaled(10s)).has_value());
  }
  PrimaryProcess next(app, dir.file("next"));
  CHECK(waitUntilServing(next.port(), scaled(10s)));
  stopCleanly(next.process());
}

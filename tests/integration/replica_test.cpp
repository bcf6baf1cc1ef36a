// The replica end to end: real `walstream primary` and `walstream replica` processes on
// loopback, a bank-transfer writer on the primary, stock SQLite readers on the replica.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>

#include "client/replica_position.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/shadow_replay.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

void stopCleanly(Process& p) {
  p.signal(SIGTERM);
  auto code = p.wait(20s);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
}

void truncateCheckpoint(const std::string& db) {
  SqliteConnection c(db);
  c.setBusyTimeout(5000);
  REQUIRE_FALSE(c.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
  REQUIRE(std::filesystem::file_size(db + "-wal") == 0);
}

}  // namespace

TEST_CASE(
    "a replica bootstraps from nothing, follows a writer, and readers never see a torn state") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"), {"--min-checkpoint-pages", "200"});
  BankWriter writer(app, 1000, 1'000'000);
  writer.waitFor(200, 30s);
  ReplicaProcess replica(primary.url(), rep, dir.file("replica"),
                         {"--min-checkpoint-pages", "300", "--max-checkpoint-pages", "2000"});
  BankReader reader(rep, /*quickCheck=*/true);
  BankReader reader2(rep);
  // 30 s of writes while both readers read the replica at full speed.
  const auto until = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
  writer.stop();
  CHECK(waitForConvergence(app, rep, 60s));
  reader.stop();
  reader2.stop();
  // Paced at 1000 a second; a loaded machine (2 shared cores) gets far fewer through.
  CHECK(writer.transfers() > 1000);
  CHECK(reader.reads() > 100);
  CHECK_MESSAGE(reader.violations() == 0, reader.firstProblem());
  CHECK_MESSAGE(reader2.violations() == 0, reader2.firstProblem());
  CHECK(replica.waitForSnapshots(1, 10s) == 1);
  {
    SqliteConnection c(rep, SQLITE_OPEN_READONLY);
    CHECK(c.queryText("PRAGMA integrity_check") == "ok");
  }
  stopCleanly(replica.process());
  stopCleanly(primary.process());
  // The replica stopped cleanly: it opens without recovery and still has everything.
  SqliteConnection c(rep, SQLITE_OPEN_READONLY);
  CHECK(c.queryInt("SELECT v FROM meta") == writer.transfers());
  CHECK(c.queryInt("SELECT count(*) FROM log") == writer.transfers());
}

TEST_CASE("a restarted replica resumes without a snapshot; a diverged one gets a snapshot") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  {
    BankWriter writer(app, 0, 300);
    writer.waitFor(300, 30s);
  }
  {
    ReplicaProcess replica(primary.url(), rep, dir.file("replica1"));
    REQUIRE(waitForConvergence(app, rep, 30s));
    stopCleanly(replica.process());
  }
  {
    BankWriter writer(app, 0, 200);
    writer.waitFor(200, 30s);
  }
  {
    ReplicaProcess replica(primary.url(), rep, dir.file("replica2"));
    CHECK(waitForConvergence(app, rep, 30s));
    stopCleanly(replica.process());
    CHECK(replica.snapshotsApplied() == 0);
  }
  const std::string posFile = rep + "-walstream/position";
  // With a reader watching and the application writing, the replica converges, with exactly one
  // snapshot and no reader seeing a broken state.
  auto convergesThroughOneSnapshot = [&](ReplicaProcess& replica) {
    BankReader reader(rep);
    {
      BankWriter writer(app, 0, 100);
      writer.waitFor(100, 30s);
    }
    CHECK(waitForConvergence(app, rep, 30s));
    reader.stop();
    CHECK_MESSAGE(reader.violations() == 0, reader.firstProblem());
    CHECK(replica.waitForSnapshots(1, 10s) == 1);
  };
  SUBCASE("a wrong checksum at the saved position means divergence: the primary sends a snapshot") {
    auto p = client::loadReplicaPosition(posFile);
    REQUIRE(p);
    REQUIRE(p->chainKnown);
    p->chain.checksum.s0 ^= 1;
    writeFileAtomic(posFile, client::formatReplicaPosition(*p));
    ReplicaProcess replica(primary.url(), rep, dir.file("replica3"));
    convergesThroughOneSnapshot(replica);
  }
  SUBCASE("a saved position behind LOCAL_DB's WAL (a crash before it was saved) means a snapshot") {
    // The position is written after each apply without a flush of its own; a crash can leave
    // the previous one. Resuming from it would apply transactions twice over newer pages.
    // (A clean stop empties LOCAL_DB's WAL: this replica is killed instead, its WAL kept.)
    {
      ReplicaProcess replica(primary.url(), rep, dir.file("replica-killed"));
      {
        BankWriter writer(app, 0, 50);
        writer.waitFor(50, 30s);
      }
      REQUIRE(waitForConvergence(app, rep, 30s));
      replica.process().signal(SIGKILL);
      REQUIRE(replica.process().wait(10s).has_value());
    }
    auto p = client::loadReplicaPosition(posFile);
    REQUIRE(p);
    REQUIRE(p->local);
    REQUIRE(p->local->mxFrame > 1);
    p->local->mxFrame -= 1;
    writeFileAtomic(posFile, client::formatReplicaPosition(*p));
    ReplicaProcess replica(primary.url(), rep, dir.file("replica3"));
    CHECK(replica.process().waitForStderr("is not where the saved position", 30s) != "");
    convergesThroughOneSnapshot(replica);
  }
  SUBCASE("a local write to the replica is detected and undone by a snapshot") {
    ReplicaProcess replica(primary.url(), rep, dir.file("replica3"));
    // Once connected, the replica is attached to LOCAL_DB and notices what others write.
    REQUIRE(replica.process().waitForStderr("connected to", 30s) != "");
    {
      SqliteConnection local(rep);
      local.setBusyTimeout(5000);
      local.exec("UPDATE acct SET bal = bal + 1000000 WHERE id = 1");
    }
    {
      BankWriter writer(app, 0, 50);
      writer.waitFor(50, 30s);
    }
    CHECK(replica.process().waitForStderr("read-only", 30s) != "");
    CHECK(waitForConvergence(app, rep, 30s));
    CHECK(replica.waitForSnapshots(1, 10s) == 1);
  }
}

TEST_CASE("a generation change re-snapshots the replica while a reader holds a transaction open") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  // The application's connection keeps the database open through the primary's restart.
  SqliteConnection appConn(app);
  appConn.queryInt("SELECT count(*) FROM acct");
  auto primary = std::make_unique<PrimaryProcess>(app, dir.file("primary1"));
  {
    BankWriter writer(app, 0, 200);
    writer.waitFor(200, 30s);
  }
  ReplicaProcess replica(primary->url(), rep, dir.file("replica"));
  REQUIRE(waitForConvergence(app, rep, 30s));

  // A reader on the replica opens a transaction and keeps it.
  SqliteConnection held(rep, SQLITE_OPEN_READONLY);
  held.exec("BEGIN");
  const int64_t before = held.queryInt("SELECT v FROM meta");

  // While the primary is down, the application checkpoints and restarts its WAL: continuity
  // cannot be proven, so the restarted primary (same port) starts a new generation, and the
  // replica, which kept retrying, receives a snapshot.
  const uint16_t port = primary->port();
  stopCleanly(primary->process());
  primary.reset();
  truncateCheckpoint(app);
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, 30s);
  }
  primary =
      std::make_unique<PrimaryProcess>(app, dir.file("primary2"), std::vector<std::string>{}, port);
  CHECK(waitForConvergence(app, rep, 30s));
  CHECK(replica.waitForSnapshots(2, 10s) == 2);
  // The held reader still sees its old snapshot, unharmed.
  CHECK(held.queryInt("SELECT v FROM meta") == before);
  CHECK(held.queryInt("SELECT sum(bal) FROM acct") == 0);
  held.exec("COMMIT");
  CHECK(held.queryInt("SELECT v FROM meta") == 300);
}

TEST_CASE("kill -9 of the replica and of the primary mid-stream, then convergence") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  SqliteConnection appConn(app);
  appConn.queryInt("SELECT count(*) FROM acct");
  auto primary = std::make_unique<PrimaryProcess>(app, dir.file("primary1"));
  BankWriter writer(app, 300, 1'000'000);
  auto replica = std::make_unique<ReplicaProcess>(primary->url(), rep, dir.file("replica1"));
  BankReader reader(rep);
  writer.waitFor(500, 30s);
  replica->process().signal(SIGKILL);
  replica->process().wait(10s);
  replica = std::make_unique<ReplicaProcess>(primary->url(), rep, dir.file("replica2"));
  writer.waitFor(1000, 30s);
  const uint16_t port = primary->port();
  primary->process().signal(SIGKILL);
  primary->process().wait(10s);
  primary =
      std::make_unique<PrimaryProcess>(app, dir.file("primary2"), std::vector<std::string>{}, port);
  writer.waitFor(1500, 30s);
  writer.stop();
  CHECK(waitForConvergence(app, rep, 60s));
  reader.stop();
  CHECK_MESSAGE(reader.violations() == 0, reader.firstProblem());
  SqliteConnection c(rep, SQLITE_OPEN_READONLY);
  CHECK(c.queryText("PRAGMA integrity_check") == "ok");
}

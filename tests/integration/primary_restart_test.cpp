// The primary's restart against an application that keeps writing: the application checkpoints
// everything while walstream is down and holds a write transaction across walstream's start,
// committing it at a random moment. Whatever the timing, a replica that follows the primary
// through every restart must end with exactly the application's content: no commit lost, no
// silent divergence.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <random>

#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/primary_status.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// One bank transfer (the bank's invariant holds after each), committed by the caller.
void transfer(SqliteConnection& c, std::mt19937& rng) {
  const int from = static_cast<int>(rng() % 100), to = static_cast<int>(rng() % 100);
  const int amount = static_cast<int>(rng() % 50) + 1;
  c.exec("UPDATE acct SET bal = bal - " + std::to_string(amount) +
         " WHERE id = " + std::to_string(from));
  c.exec("UPDATE acct SET bal = bal + " + std::to_string(amount) +
         " WHERE id = " + std::to_string(to));
  c.exec("UPDATE meta SET v = v + 1 WHERE k = 'n'");
  c.exec("INSERT INTO log(n, payload) SELECT v, randomblob(200) FROM meta WHERE k = 'n'");
}

void commitTransfers(SqliteConnection& c, std::mt19937& rng, int count) {
  for (int i = 0; i < count; ++i) {
    c.exec("BEGIN IMMEDIATE");
    transfer(c, rng);
    c.exec("COMMIT");
  }
}

}  // namespace

TEST_CASE("a transaction spanning the primary's restart, at random moments, loses no commit") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  // The application's connection stays open throughout, so the WAL is never deleted; SQLite's
  // own autocheckpoint is off: the test checkpoints where the race needs it.
  SqliteConnection appConn(app);
  appConn.setBusyTimeout(10000);
  appConn.exec("PRAGMA wal_autocheckpoint=0");
  std::mt19937 rng(20261206);
  auto primary = std::make_unique<PrimaryProcess>(app, dir.file("primary-0"));
  const uint16_t port = primary->port();
  ReplicaProcess replica(primary->url(), rep, dir.file("replica"));
  commitTransfers(appConn, rng, 20);
  REQUIRE(waitForConvergence(app, rep, 60s));

  constexpr int kRounds = 50;
  int converged = 0;
  for (int round = 1; round <= kRounds; ++round) {
    // Stop the primary: cleanly or by SIGKILL.
    primary->process().signal(rng() % 2 ? SIGKILL : SIGTERM);
    REQUIRE(primary->process().wait(20s).has_value());
    primary.reset();
    // While it is down: commits it has not seen, then a checkpoint that backfills all of them
    // (nBackfill == mxFrame), so the next writer restarts the WAL.
    commitTransfers(appConn, rng, 1 + static_cast<int>(rng() % 20));
    const CheckpointResult ck = appConn.checkpoint(SQLITE_CHECKPOINT_PASSIVE);
    REQUIRE_FALSE(ck.busy);
    // A write transaction open across the primary's start, committed at a random moment of
    // the first 100 ms after it listens: capture opens in that time (it listens first), so the
    // commit lands before capture opens, while it waits for the write lock, or after.
    appConn.exec("BEGIN IMMEDIATE");
    transfer(appConn, rng);
    try {
      primary = std::make_unique<PrimaryProcess>(app, dir.file("primary-" + std::to_string(round)),
                                                 std::vector<std::string>{}, port);
    } catch (...) {
      appConn.exec("ROLLBACK");
      throw;
    }
    // The random moment itself, not a wait for anything.
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 100000));
    appConn.exec("COMMIT");
    commitTransfers(appConn, rng, 1 + static_cast<int>(rng() % 10));
    const bool same = waitForConvergence(app, rep, 60s);
    CHECK_MESSAGE(same, "round " << round << ": the replica did not converge; primary log:\n"
                                 << primary->process().stderrText());
    if (!same) break;
    ++converged;
  }
  CHECK(converged == kRounds);
  SqliteConnection check(rep, SQLITE_OPEN_READONLY);
  CHECK(check.queryText("PRAGMA integrity_check") == "ok");
  CHECK(check.queryInt("SELECT sum(bal) FROM acct") == 0);
}

TEST_CASE("capture starts beside an application that commits back to back") {
  // Capture's start takes the application's write lock. SQLite's own busy handler sleeps
  // milliseconds between tries and almost never finds it free between two transactions.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createBank(app);
  BankWriter writer(app, 0, 1'000'000);  // as fast as it can
  writer.waitFor(200, 30s);
  PrimaryProcess primary(app, dir.file("primary"), {"--busy-timeout", "2s"});
  const auto started = std::chrono::steady_clock::now();
  waitForCapture(primary.port(), 30s);
  const auto took = std::chrono::steady_clock::now() - started;
  writer.stop();
  // One busy timeout at most, with room for a loaded machine; not a retry loop of them.
  CHECK_MESSAGE(took < 10s, primary.process().stderrText());
  CHECK(primary.process().stderrText().find("database is locked") == std::string::npos);
}

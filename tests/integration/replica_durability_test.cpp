// The replica after a power failure, with the real binaries: a power failure is modelled by
// SIGKILL of the replica, then removing from LOCAL_DB's files what only the page cache held
// (the WAL's unflushed frames) and the -shm (SQLite rebuilds the wal-index from the WAL after a
// reboot). The replica must then resume at exactly its saved state or fetch a snapshot.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>

#include "client/replica_position.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

void kill9(Process& p) {
  p.signal(SIGKILL);
  REQUIRE(p.wait(10s).has_value());
}

// What a power failure leaves when none of LOCAL_DB's WAL had reached the device.
void loseWal(const std::string& db) {
  std::filesystem::resize_file(db + "-wal", 0);
  std::filesystem::remove(db + "-shm");
}

std::string integrity(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryText("PRAGMA integrity_check");
}

}  // namespace

TEST_CASE("a replica whose WAL a power failure lost fetches a snapshot instead of resuming") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, 30s);
  }
  // No checkpoint: every transaction after the snapshot stays in LOCAL_DB's WAL only.
  const std::vector<std::string> noCheckpoint = {"--min-checkpoint-pages", "1000000",
                                                 "--max-checkpoint-pages", "1000000"};
  {
    ReplicaProcess replica(primary.url(), rep, dir.file("replica1"), noCheckpoint);
    REQUIRE(waitForConvergence(app, rep, 30s));
    REQUIRE(replica.waitForSnapshots(1, 10s) == 1);
    {
      BankWriter writer(app, 0, 300);
      writer.waitFor(300, 30s);
    }
    REQUIRE(waitForConvergence(app, rep, 30s));
    const auto saved = client::loadReplicaPosition(rep + "-walstream/position");
    REQUIRE(saved);
    REQUIRE(saved->local);
    REQUIRE(saved->local->mxFrame > 0);
    kill9(replica.process());
  }
  loseWal(rep);
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, 30s);
  }
  ReplicaProcess replica(primary.url(), rep, dir.file("replica2"), noCheckpoint);
  CHECK(replica.process().waitForStderr("is not where the saved position", 30s) != "");
  CHECK(replica.waitForSnapshots(1, 30s) == 1);
  CHECK(waitForConvergence(app, rep, 30s));
  CHECK(integrity(rep) == "ok");
}

TEST_CASE("a replica that lost its WAL right after truncating it resumes without a snapshot") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  // Every apply is followed by a TRUNCATE checkpoint (no reader holds LOCAL_DB's WAL).
  const std::vector<std::string> truncateAlways = {"--min-checkpoint-pages", "1"};
  {
    ReplicaProcess replica(primary.url(), rep, dir.file("replica1"), truncateAlways);
    REQUIRE(waitForConvergence(app, rep, 30s));
    {
      BankWriter writer(app, 0, 200);
      writer.waitFor(200, 30s);
    }
    REQUIRE(waitForConvergence(app, rep, 30s));
    // One more transaction, applied while no reader is in LOCAL_DB: its checkpoint truncates
    // the WAL and saves a position past the one now saved that says the WAL is empty.
    const auto before = client::loadReplicaPosition(rep + "-walstream/position");
    REQUIRE(before);
    {
      BankWriter writer(app, 0, 1);
      writer.waitFor(1, 30s);
    }
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::optional<client::ReplicaPosition> saved;
    for (int polls = 0; polls < 2000 && std::chrono::steady_clock::now() < deadline; ++polls) {
      saved = client::loadReplicaPosition(rep + "-walstream/position");
      if (saved && saved->pos != before->pos && saved->local && saved->local->mxFrame == 0) {
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    REQUIRE(saved);
    REQUIRE(saved->pos != before->pos);
    REQUIRE(saved->local);
    REQUIRE(saved->local->mxFrame == 0);
    kill9(replica.process());
  }
  loseWal(rep);
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, 30s);
  }
  ReplicaProcess replica(primary.url(), rep, dir.file("replica2"), truncateAlways);
  CHECK(waitForConvergence(app, rep, 30s));
  CHECK(replica.snapshotsApplied() == 0);
  CHECK(integrity(rep) == "ok");
}

TEST_CASE("a cleanly stopped replica resumes after a closing connection deleted its WAL") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  {
    ReplicaProcess replica(primary.url(), rep, dir.file("replica1"));
    REQUIRE(waitForConvergence(app, rep, 30s));
    {
      BankWriter writer(app, 0, 200);
      writer.waitFor(200, 30s);
    }
    REQUIRE(waitForConvergence(app, rep, 30s));
    replica.process().signal(SIGTERM);
    const auto code = replica.process().wait(20s);
    REQUIRE(code.has_value());
    CHECK(*code == 0);
  }
  // The last read-write connection to close LOCAL_DB checkpoints it and deletes its WAL.
  {
    SqliteConnection c(rep);
    CHECK(c.queryInt("SELECT count(*) FROM acct") == 100);
  }
  CHECK_FALSE(pathExists(rep + "-wal"));
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, 30s);
  }
  ReplicaProcess replica(primary.url(), rep, dir.file("replica2"));
  CHECK(waitForConvergence(app, rep, 30s));
  CHECK(replica.snapshotsApplied() == 0);
  CHECK(integrity(rep) == "ok");
}

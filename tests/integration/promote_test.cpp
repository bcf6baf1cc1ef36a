// `walstream promote` with the real binaries (docs/promotion.md): what it refuses, a promotion
// followed by writes and by a primary that a replica follows, a promotion finished after a
// crash, and the fail-over procedure under a bank workload.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "core/file_util.h"
#include "core/promotion_record.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/process_stop.h"
#include "tests/support/promotion_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

TEST_CASE("promote refuses what is not a stopped replica, and changes nothing") {
  TempDir dir;
  const std::string plain = dir.file("plain.db");
  createBank(plain);
  const std::string before = bankDigest(plain);

  auto r = promote(plain, dir, "plain");
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("is not a walstream replica") != std::string::npos);
  CHECK(countOf(r.err, "\n") == 1);
  CHECK_FALSE(pathExists(plain + "-walstream"));
  CHECK(bankDigest(plain) == before);

  r = promote(dir.file("missing.db"), dir, "missing");
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("does not exist") != std::string::npos);

  // A primary's database: its shadow directory has a position file of another kind.
  {
    PrimaryProcess primary(plain, dir.file("primary"));
    BankWriter writer(plain, 0, 10);
    writer.waitFor(10, scaled(30s));
  }
  r = promote(plain, dir, "primary-db");
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("is not a walstream replica") != std::string::npos);
  CHECK_FALSE(pathExists(promotedRecordPath(plain)));

  r = runToCompletion({WALSTREAM_BINARY, "promote", "--help"}, dir.file("help"));
  CHECK(r.exitCode == 0);
  CHECK(r.out.find("Usage: walstream promote") != std::string::npos);
}

TEST_CASE("promote refuses a replica that is running, and one its position does not describe") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  makeStoppedReplica(app, rep, dir, 50);
  {
    PrimaryProcess primary(app, dir.file("primary"));
    ReplicaProcess replica(primary.url(), rep, dir.file("replica"));
    // LOCAL_DB is converged already; the log line comes after the replica took its lock.
    REQUIRE(replica.process().waitForStderr(": following ", scaled(10s)) != "");
    const auto r = promote(rep, dir, "running");
    CHECK(r.exitCode == 1);
    CHECK(r.err.find("refusing to promote: " + rep + " is in use by walstream replica (pid ") !=
          std::string::npos);
    CHECK(r.err.find("; stop it first, or POST /promote to its status server") !=
          std::string::npos);
    CHECK_FALSE(pathExists(promotedRecordPath(rep)));
    // A second replica on the same LOCAL_DB is refused by the same lock.
    const auto second = runToCompletion(
        {WALSTREAM_BINARY, "replica", "--upstream", primary.url(), rep}, dir.file("second"));
    CHECK(second.exitCode == 1);
    CHECK(second.err.find(rep + " is in use by walstream replica (pid ") != std::string::npos);
    stopCleanly(replica.process());
    stopCleanly(primary.process());
  }
  // A write made while the replica was stopped: LOCAL_DB is in no state the primary had.
  transferWithShell(rep, dir);
  const std::string written = bankDigest(rep);
  const auto r = promote(rep, dir, "modified");
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("refusing to promote") != std::string::npos);
  CHECK(r.err.find("has changed since the saved position") != std::string::npos);
  CHECK(countOf(r.err, "\n") == 1);
  CHECK_FALSE(pathExists(promotedRecordPath(rep)));
  CHECK(pathExists(rep + "-walstream/position"));
  CHECK(bankDigest(rep) == written);
}

TEST_CASE("a promoted replica takes writes and is served by a primary that a replica follows") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  makeStoppedReplica(app, rep, dir, 200);
  const std::string atPromotion = bankDigest(app);

  const auto r = promote(rep, dir, "promote");
  REQUIRE_MESSAGE(r.exitCode == 0, r.err);
  CHECK(r.out.find("promoted " + rep + " at ") != std::string::npos);
  CHECK(r.out.find("old primary's database app.db") != std::string::npos);
  CHECK(r.out.find("every transaction the old primary committed after") != std::string::npos);
  const auto record = loadPromotionRecord(promotedRecordPath(rep));
  REQUIRE(record.has_value());
  CHECK(record->checksum.has_value());
  CHECK(record->db == "app.db");
  CHECK(r.out.find(record->position.str()) != std::string::npos);
  CHECK_FALSE(pathExists(rep + "-walstream/position"));
  CHECK_FALSE(pathExists(rep + "-walstream/db"));
  CHECK(bankDigest(rep) == atPromotion);
  CHECK(integrity(rep) == "ok");

  // A replica started on it by mistake refuses, and leaves it alone.
  const auto mistaken = runToCompletion(
      {WALSTREAM_BINARY, "replica", "--upstream", "http://127.0.0.1:1", rep}, dir.file("mistake"));
  CHECK(mistaken.exitCode == 1);
  CHECK(mistaken.err.find("was promoted to a primary's database") != std::string::npos);

  // Writes: the stock shell, then an application connection.
  transferWithShell(rep, dir);
  {
    SqliteConnection c(rep);
    c.exec(
        "BEGIN; UPDATE acct SET bal = bal - 3 WHERE id = 5; UPDATE acct SET bal = bal + 3 "
        "WHERE id = 6; INSERT INTO log VALUES((SELECT v FROM meta WHERE k = 'n') + 1, "
        "randomblob(9)); UPDATE meta SET v = v + 1 WHERE k = 'n'; COMMIT;");
  }
  CHECK(integrity(rep) == "ok");

  PrimaryProcess primary(rep, dir.file("new-primary"));
  CHECK(primary.process().waitForStderr("where this database was promoted from a replica",
                                        scaled(10s)) != "");
  CHECK_FALSE(pathExists(promotedRecordPath(rep)));
  const std::vector<std::string> lineages = lineageFiles(rep);
  REQUIRE(lineages.size() == 1);
  // Written before it was served: the lineage keeps no file stamp, so no replica continues.
  PromotionRecord expected = *record;
  CHECK(expected.dbFile.has_value());
  expected.dbFile.reset();
  CHECK(parsePromotionRecord(readFile(lineages.front()), lineages.front()) == expected);

  const std::string follower = dir.file("follower.db");
  ReplicaProcess replica(primary.url(), follower, dir.file("follower"));
  BankReader reader(follower);
  {
    BankWriter writer(rep, 0, 100);
    writer.waitFor(100, scaled(30s));
  }
  CHECK(waitForConvergence(rep, follower, scaled(30s)));
  reader.stop();
  CHECK_MESSAGE(reader.violations() == 0, reader.firstProblem());
  CHECK(bankDigest(follower) == bankDigest(rep));
  stopCleanly(replica.process());
  stopCleanly(primary.process());
}

TEST_CASE("promote run again after a crash finishes the promotion") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  makeStoppedReplica(app, rep, dir, 100);
  const std::string expected = bankDigest(app);
  // The replica's files as the crash leaves them, saved before the first run.
  const fs::path saved = dir.file("saved");
  fs::create_directory(saved);
  for (const char* name : {"replica.db", "replica.db-wal", "replica.db-walstream/position",
                           "replica.db-walstream/db"}) {
    if (pathExists(dir.file(name))) {
      fs::copy_file(dir.file(name), saved / fs::path(name).filename());
    }
  }
  auto restore = [&](std::initializer_list<const char*> names) {
    for (const char* name : names) {
      const fs::path from = saved / fs::path(name).filename();
      if (fs::exists(from)) {
        fs::copy_file(from, dir.file(name), fs::copy_options::overwrite_existing);
      }
    }
  };
  auto r = promote(rep, dir, "first");
  REQUIRE_MESSAGE(r.exitCode == 0, r.err);
  PromotionRecord record = *loadPromotionRecord(promotedRecordPath(rep));
  CHECK(record.dbFile.has_value());
  // Before the checkpoint's file stamp, the record had none.
  auto recordWithoutStamp = [&] {
    record.dbFile.reset();
    savePromotionRecord(realFileSystem(), promotedRecordPath(rep), record);
  };

  SUBCASE("after the record, before the checkpoint") {
    fs::remove(rep + "-wal");
    fs::remove(rep + "-shm");
    restore({"replica.db", "replica.db-wal", "replica.db-walstream/position",
             "replica.db-walstream/db"});
    recordWithoutStamp();
  }
  SUBCASE("after the checkpoint, before the file stamp") {
    restore({"replica.db-walstream/position", "replica.db-walstream/db"});
    recordWithoutStamp();
  }
  SUBCASE("after the file stamp, before the replica's files were removed") {
    restore({"replica.db-walstream/position", "replica.db-walstream/db"});
  }
  SUBCASE("after everything") {}

  r = promote(rep, dir, "again");
  REQUIRE_MESSAGE(r.exitCode == 0, r.err);
  CHECK(r.out.find("finished promoting " + rep) != std::string::npos);
  // The first run's record, unchanged: a resumed run does not stamp the file, which may have
  // been written after the crash (docs/promotion.md §3).
  CHECK(loadPromotionRecord(promotedRecordPath(rep)) == record);
  CHECK_FALSE(pathExists(rep + "-walstream/position"));
  CHECK_FALSE(pathExists(rep + "-walstream/db"));
  CHECK(bankDigest(rep) == expected);
  CHECK(integrity(rep) == "ok");
  transferWithShell(rep, dir);
  CHECK(integrity(rep) == "ok");
}

namespace {

// The fail-over of docs/promotion.md §4 with the old primary's replicas A (promoted), B (at A's
// position) and C (stopped earlier, behind it). `beforeServing` runs on A's database between
// the promotion and the new primary's start.
struct FailOver {
  TempDir dir;
  std::string old = dir.file("old/bank.db"), a = dir.file("a/bank.db"), b = dir.file("b/bank.db"),
              c = dir.file("c/bank.db");
  std::unique_ptr<PrimaryProcess> newPrimary;
  std::unique_ptr<ReplicaProcess> replicaB, replicaC;

  void run(const std::function<void(const std::string&)>& beforeServing) {
    for (const char* sub : {"old", "a", "b", "c"}) fs::create_directory(dir.file(sub));
    // One name everywhere (bank.db): the replicas follow the database by name.
    createBank(old);
    auto primary = std::make_unique<PrimaryProcess>(old, dir.file("old-primary"));
    auto replicaA = std::make_unique<ReplicaProcess>(primary->url(), a, dir.file("replica-a"));
    replicaB = std::make_unique<ReplicaProcess>(primary->url(), b, dir.file("replica-b"));
    replicaC = std::make_unique<ReplicaProcess>(primary->url(), c, dir.file("replica-c"));
    // Segments after each snapshot: every replica then knows the chain at its position.
    for (ReplicaProcess* r : {replicaA.get(), replicaB.get(), replicaC.get()}) {
      REQUIRE(r->waitForSnapshots(1, scaled(30s)) == 1);
    }
    // C converges while no writer runs: beside a writer a replica's dump never equals the
    // primary's dump taken a moment later on a slow (sanitized) build.
    {
      BankWriter writer(old, 200, 100);
      writer.waitFor(100, scaled(30s));
    }
    REQUIRE(waitForConvergence(old, c, 30s));
    stopCleanly(replicaC->process());
    {
      BankWriter writer(old, 200, 200);
      writer.waitFor(200, scaled(30s));
    }  // the writer stops, then the primary
    REQUIRE(waitForConvergence(old, a, scaled(30s)));
    REQUIRE(waitForConvergence(old, b, scaled(30s)));
    stopCleanly(primary->process());
    stopCleanly(replicaA->process());
    stopCleanly(replicaB->process());

    const auto r = promote(a, dir, "promote-a");
    REQUIRE_MESSAGE(r.exitCode == 0, r.err);
    CHECK(bankDigest(a) == bankDigest(old));
    beforeServing(a);
    newPrimary = std::make_unique<PrimaryProcess>(a, dir.file("new-primary"));
    replicaB = std::make_unique<ReplicaProcess>(newPrimary->url(), b, dir.file("replica-b2"));
    replicaC = std::make_unique<ReplicaProcess>(newPrimary->url(), c, dir.file("replica-c2"));
  }

  // Writes on A; B and C converge to it with the bank invariant intact throughout on B.
  void writeAndConverge() {
    BankReader reader(b);
    {
      BankWriter writer(a, 0, 150);
      writer.waitFor(150, scaled(30s));
    }
    CHECK(waitForConvergence(a, b, scaled(30s)));
    CHECK(waitForConvergence(a, c, scaled(30s)));
    reader.stop();
    CHECK_MESSAGE(reader.violations() == 0, reader.firstProblem());
    CHECK(reader.reads() > 0);
    CHECK(bankDigest(b) == bankDigest(a));
    CHECK(bankDigest(c) == bankDigest(a));
    CHECK(integrity(b) == "ok");
    stopCleanly(replicaB->process());
    stopCleanly(replicaC->process());
    stopCleanly(newPrimary->process());
  }
};

}  // namespace

TEST_CASE("fail-over: a replica at the promoted position continues without a snapshot") {
  FailOver f;
  f.run([](const std::string&) {});
  f.writeAndConverge();
  CHECK(f.replicaB->process().stderrText().find("without a snapshot") != std::string::npos);
  CHECK(f.replicaB->snapshotsApplied() == 0);
  CHECK(f.replicaC->snapshotsApplied() == 1);  // behind the promoted position
}

TEST_CASE(
    "fail-over: a promoted database written before it is served gets every replica a snapshot") {
  FailOver f;
  f.run([&f](const std::string& a) { transferWithShell(a, f.dir); });
  CHECK(f.newPrimary->process().waitForStderr("was changed since its promotion", scaled(10s)) !=
        "");
  f.writeAndConverge();
  CHECK(f.replicaB->snapshotsApplied() == 1);
  CHECK(f.replicaC->snapshotsApplied() == 1);
}

// Snapshots on a schedule and retention, on the real binary: with a short interval and window,
// old snapshots and the WAL objects before the oldest kept snapshot go, while every state
// inside the window still restores exactly.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backup/content_digest.h"
#include "core/pos.h"
#include "tests/support/backup_target.h"
#include "tests/support/cluster.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// `args` with the target's store flags and URL at the end.
std::vector<std::string> withStore(std::vector<std::string> args, const BackupTarget& target) {
  const std::vector<std::string> store = target.storeFlags();
  args.insert(args.end(), store.begin(), store.end());
  args.push_back(target.url());
  return args;
}

nlohmann::json listing(const TempDir& dir, const std::string& what, const BackupTarget& target) {
  const RunResult r = runToCompletion(withStore({WALSTREAM_BINARY, what, "--json"}, target),
                                      dir.file(what), scaled(30s));
  REQUIRE(r.exitCode == 0);
  return nlohmann::json::parse(r.out);
}

// Whether the primary's backup reaches `end` (bounded wait, polling /status).
bool waitForBackedUp(uint16_t port, const Pos& end) {
  for (const auto until = std::chrono::steady_clock::now() + scaled(20s);
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms)) {
    const auto status = fetchStatus(port).databases.at(0);
    if (status.backup && status.backup->pos == end.str()) return true;
  }
  return false;
}

struct BackedUpState {
  Pos end;
  std::string digest;  // backup::contentDigest of the database at `end`
};

// Runs `transfers` bank transfers at 200 a second on `db`, waits until `primary` has captured
// them all and backed them up, and returns that state.
BackedUpState transfersBackedUp(PrimaryProcess& primary, const std::string& db, int transfers) {
  waitForCapture(primary.port());
  {
    BankWriter writer(db, 200, transfers);
    writer.waitFor(transfers, scaled(60s));
  }
  const Pos end = waitForCaptureIdle(primary.port(), "app.db");
  REQUIRE(waitForBackedUp(primary.port(), end));
  return {end, backup::contentDigest(db)};
}

// In each generation (each starts with a snapshot of its own), every WAL object starts where the
// one before it ends, or starts the next WAL index.
void checkUnbrokenChain(const nlohmann::json& wal) {
  for (size_t i = 1; i < wal.size(); ++i) {
    const Pos previousEnd = parsePos(wal[i - 1].at("end").get<std::string>());
    const Pos start = parsePos(wal[i].at("start").get<std::string>());
    if (start.generation != previousEnd.generation) continue;
    const bool continues =
        start == previousEnd || (start.generation == previousEnd.generation &&
                                 start.index == previousEnd.index + 1 && start.offset == 0);
    CHECK_MESSAGE(continues, wal[i].at("key").get<std::string>()
                                 << " starts at " << start.str() << ", but the object before "
                                 << "ends at " << previousEnd.str());
  }
}

}  // namespace

TEST_CASE_TEMPLATE("scheduled snapshots, and retention keeps exactly the window restorable", Store,
                   DirectoryBackups, S3Backups) {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  PrimaryProcess primary(
      db, dir.file("primary"),
      target.backupFlags({"--backup-sync-interval", "20ms", "--snapshot-interval", "1s",
                          "--retention", "3s", "--min-checkpoint-pages", "50"}));
  // Transfers for about 8 s: several snapshots, each a second after the last, and a window of
  // 3 s that moves past the first ones. The end is a state inside the window.
  const auto [end, digest] = transfersBackedUp(primary, db, 1600);
  // Retention runs every window / 4 and after each snapshot: by now it has removed something,
  // unless the machine is slow enough that the first window has barely passed.
  for (const auto until = std::chrono::steady_clock::now() + scaled(30s);
       primary.process().stderrText().find("retention removed") == std::string::npos &&
       std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
  }
  primary.process().signal(SIGTERM);
  REQUIRE(primary.process().wait(scaled(30s)) == 0);
  const std::string log = primary.process().stderrText();
  INFO(log);

  const size_t written = countOf(log, ": snapshot at ");
  const nlohmann::json snapshots = listing(dir, "snapshots", target);
  const nlohmann::json wal = listing(dir, "wal", target);
  MESSAGE(written << " snapshots written, " << snapshots.size() << " kept; " << wal.size()
                  << " WAL objects kept");
  CHECK(written >= 4);
  CHECK(log.find("retention removed") != std::string::npos);
  REQUIRE(snapshots.size() >= 1);
  CHECK(snapshots.size() < written);
  // Nothing before the oldest snapshot kept: every WAL object kept ends after its position, but
  // for the last object of the snapshot's WAL index, which retention keeps because a listing
  // does not tell where it ends (backup/retention.cpp): it may end exactly at the snapshot when
  // the snapshot was taken with nothing captured after it in that index.
  const Pos oldest = parsePos(snapshots.front().at("pos").get<std::string>());
  for (size_t i = 0; i < wal.size(); ++i) {
    const Pos start = parsePos(wal[i].at("start").get<std::string>());
    const Pos objectEnd = parsePos(wal[i].at("end").get<std::string>());
    if (sameGenerationBefore(oldest, objectEnd)) continue;
    const bool lastOfSnapshotIndex =
        start.index == oldest.index &&
        (i + 1 == wal.size() ||
         parsePos(wal[i + 1].at("start").get<std::string>()).index != start.index);
    CHECK_MESSAGE(lastOfSnapshotIndex, wal[i].at("key").get<std::string>()
                                           << " ends at " << objectEnd.str()
                                           << ", not after the oldest snapshot " << oldest.str());
  }
  // The window's states still restore, exactly.
  const RunResult r = runToCompletion(
      withStore({WALSTREAM_BINARY, "restore", "-o", dir.file("restored.db"), "--pos", end.str()},
                target),
      dir.file("restore"), scaled(60s));
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(backup::contentDigest(dir.file("restored.db")) == digest);
}

TEST_CASE_TEMPLATE("a scheduled snapshot leaves the WAL objects an unbroken chain", Store,
                   DirectoryBackups, S3Backups) {
  // Snapshots are due while the WAL of the last second still waits for its object (the sync
  // interval): the objects must carry on from where they end, not from the snapshot, or the
  // positions between the two would restore from nothing.
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  PrimaryProcess primary(
      db, dir.file("primary"),
      target.backupFlags({"--backup-sync-interval", "1s", "--snapshot-interval", "1s",
                          "--retention", "1h", "--min-checkpoint-pages", "50"}));
  const std::string digest = transfersBackedUp(primary, db, 800).digest;
  primary.process().signal(SIGTERM);
  REQUIRE(primary.process().wait(scaled(30s)) == 0);
  INFO(primary.process().stderrText());

  const nlohmann::json snapshots = listing(dir, "snapshots", target);
  const nlohmann::json wal = listing(dir, "wal", target);
  MESSAGE(snapshots.size() << " snapshots, " << wal.size() << " WAL objects");
  CHECK(snapshots.size() >= 3);
  REQUIRE(wal.size() >= 2);
  checkUnbrokenChain(wal);
  // The newest snapshot and the object that holds its position restore the end exactly.
  const RunResult r = runToCompletion(
      withStore({WALSTREAM_BINARY, "restore", "-o", dir.file("restored.db")}, target),
      dir.file("restore"), scaled(60s));
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(backup::contentDigest(dir.file("restored.db")) == digest);
}

TEST_CASE_TEMPLATE(
    "a primary killed just after a scheduled snapshot goes on with the WAL objects from their end",
    Store, DirectoryBackups, S3Backups) {
  // The WAL objects lag the snapshot by up to the sync interval when it is written; a restart
  // must carry them on from their own end (the shadow WAL still holds it), not from the
  // snapshot, or the positions in between would restore from nothing.
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  const std::vector<std::string> flags =
      target.backupFlags({"--backup-sync-interval", "1s", "--snapshot-interval", "1s",
                          "--retention", "1h", "--min-checkpoint-pages", "50"});
  // The writer goes on across the restart: the application's connection keeps its WAL, and
  // with it the generation, which the restarted primary resumes. Should the application's own
  // checkpoint restart the WAL while no primary runs, the generation is new and there is
  // nothing to resume: the kill is tried again, a bounded number of times.
  BankWriter writer(db, 200, 100'000);
  std::optional<PrimaryProcess> primary;
  bool resumed = false;
  for (int attempt = 1; attempt <= 3 && !resumed; ++attempt) {
    primary.emplace(db, dir.file("primary-" + std::to_string(attempt)), flags);
    std::string log;
    for (const auto until = std::chrono::steady_clock::now() + scaled(60s);
         countOf(log, ": snapshot at ") < 2 && std::chrono::steady_clock::now() < until;
         std::this_thread::sleep_for(1ms)) {
      log = primary->process().stderrText();
    }
    REQUIRE(countOf(log, ": snapshot at ") >= 2);
    primary->process().signal(SIGKILL);
    primary->process().wait(scaled(10s));
    primary.emplace(db, dir.file("restarted-" + std::to_string(attempt)), flags);
    for (const auto until = std::chrono::steady_clock::now() + scaled(30s);
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms)) {
      log = primary->process().stderrText();
      resumed = log.find("resumes at") != std::string::npos;
      if (resumed || log.find("starting generation") != std::string::npos) break;
    }
  }
  writer.stop();
  INFO(primary->process().stderrText());
  REQUIRE(resumed);
  const Pos end = waitForCaptureIdle(primary->port(), "app.db");
  REQUIRE(waitForBackedUp(primary->port(), end));
  const std::string digest = backup::contentDigest(db);
  primary->process().signal(SIGTERM);
  REQUIRE(primary->process().wait(scaled(30s)) == 0);

  checkUnbrokenChain(listing(dir, "wal", target));
  const RunResult r = runToCompletion(
      withStore({WALSTREAM_BINARY, "restore", "-o", dir.file("restored.db")}, target),
      dir.file("restore"), scaled(60s));
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(backup::contentDigest(dir.file("restored.db")) == digest);
}

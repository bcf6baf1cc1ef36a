// Continuous backup and point-in-time restore on the real binary: a primary backs up a bank
// while transfers run; restores to the latest state, to a recorded position and to a recorded
// time each give exactly the content the primary had then (by content digest), pass
// integrity_check, and survive a primary killed with SIGKILL in the middle.
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "backup/content_digest.h"
#include "core/file_util.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
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

// A state of the primary's database the test recorded: its position, when, and its content.
struct Recorded {
  Pos pos;
  int64_t atMs = 0;
  std::string digest;
};

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs `transfers` transfers, then records the state capture has once it is idle. The time is
// taken after capture copied the last commit and before the next one: any restore to it must
// give exactly this state.
Recorded transferThenRecord(const std::string& db, uint16_t port, int transfers) {
  {
    BankWriter writer(db, 0, transfers);
    writer.waitFor(transfers, scaled(60s));
  }
  Recorded r;
  r.pos = waitForCaptureIdle(port, "app.db");
  r.digest = backup::contentDigest(db);
  std::this_thread::sleep_for(5ms);  // the next commit's capture time must be later
  r.atMs = nowMs();
  std::this_thread::sleep_for(5ms);
  return r;
}

// Waits (bounded) until the primary's /status says its backup holds a position: its first
// snapshot is in the store.
void waitForFirstSnapshot(uint16_t port) {
  for (const auto until = std::chrono::steady_clock::now() + scaled(30s);
       std::chrono::steady_clock::now() < until;) {
    const auto status = fetchStatus(port);
    if (status.databases.at(0).backup && !status.databases.at(0).backup->pos.empty()) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("the backup wrote no snapshot");
}

std::string rfc3339(int64_t ms) {
  return formatRfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

RunResult restore(const TempDir& dir, const BackupTarget& target, const std::string& out,
                  std::vector<std::string> flags = {}) {
  std::vector<std::string> argv = {WALSTREAM_BINARY, "restore", "-o", out};
  argv.insert(argv.end(), flags.begin(), flags.end());
  const std::vector<std::string> store = target.storeFlags();
  argv.insert(argv.end(), store.begin(), store.end());
  argv.push_back(target.url());
  return runToCompletion(argv, dir.file("restore"), scaled(60s));
}

// SIGTERM, then a clean exit (bounded): the backup writes what capture copied. Returns the log.
std::string stopCleanly(PrimaryProcess& primary) {
  primary.process().signal(SIGTERM);
  REQUIRE(primary.process().wait(scaled(30s)) == 0);
  return primary.process().stderrText();
}

// Restores the latest state of the target's store into `out`; it must succeed and be `state`.
void restoreLatestHolds(const TempDir& dir, const BackupTarget& target, const std::string& out,
                        const Recorded& state) {
  const RunResult r = restore(dir, target, out);
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(r.out.find(state.pos.str()) != std::string::npos);
  CHECK(backup::contentDigest(out) == state.digest);
}

}  // namespace

TEST_CASE_TEMPLATE(
    "restores to the latest state, a position and a time give the primary's content then", Store,
    DirectoryBackups, S3Backups) {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  std::vector<Recorded> states;
  {
    // Small checkpoints: the WAL restarts every few hundred transfers, so the backup spans
    // several WAL indexes.
    PrimaryProcess primary(
        db, dir.file("primary"),
        target.backupFlags({"--backup-sync-interval", "50ms", "--min-checkpoint-pages", "50",
                            "--max-checkpoint-pages", "200"}));
    waitForCapture(primary.port());
    waitForFirstSnapshot(primary.port());
    for (int round = 0; round < 4; ++round) {
      states.push_back(transferThenRecord(db, primary.port(), 400));
    }
    const std::string log = stopCleanly(primary);
    INFO(log);
    CHECK(log.find("snapshot at") != std::string::npos);
  }
  REQUIRE(states.front().pos.index < states.back().pos.index);

  // One backup serves every kind of restore (a subcase each would write it anew each time).
  {  // the latest state
    restoreLatestHolds(dir, target, dir.file("latest.db"), states.back());
  }
  {  // every recorded position
    for (size_t i = 0; i < states.size(); ++i) {
      const std::string out = dir.file("pos" + std::to_string(i) + ".db");
      const RunResult r = restore(dir, target, out, {"--pos", states[i].pos.str()});
      INFO(states[i].pos.str() << ": " << r.err);
      REQUIRE(r.exitCode == 0);
      CHECK(r.out.find(states[i].pos.str()) != std::string::npos);
      CHECK(backup::contentDigest(out) == states[i].digest);
    }
  }
  {  // every recorded time
    for (size_t i = 0; i < states.size(); ++i) {
      const std::string out = dir.file("time" + std::to_string(i) + ".db");
      const RunResult r = restore(dir, target, out, {"--timestamp", rfc3339(states[i].atMs)});
      INFO(rfc3339(states[i].atMs) << ": " << r.err);
      REQUIRE(r.exitCode == 0);
      CHECK(backup::contentDigest(out) == states[i].digest);
    }
  }
  {  // a time before the first snapshot names the oldest restorable time
    const RunResult r =
        restore(dir, target, dir.file("early.db"), {"--timestamp", "2001-01-01T00:00:00Z"});
    CHECK(r.exitCode == 1);
    CHECK(r.err.find("oldest restorable time is") != std::string::npos);
    CHECK_FALSE(pathExists(dir.file("early.db")));
  }
  {  // an existing OUT is refused unless replaced
    const std::string out = dir.file("existing.db");
    REQUIRE(restore(dir, target, out).exitCode == 0);
    const RunResult again = restore(dir, target, out);
    CHECK(again.exitCode == 1);
    CHECK(again.err.find("--if-exists replace") != std::string::npos);
    const RunResult replaced = restore(dir, target, out, {"--if-exists", "replace"});
    CHECK(replaced.exitCode == 0);
    CHECK(backup::contentDigest(out) == states.back().digest);
  }
}

TEST_CASE_TEMPLATE(
    "a primary killed in the middle of its backup leaves a store that restores and goes on", Store,
    DirectoryBackups, S3Backups) {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  const std::vector<std::string> flags =
      target.backupFlags({"--backup-sync-interval", "20ms", "--min-checkpoint-pages", "50"});
  uint16_t port = 0;
  {
    PrimaryProcess primary(db, dir.file("primary1"), flags);
    port = primary.port();
    waitForCapture(primary.port());
    waitForFirstSnapshot(primary.port());
    BankWriter writer(db, 0, 100000);
    writer.waitFor(500, scaled(60s));
    primary.process().signal(SIGKILL);  // whatever object it was writing is left unfinished
    primary.process().wait(scaled(10s));
    writer.waitFor(600, scaled(60s));  // the application goes on meanwhile
  }
  Recorded last;
  {
    // Transfers while it was down may have restarted the WAL (a new generation, with a
    // snapshot) or not (the backup resumes): either way the store must restore the end.
    PrimaryProcess primary(db, dir.file("primary2"), flags, port);
    waitForCapture(primary.port());
    last = transferThenRecord(db, primary.port(), 300);
    stopCleanly(primary);
  }
  restoreLatestHolds(dir, target, dir.file("restored.db"), last);
}

TEST_CASE_TEMPLATE(
    "a restarted primary resumes its backup where the store ends, without a snapshot", Store,
    DirectoryBackups, S3Backups) {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  const std::vector<std::string> flags = target.backupFlags({"--backup-sync-interval", "20ms"});
  // An application connection open throughout: the writer's last close would otherwise
  // checkpoint and delete the WAL while the primary is down, and the restart would begin a new
  // generation (with a snapshot) instead of resuming this one.
  SqliteConnection application(db);
  application.queryInt("SELECT count(*) FROM sqlite_master");  // opens the WAL and -shm now
  uint16_t port = 0;
  {
    PrimaryProcess primary(db, dir.file("primary1"), flags);
    port = primary.port();
    waitForCapture(primary.port());
    waitForFirstSnapshot(primary.port());
    transferThenRecord(db, primary.port(), 300);
    primary.process().signal(SIGKILL);
    primary.process().wait(scaled(10s));
  }
  Recorded last;
  {
    PrimaryProcess primary(db, dir.file("primary2"), flags, port);
    waitForCapture(primary.port());
    last = transferThenRecord(db, primary.port(), 300);
    const std::string log = stopCleanly(primary);
    INFO(log);
    CHECK(log.find("resumes at") != std::string::npos);
    CHECK(log.find("snapshot at") == std::string::npos);
  }
  restoreLatestHolds(dir, target, dir.file("restored.db"), last);
}

TEST_CASE_TEMPLATE(
    "verify restores and checks a backup, and compares it with the primary's database", Store,
    DirectoryBackups, S3Backups) {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  {
    PrimaryProcess primary(db, dir.file("primary"), target.backupFlags());
    waitForCapture(primary.port());
    waitForFirstSnapshot(primary.port());
    transferThenRecord(db, primary.port(), 300);
    stopCleanly(primary);
  }
  const auto verify = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {WALSTREAM_BINARY, "verify"});
    const std::vector<std::string> store = target.storeFlags();
    args.insert(args.end(), store.begin(), store.end());
    args.push_back(target.url());
    return runToCompletion(args, dir.file("verify"), scaled(90s));
  };
  const RunResult plain = verify({});
  INFO(plain.err);
  CHECK(plain.exitCode == 0);
  CHECK(plain.out.find("ok: restored") != std::string::npos);
  const RunResult same = verify({"--against", db});
  INFO(same.err);
  CHECK(same.exitCode == 0);
  CHECK(same.out.find("exactly as") != std::string::npos);
  // A change the backup never saw (the primary is not running): a difference, exit code 1.
  SqliteConnection(db).exec("UPDATE acct SET bal = bal + 1 WHERE id = 1");
  const RunResult different = verify({"--against", db});
  CHECK(different.exitCode == 1);
  CHECK(different.out.find("DIFFERENT") != std::string::npos);
}

TEST_CASE("a backup far behind a writer at full speed lets capture's buffers go and catches up") {
  using Store =
      DirectoryBackups;  // the store does not matter here; the S3 one would double its time
  // A long sync interval with the writer flat out: tens of thousands of segments wait, more
  // than the backup keeps of capture's buffers, so it drops them and reads the shadow WAL's
  // files instead; a clean stop then writes everything, and the store restores it.
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(Store::kKind, dir);
  Recorded last;
  {
    PrimaryProcess primary(db, dir.file("primary"),
                           target.backupFlags({"--backup-sync-interval", "3s"}));
    waitForCapture(primary.port());
    waitForFirstSnapshot(primary.port());
    last = transferThenRecord(db, primary.port(), 15000);
    const std::string log = stopCleanly(primary);
    // Informational: how often it let go (about once in a release build; a sanitizer's slower
    // writer may leave it under the bound, which the rest of the test does not depend on).
    MESSAGE("let capture's buffers go " << countOf(log, "segments behind") << " times");
  }
  restoreLatestHolds(dir, target, dir.file("restored.db"), last);
}

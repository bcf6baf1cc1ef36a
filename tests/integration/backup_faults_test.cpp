// Backups under bad input and faults, on the real binary: a damaged, missing, truncated or
// misplaced object makes `walstream restore` fail with one line naming it (exit code 1), and
// never leaves OUT or a temporary file; a store that fails makes the primary retry without
// disturbing capture, report it in /status, /metrics and /healthz, and recover when it works.
#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "backup/content_digest.h"
#include "core/file_util.h"
#include "core/pos.h"
#include "tests/support/cluster.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A backup of a bank over several WAL indexes, written by a primary that has stopped.
struct FinishedBackup {
  explicit FinishedBackup(const TempDir& dir) : db(dir.file("app.db")), root(dir.file("backup")) {
    createBank(db);
    PrimaryProcess primary(db, dir.file("primary"),
                           {"--backup", "file://" + root, "--backup-sync-interval", "20ms",
                            "--min-checkpoint-pages", "50"});
    waitForCapture(primary.port());
    {
      BankWriter writer(db, 0, 1500);
      writer.waitFor(1500, scaled(60s));
    }
    primary.process().signal(SIGTERM);
    REQUIRE(primary.process().wait(scaled(30s)) == 0);
    for (const auto& e : fs::recursive_directory_iterator(root)) {
      if (!e.is_regular_file()) continue;
      const std::string path = e.path().string();
      (path.find(".snapshot.lz4") != std::string::npos ? snapshots : walObjects).push_back(path);
    }
    std::sort(walObjects.begin(), walObjects.end());
    REQUIRE(walObjects.size() >= 4);
    REQUIRE(snapshots.size() >= 1);
  }
  std::string url() const { return "file://" + root; }

  const std::string db;
  const std::string root;
  std::vector<std::string> snapshots;
  std::vector<std::string> walObjects;  // in key order: generation, index, offset
};

RunResult runWalstream(const TempDir& dir, std::vector<std::string> args) {
  args.insert(args.begin(), WALSTREAM_BINARY);
  return runToCompletion(args, dir.file("run"), scaled(60s));
}

// A restore that must fail: exit code 1, one line naming `names`, and nothing left behind.
void expectRestoreFails(const TempDir& dir, const std::string& url, const std::string& names) {
  const std::string out = dir.file("out.db");
  const RunResult r = runWalstream(dir, {"restore", "-o", out, url});
  INFO(r.err);
  CHECK(r.exitCode == 1);
  CHECK(r.err.find(names) != std::string::npos);
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK_FALSE(pathExists(out));
  CHECK_FALSE(pathExists(out + ".walstream-restore-tmp"));
}

std::string keyOf(const FinishedBackup& b, const std::string& path) {
  return path.substr(b.root.size() + 1);
}

void flipByte(const std::string& path, size_t fromEnd) {
  std::vector<uint8_t> bytes = readBytes(path);
  REQUIRE(bytes.size() > fromEnd);
  bytes[bytes.size() - 1 - fromEnd] ^= 0x5a;
  writeBytes(path, bytes);
}

}  // namespace

TEST_CASE("a damaged, missing, truncated or misplaced backup object stops the restore") {
  TempDir dir;
  FinishedBackup backup(dir);
  // Untouched, it restores.
  const RunResult ok = runWalstream(dir, {"restore", "-o", dir.file("ok.db"), backup.url()});
  REQUIRE(ok.exitCode == 0);
  CHECK(backup::contentDigest(dir.file("ok.db")) == backup::contentDigest(backup.db));

  const std::string middle = backup.walObjects[backup.walObjects.size() / 2];
  SUBCASE("a WAL object missing in the middle") {
    const std::string next = backup.walObjects[backup.walObjects.size() / 2 + 1];
    fs::remove(middle);
    expectRestoreFails(dir, backup.url(), keyOf(backup, next));
  }
  SUBCASE("a byte of a WAL object's page changed") {
    flipByte(middle, 100);
    expectRestoreFails(dir, backup.url(), keyOf(backup, middle));
  }
  SUBCASE("a WAL object's header changed") {
    std::vector<uint8_t> bytes = readBytes(middle);
    bytes[20] ^= 1;
    writeBytes(middle, bytes);
    expectRestoreFails(dir, backup.url(), keyOf(backup, middle));
  }
  SUBCASE("a WAL object cut short") {
    fs::resize_file(middle, fs::file_size(middle) - 7);
    expectRestoreFails(dir, backup.url(), keyOf(backup, middle));
  }
  SUBCASE("a WAL object under another object's name") {
    const std::string other = backup.walObjects[backup.walObjects.size() / 2 + 1];
    fs::copy_file(middle, other, fs::copy_options::overwrite_existing);
    expectRestoreFails(dir, backup.url(), keyOf(backup, other));
  }
  SUBCASE("a snapshot block damaged") {
    flipByte(backup.snapshots.front(), fs::file_size(backup.snapshots.front()) / 2);
    for (size_t i = 1; i < backup.snapshots.size(); ++i) fs::remove(backup.snapshots[i]);
    expectRestoreFails(dir, backup.url(), keyOf(backup, backup.snapshots.front()));
  }
  SUBCASE("a snapshot cut short (its index and footer gone)") {
    fs::resize_file(backup.snapshots.front(), fs::file_size(backup.snapshots.front()) / 2);
    for (size_t i = 1; i < backup.snapshots.size(); ++i) fs::remove(backup.snapshots[i]);
    expectRestoreFails(dir, backup.url(), keyOf(backup, backup.snapshots.front()));
  }
}

TEST_CASE("restore refuses targets and stores it cannot serve, with a reason") {
  TempDir dir;
  FinishedBackup backup(dir);
  SUBCASE("a store that holds no backup") {
    fs::create_directories(dir.file("empty"));
    expectRestoreFails(dir, "file://" + dir.file("empty"), "holds no backup");
    expectRestoreFails(dir, "file://" + dir.file("missing"), "holds no backup");
  }
  SUBCASE("a position past the end of the backup") {
    const RunResult list = runWalstream(dir, {"generations", "--json", backup.url()});
    REQUIRE(list.exitCode == 0);
    const std::string generation = list.out.substr(list.out.find("\"generation\": \"") + 15, 16);
    const std::string out = dir.file("out.db");
    const RunResult r =
        runWalstream(dir, {"restore", "-o", out, "--pos",
                           generation + "/00000000000fffff:0000000000000000", backup.url()});
    CHECK(r.exitCode == 1);
    CHECK(r.err.find("the backup ends at") != std::string::npos);
    CHECK_FALSE(pathExists(out));
  }
  SUBCASE("a generation the store does not have") {
    const RunResult r = runWalstream(dir, {"restore", "-o", dir.file("out.db"), "--generation",
                                           "00000000deadbeef", backup.url()});
    CHECK(r.exitCode == 1);
    CHECK(r.err.find("holds no generation 00000000deadbeef") != std::string::npos);
  }
  SUBCASE("usage errors exit 2") {
    for (const std::vector<std::string>& args :
         {std::vector<std::string>{"restore", backup.url()},
          {"restore", "-o", dir.file("x.db"), "--timestamp", "yesterday", backup.url()},
          {"restore", "-o", dir.file("x.db"), "--pos", "nonsense", backup.url()},
          {"restore", "-o", dir.file("x.db"), "--generation", "1", "--pos",
           "0000000000000001/0000000000000000:0000000000000000", backup.url()},
          {"restore", "-o", dir.file("x.db"), "relative/path"},
          {"restore", "-o", dir.file("x.db"), "--if-exists", "maybe", backup.url()}}) {
      const RunResult r = runWalstream(dir, args);
      INFO(r.err);
      CHECK(r.exitCode == 2);
      CHECK_FALSE(pathExists(dir.file("x.db")));
    }
  }
}

namespace {

std::optional<proto::BackupStatusJson> backupStatus(uint16_t port) {
  return fetchStatus(port).databases.at(0).backup;
}

// Polls /status (bounded) until `done` holds for the backup's status; whether it did.
bool waitForBackup(uint16_t port, const std::function<bool(const proto::BackupStatusJson&)>& done,
                   std::chrono::milliseconds timeout) {
  for (const auto until = std::chrono::steady_clock::now() + timeout;
       std::chrono::steady_clock::now() < until;) {
    const auto b = backupStatus(port);
    if (b && done(*b)) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace

TEST_CASE("a store that fails is retried without disturbing capture, reported, and recovers") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const std::string root = dir.file("backup");
  PrimaryProcess primary(db, dir.file("primary"),
                         {"--backup", "file://" + root, "--backup-sync-interval", "20ms",
                          "--backup-max-lag", "64KiB"});
  waitForCapture(primary.port());
  REQUIRE(waitForBackup(
      primary.port(), [](const auto& b) { return !b.pos.empty(); }, scaled(30s)));

  // The store goes away: its root becomes a file, so every write fails.
  fs::rename(root, dir.file("backup.away"));
  writeBytes(root, std::vector<uint8_t>{'x'});
  {
    BankWriter writer(db, 0, 40);  // about 16 KiB of WAL each: past the 64 KiB bound
    writer.waitFor(40, scaled(60s));
  }
  // Capture goes on; the backup reports the failure and, past its bound, is unhealthy.
  const Pos captured = primaryPosition(primary.port(), "app.db");
  CHECK(waitForBackup(
      primary.port(), [](const auto& b) { return b.overMaxLag; }, scaled(60s)));
  const auto failing = backupStatus(primary.port());
  REQUIRE(failing);
  CHECK(failing->errors >= 1);
  CHECK(failing->lastError.find(root) != std::string::npos);
  CHECK(failing->lagBytes > 64 * 1024);
  const HttpResponse health = httpRequest(primary.port(), "/healthz");
  CHECK(health.status == 503);
  CHECK(health.body.find("--backup-max-lag") != std::string::npos);
  CHECK(httpRequest(primary.port(), "/metrics")
            .body.find("walstream_backup_healthy{db=\"app.db\"} 0") != std::string::npos);
  // Logged once per distinct error, not once per attempt.
  const std::string log = primary.process().stderrText();
  CHECK(countOf(log, "(retrying)") <= 3);
  CHECK(log.find("--backup-max-lag") != std::string::npos);

  // The store comes back: the backup starts over with a snapshot and is healthy again.
  fs::remove(root);
  fs::rename(dir.file("backup.away"), root);
  CHECK(waitForBackup(
      primary.port(),
      [&](const auto& b) {
        return !b.overMaxLag && b.lastError.empty() && !b.pos.empty() &&
               !sameGenerationBefore(parsePos(b.pos), captured);
      },
      scaled(90s)));
  CHECK(httpRequest(primary.port(), "/healthz").status == 200);
  primary.process().signal(SIGTERM);
  REQUIRE(primary.process().wait(scaled(30s)) == 0);
  CHECK(primary.process().stderrText().find("recovered") != std::string::npos);
  const RunResult r =
      runWalstream(dir, {"restore", "-o", dir.file("restored.db"), "file://" + root});
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(backup::contentDigest(dir.file("restored.db")) == backup::contentDigest(db));
}

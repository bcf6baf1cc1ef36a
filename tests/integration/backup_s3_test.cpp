// What goes wrong with object storage, on the real binary against a real S3 server (s3rver,
// tests/support/s3_server.h): the server killed in the middle of a backup and restarted (the
// backup resumes and the restore is exact), a server that stalls every request (the
// application's writes do not slow down), and stores a restore cannot use. The backup and
// restore tests themselves run against both kinds of store (backup_restore_test.cpp,
// backup_retention_test.cpp).
#include <doctest/doctest.h>

#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "backup/content_digest.h"
#include "tests/support/backup_target.h"
#include "tests/support/cluster.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/stalling_proxy.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// Polls /status (bounded) until `done` holds for the database's status; whether it did.
bool waitForStatus(uint16_t port, const std::function<bool(const proto::DatabaseStatusJson&)>& done,
                   std::chrono::milliseconds timeout) {
  for (const auto until = std::chrono::steady_clock::now() + timeout;
       std::chrono::steady_clock::now() < until;) {
    if (done(fetchStatus(port).databases.at(0))) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

bool hasBackupPosition(const proto::DatabaseStatusJson& s) {
  return s.backup && !s.backup->pos.empty();
}

// The backup holds everything captured, and its last attempt succeeded.
bool backupCaughtUp(const proto::DatabaseStatusJson& s) {
  return s.backup && !s.pos.empty() && s.backup->pos == s.pos && s.backup->lastError.empty();
}

// `walstream restore` of the latest state of `url` into `out`.
RunResult restoreLatest(const TempDir& dir, const std::string& url, const S3Server& s3,
                        const std::string& out) {
  return runToCompletion(
      {WALSTREAM_BINARY, "restore", "-o", out, "--s3-credentials", s3.credentialsFile(), url},
      dir.file("restore"), scaled(60s));
}

void stopCleanly(PrimaryProcess& primary) {
  primary.process().signal(SIGTERM);
  REQUIRE(primary.process().wait(scaled(30s)) == 0);
}

std::chrono::milliseconds timeTransfers(const std::string& db, int transfers) {
  const auto start = std::chrono::steady_clock::now();
  BankWriter writer(db, 0, transfers);
  writer.waitFor(transfers, scaled(60s));
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

}  // namespace

TEST_CASE("an S3 server killed in the middle of a backup and restarted: the backup resumes") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(BackupTarget::Kind::kS3, dir);
  S3Server& s3 = *target.s3();
  PrimaryProcess primary(db, dir.file("primary"),
                         target.backupFlags({"--backup-sync-interval", "20ms"}));
  waitForCapture(primary.port());
  REQUIRE(waitForStatus(primary.port(), hasBackupPosition, scaled(30s)));
  {
    BankWriter writer(db, 0, 800);
    writer.waitFor(200, scaled(60s));
    s3.kill();                         // whatever request was in flight fails half-done
    writer.waitFor(800, scaled(60s));  // the application goes on meanwhile
  }
  // The failure is reported, without the credentials.
  CHECK(waitForStatus(
      primary.port(), [](const auto& s) { return s.backup && s.backup->errors >= 1; },
      scaled(60s)));
  const std::string status = httpRequest(primary.port(), "/status").body;
  CHECK(status.find(S3Server::kSecretAccessKey) == std::string::npos);

  s3.restart();
  CHECK(waitForStatus(primary.port(), backupCaughtUp, scaled(90s)));
  const std::string digest = backup::contentDigest(db);
  stopCleanly(primary);
  const std::string log = primary.process().stderrText();
  INFO(log);
  CHECK(log.find(S3Server::kSecretAccessKey) == std::string::npos);
  CHECK(log.find("recovered") != std::string::npos);

  const RunResult r = restoreLatest(dir, target.url(), s3, dir.file("restored.db"));
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(backup::contentDigest(dir.file("restored.db")) == digest);
}

TEST_CASE("an S3 server that stalls every request for 2 s does not slow the application down") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createBank(db);
  const BackupTarget target(BackupTarget::Kind::kS3, dir);
  const S3Server& s3 = *target.s3();
  StallingProxy proxy(s3.port());
  const std::string url = s3.storeUrl("backup", proxy.url());
  PrimaryProcess primary(db, dir.file("primary"),
                         {"--backup", url, "--s3-credentials", s3.credentialsFile(),
                          "--backup-sync-interval", "20ms"});
  waitForCapture(primary.port());
  REQUIRE(waitForStatus(primary.port(), hasBackupPosition, scaled(30s)));

  const auto fast = timeTransfers(db, 300);
  proxy.setStall(2s);
  const int before = proxy.requestsStalled();
  const auto slow = timeTransfers(db, 300);
  MESSAGE("300 transfers: " << fast.count() << " ms with a fast store, " << slow.count()
                            << " ms with every request stalled 2 s");
  CHECK(slow < fast * 2 + 1s);
  CHECK(proxy.requestsStalled() > before);  // the backup was at work meanwhile

  proxy.setStall(0ms);
  CHECK(waitForStatus(primary.port(), backupCaughtUp, scaled(60s)));
  const std::string digest = backup::contentDigest(db);
  stopCleanly(primary);
  const RunResult r = restoreLatest(dir, url, s3, dir.file("restored.db"));
  INFO(r.err);
  REQUIRE(r.exitCode == 0);
  CHECK(backup::contentDigest(dir.file("restored.db")) == digest);
}

TEST_CASE("restore names an empty S3 prefix, a missing bucket and missing credentials") {
  TempDir dir;
  S3Server s3;
  const RunResult empty = restoreLatest(dir, s3.storeUrl("nothing"), s3, dir.file("a.db"));
  CHECK(empty.exitCode == 1);
  CHECK(empty.err.find("holds no backup") != std::string::npos);

  std::string missingBucket = s3.storeUrl("app");
  missingBucket.replace(5, s3.bucket().size(), "no-such-bucket");
  const RunResult missing = restoreLatest(dir, missingBucket, s3, dir.file("b.db"));
  CHECK(missing.exitCode == 1);
  CHECK(missing.err.find("NoSuchBucket") != std::string::npos);

  // Without --s3-credentials or the AWS_ variables: a usage error.
  if (std::getenv("AWS_ACCESS_KEY_ID") != nullptr) return;
  const RunResult noKeys =
      runToCompletion({WALSTREAM_BINARY, "restore", "-o", dir.file("c.db"), s3.storeUrl("app")},
                      dir.file("nokeys"), scaled(30s));
  CHECK(noKeys.exitCode == 2);
  CHECK(noKeys.err.find("AWS_ACCESS_KEY_ID") != std::string::npos);
}

// The read-only VFS (vfs/walstream_vfs.h, docs/vfs.md) against real backups: a real
// `walstream primary --backup` over a bank, read through the extension loaded into the stock
// sqlite3 shell and through the C API in this process, for file:// and s3:// stores. The content
// is the primary's at the backed-up position; readers checking the bank's invariant while the
// primary writes see new commits after a poll and never a torn state; writes fail and leave no
// file behind; an S3 server killed in the middle of a query gives a clean SQLITE_IOERR with its
// cause, and the same query succeeds once the server is back.
#include <doctest/doctest.h>

#include <signal.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "backup/content_digest.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "proto/query_string.h"
#include "tests/support/backup_target.h"
#include "tests/support/cluster.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/sanitizers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"
#include "vfs/walstream_vfs.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// The URI that opens the target's backup through the VFS, with `more` parameters ("poll=0").
std::string vfsUri(const std::string& name, const BackupTarget& target,
                   const std::string& more = "") {
  std::string uri = "file:" + name + "?vfs=walstream&backup=" + proto::percentEncode(target.url());
  if (target.s3() != nullptr)
    uri += "&s3-credentials=" + proto::percentEncode(target.s3()->credentialsFile());
  return more.empty() ? uri : uri + "&" + more;
}

void registerVfs() {
  REQUIRE(walstream_vfs_register("walstream", 0) == SQLITE_OK);
}

// Polls /status until the backup holds the primary's position `pos`.
void waitForBackupAt(uint16_t port, const Pos& pos) {
  for (const auto until = std::chrono::steady_clock::now() + scaled(60s);
       std::chrono::steady_clock::now() < until;) {
    const auto status = fetchStatus(port).databases.at(0);
    if (status.backup && status.backup->pos == pos.str()) return;
    std::this_thread::sleep_for(20ms);
  }
  FAIL("the backup did not reach " << pos.str());
}

std::string newBank(const TempDir& dir) {
  const std::string db = dir.file("app.db");
  createBank(db);
  return db;
}

// A primary backing up a bank; `transfers` done, captured and backed up when constructed.
struct BackedUpBank {
  BackedUpBank(const TempDir& dir, BackupTarget::Kind kind, int transfers)
      : db(newBank(dir)), target(kind, dir) {
    primary = std::make_unique<PrimaryProcess>(
        db, dir.file("primary"), target.backupFlags({"--backup-sync-interval", "50ms"}));
    waitForCapture(primary->port());
    run(transfers);
  }
  // Runs transfers, then waits until the backup holds them; returns that position.
  Pos run(int transfers) {
    {
      BankWriter writer(db, 0, transfers);
      writer.waitFor(transfers, scaled(60s));
    }
    const Pos pos = waitForCaptureIdle(primary->port(), "app.db");
    waitForBackupAt(primary->port(), pos);
    return pos;
  }
  const std::string db;
  const BackupTarget target;
  std::unique_ptr<PrimaryProcess> primary;
};

// The position a new read transaction through the VFS sees. walstream_vfs_position() alone reads
// no table, so it starts no read transaction and tells the view of the last one.
std::string freshPosition(SqliteConnection& c) {
  return c.queryText("SELECT walstream_vfs_position() FROM sqlite_schema LIMIT 1");
}

// Loads the extension into this process as any program would: the VFS registered from then on
// is the shared object's (registerVfs() afterwards finds the name taken and does nothing).
void loadExtension() {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(":memory:", &db) == SQLITE_OK);
  sqlite3_enable_load_extension(db, 1);
  char* error = nullptr;
  const int rc = sqlite3_load_extension(db, WALSTREAM_VFS_EXTENSION, nullptr, &error);
  INFO((error != nullptr ? error : ""));
  CHECK(rc == SQLITE_OK);
  sqlite3_free(error);
  sqlite3_close(db);
}

// The shell, with the sanitizer runtimes the extension needs under ASan.
std::vector<std::string> shellArgv() {
  std::vector<std::string> argv = {"/usr/bin/env"};
#ifdef WALSTREAM_SANITIZER_PRELOAD
  argv.push_back(std::string("LD_PRELOAD=") + WALSTREAM_SANITIZER_PRELOAD);
  argv.push_back("ASAN_OPTIONS=detect_leaks=0");  // the shell's own allocations at exit
#endif
  argv.push_back("/usr/bin/sqlite3");
  return argv;
}

// The extension's path without ".so": the spelling README shows (`.load build/libwalstream_vfs`).
std::string extensionStem() {
  std::string path = WALSTREAM_VFS_EXTENSION;
  return path.substr(0, path.size() - 3);
}

// Bank figures in one read transaction: "sum|count|n|max".
const char* kBankQuery =
    "SELECT (SELECT sum(bal) FROM acct) || '|' || (SELECT count(*) FROM log) || '|' || "
    "(SELECT v FROM meta WHERE k = 'n') || '|' || (SELECT coalesce(max(n), 0) FROM log)";

}  // namespace

TEST_CASE_TEMPLATE("the VFS reads the primary's content at the backed-up position", Store,
                   DirectoryBackups, S3Backups) {
  TempDir dir;
  BackedUpBank bank(dir, Store::kKind, 300);
  const Pos pos = bank.run(200);
  const std::string digest = backup::contentDigest(bank.db);
  SqliteConnection primaryDb(bank.db, SQLITE_OPEN_READONLY);
  const std::string figures = primaryDb.queryText(kBankQuery);
  loadExtension();

  {  // the C API in this process
    const std::string uri = vfsUri(dir.file("vfs.db"), bank.target, "poll=0");
    CHECK(backup::contentDigest(uri) == digest);
    SqliteConnection c(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    CHECK(c.queryText(kBankQuery) == figures);
    CHECK(c.queryText("SELECT walstream_vfs_position()") == pos.str());
    CHECK(c.queryText("PRAGMA integrity_check") == "ok");
    CHECK(c.queryText("PRAGMA journal_mode") == "delete");  // never WAL: no -wal, no -shm
    // A query that sorts in a temporary file of the default VFS.
    CHECK(c.queryInt("SELECT count(*) FROM (SELECT * FROM log ORDER BY random())") == 500);
  }
  {  // opened read-write: writes fail with SQLITE_READONLY and leave nothing on disk
    sqlite3* db = nullptr;
    const std::string uri = vfsUri(dir.file("vfs.db"), bank.target, "poll=0");
    REQUIRE(sqlite3_open_v2(uri.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, nullptr) ==
            SQLITE_OK);
    CHECK(sqlite3_db_readonly(db, "main") == 1);
    CHECK(sqlite3_exec(db, "UPDATE acct SET bal = bal + 1", nullptr, nullptr, nullptr) ==
          SQLITE_READONLY);
    CHECK(sqlite3_exec(db, "CREATE TABLE t(x)", nullptr, nullptr, nullptr) == SQLITE_READONLY);
    sqlite3_exec(db, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr);  // refused or not
    sqlite3_close(db);
    for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
      CHECK_MESSAGE(entry.path().filename().string().rfind("vfs.db", 0) != 0,
                    entry.path().string());
    }
  }
  if (kThreadSanitizer) {
    MESSAGE("skipped the sqlite3 shell under ThreadSanitizer (the release and ASan builds run it)");
    return;
  }
  {  // the stock sqlite3 shell: .load, then .open (a database named on the command line would
     // be opened before .load ran)
    const std::string script = ".load " + extensionStem() + "\n.open '" +
                               vfsUri("app.db", bank.target, "poll=0") + "'\n" + kBankQuery +
                               ";\nSELECT walstream_vfs_position();\nPRAGMA integrity_check;\n"
                               "INSERT INTO meta VALUES ('x', 1);\n";
    const RunResult r = runToCompletion(shellArgv(), dir.file("shell"), scaled(60s), script);
    INFO(r.err);
    CHECK(r.out == figures + "\n" + pos.str() + "\nok\n");
    CHECK(r.err.find("attempt to write a readonly database") != std::string::npos);
  }
  {  // README's one-liner, the backup named by WALSTREAM_VFS_BACKUP
    std::vector<std::string> argv = shellArgv();
    argv.insert(argv.begin() + 1, "WALSTREAM_VFS_BACKUP=" + bank.target.url());
    std::string uri = "file:app.db?vfs=walstream&poll=0";
    if (bank.target.s3() != nullptr) {
      uri += "&s3-credentials=" + proto::percentEncode(bank.target.s3()->credentialsFile());
    }
    for (const std::string& arg : {std::string("-cmd"), ".load " + extensionStem(),
                                   std::string("-cmd"), ".open '" + uri + "'"}) {
      argv.push_back(arg);
    }
    const RunResult r =
        runToCompletion(argv, dir.file("oneliner"), scaled(60s), std::string(kBankQuery) + ";\n");
    INFO(r.err);
    CHECK(r.exitCode == 0);
    CHECK(r.out == figures + "\n");
  }
}

TEST_CASE_TEMPLATE("readers through the VFS see new commits after a poll and never a torn state",
                   Store, DirectoryBackups, S3Backups) {
  TempDir dir;
  BackedUpBank bank(dir, Store::kKind, 50);
  registerVfs();
  const std::string uri = vfsUri(dir.file("vfs.db"), bank.target, "poll=100ms");
  std::atomic<bool> stop{false};
  std::atomic<int> violations{0}, reads{0}, moves{0};
  std::string firstProblem;
  std::mutex mu;
  auto reader = [&] {
    try {
      SqliteConnection c(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
      int64_t last = 0;
      while (!stop.load()) {
        int64_t sum = 0, count = 0, n = 0, max = 0;
        c.exec("BEGIN");
        sum = c.queryInt("SELECT sum(bal) FROM acct");
        count = c.queryInt("SELECT count(*) FROM log");
        n = c.queryInt("SELECT v FROM meta WHERE k = 'n'");
        max = c.queryInt("SELECT coalesce(max(n), 0) FROM log");
        c.exec("COMMIT");
        ++reads;
        if (sum != 0 || count != n || max != n || n < last) {
          ++violations;
          std::lock_guard lock(mu);
          if (firstProblem.empty()) {
            firstProblem = "sum " + std::to_string(sum) + " count " + std::to_string(count) +
                           " n " + std::to_string(n) + " max " + std::to_string(max) + " after n " +
                           std::to_string(last);
          }
        }
        if (n > last) ++moves;
        last = n;
      }
    } catch (const std::exception& e) {
      ++violations;
      std::lock_guard lock(mu);
      if (firstProblem.empty()) firstProblem = e.what();
    }
  };
  {
    std::jthread r1(reader), r2(reader);
    BankWriter writer(bank.db, 200, 1000000);
    writer.waitFor(600, scaled(60s));
    writer.stop();
    // The last commit becomes visible within a poll and a sync of the backup.
    const Pos pos = waitForCaptureIdle(bank.primary->port(), "app.db");
    waitForBackupAt(bank.primary->port(), pos);
    SqliteConnection check(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
    const auto until = std::chrono::steady_clock::now() + scaled(10s);
    while (freshPosition(check) != pos.str() && std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(20ms);
    }
    CHECK_MESSAGE(freshPosition(check) == pos.str(),
                  "the VFS's last poll error: " << check.queryText("SELECT walstream_vfs_error()"));
    CHECK(check.queryInt("SELECT v FROM meta WHERE k = 'n'") == 50 + writer.transfers());
    stop = true;
  }
  INFO(firstProblem);
  CHECK(violations.load() == 0);
  CHECK(reads.load() > 20);
  CHECK(moves.load() > 4);  // both readers moved forward several times while the writer ran
}

TEST_CASE("an S3 server killed in the middle of a query: a clean SQLITE_IOERR, then success") {
  TempDir dir;
  BackedUpBank bank(dir, BackupTarget::Kind::kS3, 3000);
  bank.primary->process().signal(SIGTERM);
  REQUIRE(bank.primary->process().wait(scaled(30s)) == 0);
  const std::string digest = backup::contentDigest(bank.db);
  registerVfs();
  // No cache: every page SQLite's own cache lacks is a request.
  const std::string uri = vfsUri(dir.file("vfs.db"), bank.target, "poll=0&cache-size=0");
  SqliteConnection c(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  {
    SqliteStatement scan(c, "SELECT n FROM log ORDER BY n");
    for (int i = 0; i < 10; ++i) REQUIRE(scan.step());
    bank.target.s3()->kill();
    std::string error;
    try {
      while (scan.step()) {
      }
    } catch (const Error& e) {
      error = e.what();
    }
    INFO(error);
    CHECK(error.find("disk I/O error") != std::string::npos);
    CHECK(sqlite3_extended_errcode(c.handle()) == SQLITE_IOERR_READ);
  }
  const std::string cause = c.queryText("SELECT walstream_vfs_error()");
  INFO(cause);
  CHECK(cause.find("generations/") != std::string::npos);  // names the object it could not read
  CHECK(cause.find(S3Server::kSecretAccessKey) == std::string::npos);

  bank.target.s3()->restart();
  CHECK(c.queryInt("SELECT count(*) FROM (SELECT n FROM log ORDER BY n)") == 3000);
  CHECK(backup::contentDigest(uri) == digest);
}

TEST_CASE("a poll that fails is told by walstream_vfs_error() until a poll succeeds") {
  TempDir dir;
  BackedUpBank bank(dir, BackupTarget::Kind::kS3, 50);
  registerVfs();
  const std::string uri = vfsUri(dir.file("vfs.db"), bank.target, "poll=100ms");
  SqliteConnection c(uri, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  REQUIRE(c.queryInt("SELECT v FROM meta WHERE k = 'n'") == 50);
  CHECK(c.queryText("SELECT walstream_vfs_error()").empty());

  bank.target.s3()->kill();
  std::string cause;
  for (const auto until = std::chrono::steady_clock::now() + scaled(10s);
       cause.empty() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(20ms);
    cause = c.queryText("SELECT walstream_vfs_error()");
  }
  INFO(cause);
  CHECK(cause.rfind("polling for new backup objects: ", 0) == 0);
  CHECK(cause.find(S3Server::kSecretAccessKey) == std::string::npos);

  bank.target.s3()->restart();
  const Pos pos = bank.run(20);
  for (const auto until = std::chrono::steady_clock::now() + scaled(10s);
       freshPosition(c) != pos.str() && std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(freshPosition(c) == pos.str());
  CHECK(c.queryText("SELECT walstream_vfs_error()").empty());
}

// The replica remembers which of the primary's databases LOCAL_DB is a replica of: a primary
// restarted on the same address serving another database is refused, with the real binaries.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <filesystem>
#include <regex>

#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/http_client.h"
#include "tests/support/process_stop.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

std::string bankDigest(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryText(
      "SELECT (SELECT v FROM meta) || ':' || (SELECT count(*) FROM log) || ':' || "
      "(SELECT group_concat(bal) FROM acct)");
}

uint16_t statusPort(Process& replica) {
  const std::string log = replica.waitForStderr("replica status: listening on", 10s);
  std::smatch m;
  REQUIRE(std::regex_search(log, m, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)")));
  return static_cast<uint16_t>(std::stoi(m[1]));
}

}  // namespace

TEST_CASE("a replica refuses a primary on the same address that serves another database") {
  TempDir dir;
  const std::string a = dir.file("a.db"), b = dir.file("b.db"), rep = dir.file("replica.db");
  createBank(a);
  createBank(b);
  {
    BankWriter writer(b, 0, 30);  // b differs from a
    writer.waitFor(30, 30s);
  }
  auto primary = std::make_unique<PrimaryProcess>(a, dir.file("primary-a"));
  const uint16_t port = primary->port();
  {
    BankWriter writer(a, 0, 50);
    writer.waitFor(50, 30s);
  }
  auto replica = std::make_unique<ReplicaProcess>(
      primary->url(), rep, dir.file("replica1"), std::vector<std::string>{"--http", "127.0.0.1:0"});
  REQUIRE(waitForConvergence(a, rep, 30s));
  CHECK(readFile(rep + "-walstream/db") == "db=a.db\n");
  const uint16_t status = statusPort(replica->process());
  CHECK(httpRequest(status, "/healthz").status == 200);

  // The primary is restarted on the same port serving b.db only.
  stopCleanly(primary->process());
  primary =
      std::make_unique<PrimaryProcess>(b, dir.file("primary-b"), std::vector<std::string>{}, port);
  const std::string before = bankDigest(rep);
  CHECK(replica->process().waitForStderr("does not serve a.db", 30s) != "");
  CHECK(replica->process().stderrText().find("configuration error") != std::string::npos);
  CHECK(httpRequest(status, "/healthz").status == 503);
  CHECK(httpRequest(status, "/status").body.find("does not serve a.db") != std::string::npos);
  CHECK(replica->snapshotsApplied() == 1);
  CHECK(bankDigest(rep) == before);
  CHECK(bankDigest(rep) == bankDigest(a));
  stopCleanly(replica->process());

  // A restarted replica still knows what LOCAL_DB is.
  replica = std::make_unique<ReplicaProcess>(primary->url(), rep, dir.file("replica2"));
  CHECK(replica->process().waitForStderr("does not serve a.db", 30s) != "");
  CHECK(replica->snapshotsApplied() == 0);
  CHECK(bankDigest(rep) == before);
  stopCleanly(replica->process());

  // Naming the database explicitly makes the replica follow it.
  replica = std::make_unique<ReplicaProcess>(primary->url(), rep, dir.file("replica3"),
                                             std::vector<std::string>{"--db", "b.db"});
  CHECK(waitForConvergence(b, rep, 30s));
  CHECK(replica->waitForSnapshots(1, 10s) == 1);
  CHECK(readFile(rep + "-walstream/db") == "db=b.db\n");
}

TEST_CASE("a replica whose LOCAL_DB was removed follows whatever database the primary serves") {
  TempDir dir;
  const std::string a = dir.file("a.db"), b = dir.file("b.db"), rep = dir.file("replica.db");
  createBank(a);
  createBank(b);
  {
    BankWriter writer(b, 0, 30);
    writer.waitFor(30, 30s);
  }
  auto primary = std::make_unique<PrimaryProcess>(a, dir.file("primary-a"));
  const uint16_t port = primary->port();
  {
    ReplicaProcess replica(primary->url(), rep, dir.file("replica1"));
    REQUIRE(waitForConvergence(a, rep, 30s));
    stopCleanly(replica.process());
  }
  stopCleanly(primary->process());
  primary =
      std::make_unique<PrimaryProcess>(b, dir.file("primary-b"), std::vector<std::string>{}, port);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    std::filesystem::remove(rep + suffix);
  }
  ReplicaProcess replica(primary->url(), rep, dir.file("replica2"));
  CHECK(waitForConvergence(b, rep, 30s));
  CHECK(readFile(rep + "-walstream/db") == "db=b.db\n");
}

// POST /promote on a running replica's status server with the real binaries (docs/promotion.md
// §5): the replica stops following, promotes LOCAL_DB as `walstream promote` does, answers and
// exits; the answers to a request without a token, to GET, to a second POST while one runs, and
// a promotion refused because LOCAL_DB was written behind the replica's back.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <future>
#include <optional>

#include "core/file_util.h"
#include "core/promotion_record.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/http_exchange.h"
#include "tests/support/process_stop.h"
#include "tests/support/promotion_fixture.h"
#include "tests/support/replica_with_status.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// `method /promote` with `authorization` ("" for none): the whole answer as sent.
std::string promoteRequest(uint16_t port, const std::string& method,
                           const std::string& authorization = "") {
  std::string request = method + " /promote HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
  request += "Content-Length: 0\r\nConnection: close\r\n\r\n";
  return httpExchange("127.0.0.1", port, request, scaled(60s));
}

int statusOf(const std::string& answer) {
  REQUIRE_MESSAGE(answer.rfind("HTTP/1.1 ", 0) == 0, answer);
  return std::stoi(answer.substr(9, 3));
}

std::string bodyOf(const std::string& answer) {
  const size_t end = answer.find("\r\n\r\n");
  return end == std::string::npos ? "" : answer.substr(end + 4);
}

std::string createdBank(const std::string& db) {
  createBank(db);
  return db;
}

// A replica of a bank primary with `transfers` transfers, converged, the writer stopped.
struct FollowingReplica {
  FollowingReplica(int transfers, const std::vector<std::string>& replicaFlags = {})
      : app(createdBank(dir.file("app.db"))), primary(app, dir.file("primary")) {
    std::vector<std::string> flags{"--upstream", primary.url()};
    flags.insert(flags.end(), replicaFlags.begin(), replicaFlags.end());
    replica.emplace(dir, flags);
    BankWriter writer(app, 0, transfers);
    writer.waitFor(transfers, scaled(30s));
    writer.stop();
    REQUIRE(waitForConvergence(app, replica->db, scaled(30s)));
  }

  TempDir dir;
  std::string app;
  PrimaryProcess primary;
  std::optional<ReplicaWithStatus> replica;
};

// POST /promote on `replica`, whose LOCAL_DB (holding `written`) was written behind its back:
// refused at step 2 with `reason`, nothing recorded, LOCAL_DB and the replica's files as they
// were, and `walstream promote` refuses it too.
void checkRefusedAsWritten(ReplicaWithStatus& replica, const std::string& written,
                           const std::string& reason, const TempDir& dir) {
  const std::string rep = replica.db;
  const std::string answer = promoteRequest(replica.port, "POST");
  CHECK(statusOf(answer) == 500);
  const std::string body = bodyOf(answer);
  CHECK(body.find("refusing to promote") != std::string::npos);
  CHECK(body.find(reason) != std::string::npos);
  CHECK(countOf(body, "\n") == 1);
  CHECK(replica.process.wait(scaled(20s)) == std::optional<int>(1));
  CHECK(replica.process.stderrText().find("the promotion failed: refusing to promote") !=
        std::string::npos);
  CHECK_FALSE(pathExists(promotedRecordPath(rep)));
  CHECK(pathExists(rep + "-walstream/position"));
  CHECK(bankDigest(rep) == written);
  const auto again = promote(rep, dir, "cli");
  CHECK(again.exitCode == 1);
  CHECK(again.err.find(reason) != std::string::npos);
}

}  // namespace

TEST_CASE("POST /promote promotes a running replica, which exits; a primary then serves it") {
  FollowingReplica f(200);
  const std::string rep = f.replica->db;
  const std::string atPromotion = bankDigest(f.app);

  const std::string answer = promoteRequest(f.replica->port, "POST");
  REQUIRE_MESSAGE(statusOf(answer) == 200, answer);
  CHECK(answer.find("Content-Type: text/plain") != std::string::npos);
  const std::string body = bodyOf(answer);
  CHECK(body.find("promoted " + rep + " at ") != std::string::npos);
  CHECK(body.find("old primary's database app.db") != std::string::npos);
  CHECK(body.find("every transaction the old primary committed after") != std::string::npos);
  CHECK(f.replica->process.wait(scaled(20s)) == std::optional<int>(0));
  CHECK(f.replica->process.stderrText().find("POST /promote: stopping to promote") !=
        std::string::npos);
  stopCleanly(f.primary.process());

  const auto record = loadPromotionRecord(promotedRecordPath(rep));
  REQUIRE(record.has_value());
  CHECK(record->checksum.has_value());
  CHECK(record->db == "app.db");
  CHECK(record->dbFile.has_value());
  CHECK(body.find(record->position.str()) != std::string::npos);
  CHECK_FALSE(pathExists(rep + "-walstream/position"));
  CHECK_FALSE(pathExists(rep + "-walstream/db"));
  CHECK(bankDigest(rep) == atPromotion);
  CHECK(integrity(rep) == "ok");
  {
    // Writable: a write lock is granted (and nothing written, so the file stamp stays).
    SqliteConnection c(rep);
    c.exec("BEGIN IMMEDIATE; ROLLBACK;");
  }

  PrimaryProcess primary(rep, f.dir.file("new-primary"));
  CHECK(primary.process().waitForStderr("where this database was promoted from a replica",
                                        scaled(10s)) != "");
  CHECK_FALSE(pathExists(promotedRecordPath(rep)));
  const std::vector<std::string> lineages = lineageFiles(rep);
  REQUIRE(lineages.size() == 1);
  CHECK(parsePromotionRecord(readFile(lineages.front()), lineages.front()) == *record);
  stopCleanly(primary.process());
}

TEST_CASE("POST /promote: 401 without the token, 405 for GET, 409 while a promotion runs") {
  TempDir tokens;
  const std::string token = "promote-token-5e2b90";
  writeFileAtomic(tokens.file("replica.tokens"), token + "\n");
  FollowingReplica f(50, {"--token-file", tokens.file("replica.tokens")});
  const std::string rep = f.replica->db;
  const uint16_t port = f.replica->port;

  for (const std::string& authorization :
       {std::string(), std::string("Bearer nope"), "Basic " + token, "Bearer " + token + "x"}) {
    CAPTURE(authorization);
    CHECK(statusOf(promoteRequest(port, "POST", authorization)) == 401);
  }
  const std::string get = promoteRequest(port, "GET", "Bearer " + token);
  CHECK(statusOf(get) == 405);
  CHECK(get.find("Allow: POST\r\n") != std::string::npos);
  CHECK(f.replica->process.running());
  CHECK_FALSE(pathExists(promotedRecordPath(rep)));

  // A reader whose snapshot is behind LOCAL_DB's WAL holds the promotion in its checkpoint
  // (step 4), so the second of two POSTs finds the first one running, whichever comes first.
  std::optional<SqliteConnection> reader(std::in_place, rep, SQLITE_OPEN_READONLY);
  reader->exec("BEGIN");
  const std::string before = reader->queryText("SELECT count(*) FROM log");
  {
    BankWriter writer(f.app, 0, 10);
    writer.waitFor(10, scaled(30s));
  }
  REQUIRE(waitForConvergence(f.app, rep, scaled(30s)));
  auto post = [&] { return promoteRequest(port, "POST", "Bearer " + token); };
  std::future<std::string> first = std::async(std::launch::async, post);
  std::future<std::string> second = std::async(std::launch::async, post);
  std::future<std::string>* promoting = nullptr;
  for (const auto deadline = std::chrono::steady_clock::now() + scaled(30s);
       promoting == nullptr && std::chrono::steady_clock::now() < deadline;) {
    if (first.wait_for(10ms) == std::future_status::ready) promoting = &second;
    if (second.wait_for(10ms) == std::future_status::ready) promoting = &first;
  }
  REQUIRE(promoting != nullptr);
  const std::string refused = (promoting == &first ? second : first).get();
  CHECK(statusOf(refused) == 409);
  CHECK(bodyOf(refused).find("a promotion of this replica is already running") !=
        std::string::npos);
  CHECK(promoting->wait_for(0s) == std::future_status::timeout);
  CHECK(reader->queryText("SELECT count(*) FROM log") == before);
  reader.reset();
  const std::string promoted = promoting->get();
  CHECK_MESSAGE(statusOf(promoted) == 200, promoted);
  CHECK(f.replica->process.wait(scaled(20s)) == std::optional<int>(0));
  stopCleanly(f.primary.process());
  CHECK(pathExists(promotedRecordPath(rep)));
  CHECK(bankDigest(rep) == bankDigest(f.app));
}

TEST_CASE("POST /promote refuses a LOCAL_DB written while the replica was stopped: 500, exit 1") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  makeStoppedReplica(app, rep, dir, 50);
  // The replica then runs without an upstream, so it cannot replace the state by a snapshot
  // before the promotion is asked for.
  transferWithShell(rep, dir);
  const std::string written = bankDigest(rep);
  ReplicaWithStatus replica(dir, {"--upstream", "http://127.0.0.1:1"});
  REQUIRE(replica.process.waitForStderr("has changed since the saved position", scaled(10s)) != "");
  checkRefusedAsWritten(replica, written, "has changed since the saved position", dir);
}

TEST_CASE("POST /promote refuses a LOCAL_DB written while the replica runs: 500, exit 1") {
  FollowingReplica f(50);
  // No apply comes after it (the writer has stopped), so only the stop can notice it: its
  // checkpoint must not copy it into the database file as if it were the primary's.
  transferWithShell(f.replica->db, f.dir);
  const std::string written = bankDigest(f.replica->db);
  CHECK(written != bankDigest(f.app));
  // The write is still in the WAL, which has frames the saved position does not describe.
  checkRefusedAsWritten(*f.replica, written, "is not where the saved position", f.dir);
  CHECK(f.replica->process.stderrText().find("was written locally since the last apply") !=
        std::string::npos);
  stopCleanly(f.primary.process());
}

TEST_CASE("POST /promote on a replica that has no snapshot yet: 500, exit 1, nothing created") {
  TempDir dir;
  ReplicaWithStatus replica(dir, {"--upstream", "http://127.0.0.1:1"});
  const std::string answer = promoteRequest(replica.port, "POST");
  CHECK(statusOf(answer) == 500);
  CHECK(bodyOf(answer) == replica.db + " does not exist\n");
  CHECK(replica.process.wait(scaled(20s)) == std::optional<int>(1));
  CHECK_FALSE(pathExists(replica.db));
  CHECK_FALSE(pathExists(promotedRecordPath(replica.db)));
}

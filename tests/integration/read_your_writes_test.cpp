// Read-your-writes with the real binaries (docs/read-your-writes.md): a writer that commits on
// the primary, asks POST /sync there and GET /wait on the replica, then reads its row on the
// replica in a fresh read transaction, never misses it; the 400, 404, 405, 408 and 409 answers;
// a flood of /wait requests beyond --max-waiters is refused with 503 while the replica goes on
// applying; a /sync to a primary whose capture cannot run times out cleanly.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/file_util.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/contains.h"
#include "tests/support/http_client.h"
#include "tests/support/replica_with_status.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// The position a 200 answer of /sync, /pos or /wait names.
std::string posOf(const HttpResponse& r) {
  return nlohmann::json::parse(r.body).at("pos").get<std::string>();
}

std::string errorOf(const HttpResponse& r) {
  return nlohmann::json::parse(r.body).at("error").get<std::string>();
}

// A position in `pos`'s generation far beyond anything the test writes.
std::string farAhead(const std::string& pos) {
  Pos p = parsePos(pos);
  p.index += 1000;
  return p.str();
}

// A GET sent on a connection of its own whose answer is read only later (or never): a waiter
// held open by the client.
class PendingRequest {
 public:
  PendingRequest(uint16_t port, const std::string& target) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM, 0));
    REQUIRE(fd_.valid());
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const std::string req = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    REQUIRE(::send(fd_.get(), req.data(), req.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(req.size()));
  }
  // The answer's status line, once the server closes the connection (bounded by `timeout`).
  std::string statusLine(std::chrono::milliseconds timeout) {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      timeval tv{0, 100000};
      ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
      if (n == 0) break;
      if (n > 0) text.append(buf, static_cast<size_t>(n));
    }
    return text.substr(0, text.find("\r\n"));
  }

 private:
  UniqueFd fd_;
};

struct Cluster {
  explicit Cluster(std::vector<std::string> replicaFlags = {},
                   std::vector<std::string> primaryFlags = {})
      : db(dir.file("app.db")),
        writer(openRowsDatabase(db)),
        primary(db, dir.file("primary"), primaryFlags),
        replica(dir, [&] {
          std::vector<std::string> flags{"--upstream", primary.url()};
          flags.insert(flags.end(), replicaFlags.begin(), replicaFlags.end());
          return flags;
        }()) {
    replica.waitStatus([](const nlohmann::json& s) { return s.at("snapshots_applied") == 1; });
  }

  HttpResponse sync(const std::string& query = "timeout=5s") {
    return httpRequest(primary.port(), "/sync?" + query, scaled(10s), "POST");
  }
  HttpResponse wait(const std::string& query) {
    return httpRequest(replica.port, "/wait?" + query, scaled(70s));
  }

  TempDir dir;
  std::string db;
  std::unique_ptr<SqliteConnection> writer;
  PrimaryProcess primary;
  ReplicaWithStatus replica;
};

}  // namespace

TEST_CASE("a writer reads its own commit on the replica after /sync and /wait, 1,000 times") {
  Cluster c;
  SqliteConnection reader(c.replica.db, SQLITE_OPEN_READONLY);
  int missed = 0;
  for (int i = 1; i <= 1000; ++i) {
    c.writer->exec("INSERT INTO t(id, v) VALUES (" + std::to_string(i) + ", 'row')");
    const HttpResponse synced = c.sync();
    REQUIRE_MESSAGE(synced.status == 200, synced.body);
    const HttpResponse waited = c.wait("pos=" + posOf(synced) + "&timeout=10s");
    REQUIRE_MESSAGE(waited.status == 200, waited.body);
    // An autocommit SELECT is a read transaction begun now, after /wait answered.
    if (reader.queryInt("SELECT count(*) FROM t WHERE id = " + std::to_string(i)) != 1) ++missed;
  }
  CHECK(missed == 0);
  // The positions are the ones /pos and /status name.
  const HttpResponse pos = httpRequest(c.primary.port(), "/pos?db=app.db");
  REQUIRE(pos.status == 200);
  CHECK(nlohmann::json::parse(pos.body).at("db") == "app.db");
  CHECK(c.wait("pos=" + posOf(pos) + "&timeout=5s").status == 200);
}

TEST_CASE("bad requests get a 400, 404 or 405 that says what is wrong") {
  Cluster c;
  const std::string pos = posOf(c.sync());
  struct Case {
    HttpResponse r;
    int status;
    std::string says;
  };
  const std::vector<Case> cases = {
      {c.wait("timeout=1s"), 400, "missing pos"},
      {c.wait("pos=12/34:56"), 400, "GENERATION/INDEX:OFFSET"},
      {c.wait("pos=" + pos + "&timeout=61s"), 400, "over the maximum"},
      {c.wait("pos=" + pos + "&timeout=soon"), 400, "invalid timeout"},
      {c.wait("pos=" + pos + "&timout=1s"), 400, "unknown parameter"},
      {c.sync("timeout=2m"), 400, "invalid timeout"},
      {c.sync("timeout=60001ms"), 400, "over the maximum"},
      {c.sync("db=other.db"), 404, "not served"},
      {httpRequest(c.primary.port(), "/sync"), 405, "GET"},
      {httpRequest(c.primary.port(), "/pos?pos=" + pos), 400, "unknown parameter"},
  };
  for (const Case& k : cases) {
    CAPTURE(k.r.body);
    CHECK(k.r.status == k.status);
    CHECK(contains(k.r.body, k.says));
  }
  CHECK(c.wait("pos=" + pos + "&timeout=0").status == 200);  // nothing was lost meanwhile
}

TEST_CASE("/wait times out with 408 for a position not applied, 409 for a generation left") {
  Cluster c;
  const std::string before = posOf(c.sync());
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse ahead = c.wait("pos=" + farAhead(before) + "&timeout=300ms");
  CHECK(ahead.status == 408);
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
  CHECK(contains(errorOf(ahead), "was not applied within"));
  // A generation the replica never saw: it may yet come (a new one), so the answer is 408.
  const HttpResponse unseen =
      c.wait("pos=00000000000000aa/0000000000000000:0000000000000020&timeout=100ms");
  CHECK(unseen.status == 408);
  CHECK(contains(errorOf(unseen), "in another generation"));

  // The primary starts a new generation (its shadow WAL gone): the replica follows it with a
  // snapshot and has left the old generation, whose positions it can never apply again.
  const uint16_t port = c.primary.port();
  c.primary.process().signal(SIGTERM);
  const std::optional<int> exit = c.primary.process().wait(scaled(20s));
  CAPTURE(c.primary.process().stderrText());
  REQUIRE(exit.has_value());
  CHECK(*exit == 0);
  std::filesystem::remove_all(c.db + "-walstream");
  PrimaryProcess restarted(c.db, c.dir.file("primary2"), {}, port);
  c.writer->exec("INSERT INTO t(v) VALUES ('new generation')");
  const HttpResponse synced = httpRequest(port, "/sync?timeout=5s", scaled(10s), "POST");
  REQUIRE(synced.status == 200);
  CHECK(parsePos(posOf(synced)).generation != parsePos(before).generation);
  CHECK(c.wait("pos=" + posOf(synced) + "&timeout=30s").status == 200);
  const HttpResponse left = c.wait("pos=" + before + "&timeout=5s");
  CHECK(left.status == 409);
  CHECK(contains(errorOf(left), "has left"));
}

TEST_CASE("a flood of /wait requests beyond --max-waiters gets 503 while the replica applies") {
  Cluster c({"--max-waiters", "8"});
  const std::string now = posOf(c.sync());
  const std::string never =
      "pos=" + farAhead(now) + "&timeout=" + std::to_string(scaled(5s).count()) + "ms";
  std::vector<std::unique_ptr<PendingRequest>> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(std::make_unique<PendingRequest>(c.replica.port, "/wait?" + never));
  }
  // Once all eight wait, a ninth is refused at once, whatever it asks.
  HttpResponse refused;
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  do {
    refused = c.wait("pos=" + now + "&timeout=0");
  } while (refused.status != 503 && std::chrono::steady_clock::now() < deadline);
  REQUIRE(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(contains(errorOf(refused), "--max-waiters"));
  // The replica goes on applying meanwhile.
  c.writer->exec("INSERT INTO t(v) VALUES ('during the flood')");
  const std::string next = posOf(c.sync());
  c.replica.waitStatus([&](const nlohmann::json& s) { return s.at("pos") == next; });
  SqliteConnection reader(c.replica.db, SQLITE_OPEN_READONLY);
  CHECK(reader.queryInt("SELECT count(*) FROM t WHERE v = 'during the flood'") == 1);
  // Each held waiter ends with its timeout, and /wait answers again.
  for (auto& h : held) CHECK(contains(h->statusLine(scaled(15s)), " 408 "));
  CHECK(c.wait("pos=" + next + "&timeout=1s").status == 200);
}

TEST_CASE("/sync to a primary whose capture cannot open times out cleanly, then recovers") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  auto writer = openRowsDatabase(db);
  writer->exec("INSERT INTO t(v) VALUES ('before')");
  // The application holds its write lock: capture cannot open (it waits for that lock, bounded
  // by --busy-timeout, and retries).
  writer->exec("BEGIN IMMEDIATE");
  PrimaryProcess primary(db, dir.file("primary"), {"--busy-timeout", "100ms"});
  const auto start = std::chrono::steady_clock::now();
  const HttpResponse timedOut =
      httpRequest(primary.port(), "/sync?timeout=500ms", scaled(10s), "POST");
  CHECK(timedOut.status == 408);
  CHECK(std::chrono::steady_clock::now() - start >= 500ms);
  CHECK(contains(errorOf(timedOut), "did not publish"));
  CHECK(contains(errorOf(timedOut), "not running"));
  CHECK(httpRequest(primary.port(), "/pos").status == 503);
  writer->exec("COMMIT");
  const HttpResponse synced = httpRequest(primary.port(), "/sync?timeout=30s", scaled(40s), "POST");
  CHECK(synced.status == 200);
}

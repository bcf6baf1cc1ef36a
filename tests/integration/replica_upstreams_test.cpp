// Several upstreams (--upstream given more than once, or a list in --config): the replica
// follows the first it reaches, and when that one fails moves to the next, resuming at its
// applied position without a snapshot when the next one serves the same generation; /status
// names the upstream followed. Here the two upstreams are two addresses of one primary: a TCP
// proxy in front of it, then its own port.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"
#include "tests/support/replica_with_status.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/stalling_proxy.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

void insertRows(SqliteConnection& db, int n, const std::string& tag) {
  for (int i = 0; i < n; ++i) db.exec("INSERT INTO t(v) VALUES ('" + tag + "')");
}

// An address nothing listens on: a port bound, then closed again.
std::string refusingUrl() {
  uint16_t port = 0;
  { UniqueFd bound = listenOnLoopback(port); }
  return "http://127.0.0.1:" + std::to_string(port);
}

}  // namespace

TEST_CASE(
    "a replica moves to the next upstream when the one it follows fails, without a snapshot") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  auto writer = openRowsDatabase(db);
  insertRows(*writer, 50, "before");
  PrimaryProcess primary(db, dir.file("primary"));
  auto proxy = std::make_unique<StallingProxy>(primary.port());
  const std::string viaProxy = proxy->url();
  ReplicaWithStatus replica(dir, {"--upstream", viaProxy, "--upstream", primary.url()});
  nlohmann::json status = replica.waitStatus(
      [](const nlohmann::json& s) { return s.at("snapshots_applied") == 1 && s.at("connected"); });
  CHECK(status.at("upstream") == viaProxy);
  insertRows(*writer, 50, "through the proxy");
  REQUIRE(waitForConvergence(db, replica.db, 30s));

  // The proxy goes, and with it the stream: the replica follows the primary's own address from
  // its position.
  proxy.reset();
  insertRows(*writer, 50, "after the proxy");
  REQUIRE(waitForConvergence(db, replica.db, 30s));
  status = replica.waitStatus([&](const nlohmann::json& s) {
    return s.at("upstream") == primary.url() && s.at("connected") == true;
  });
  CHECK(status.at("snapshots_applied") == 1);
  const std::string log = replica.process.stderrText();
  CAPTURE(log);
  CHECK(countOf(log, "leaving " + viaProxy) >= 1);
  CHECK(countOf(log, "receiving a snapshot") == 1);
  replica.stop();
}

TEST_CASE("a primary restarted on another port, same database and shadow WAL: no snapshot") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  auto writer = openRowsDatabase(db);
  insertRows(*writer, 30, "before");
  auto first = std::make_unique<PrimaryProcess>(db, dir.file("first"));
  const std::string firstUrl = first->url();
  // The second address: a port free now, where the primary will come back.
  const std::string secondUrl = refusingUrl();
  ReplicaWithStatus replica(dir, {"--upstream", firstUrl, "--upstream", secondUrl});
  replica.waitStatus([](const nlohmann::json& s) { return s.at("snapshots_applied") == 1; });
  REQUIRE(waitForConvergence(db, replica.db, 30s));
  const std::string generation = replica.status().at("pos").get<std::string>().substr(0, 16);

  first->process().signal(SIGTERM);
  REQUIRE(first->process().wait(scaled(20s)) == 0);
  first.reset();
  insertRows(*writer, 30, "while no primary runs");
  const uint16_t secondPort =
      static_cast<uint16_t>(std::stoi(secondUrl.substr(secondUrl.rfind(':') + 1)));
  PrimaryProcess second(db, dir.file("second"), {}, secondPort);
  insertRows(*writer, 30, "after the restart");
  REQUIRE(waitForConvergence(db, replica.db, 30s));
  const nlohmann::json status = replica.waitStatus(
      [&](const nlohmann::json& s) { return s.at("upstream") == secondUrl && s.at("connected"); });
  CHECK(status.at("snapshots_applied") == 1);
  CHECK(status.at("pos").get<std::string>().substr(0, 16) == generation);
  CHECK(countOf(replica.process.stderrText(), "receiving a snapshot") == 1);
  replica.stop();
}

TEST_CASE("a replica follows the first upstream it reaches, from the flags or the config file") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  auto writer = openRowsDatabase(db);
  insertRows(*writer, 20, "rows");
  PrimaryProcess primary(db, dir.file("primary"));
  const std::string refused = refusingUrl();
  SUBCASE("flags") {
    ReplicaWithStatus replica(dir, {"--upstream", refused, "--upstream", primary.url()});
    const nlohmann::json status =
        replica.waitStatus([](const nlohmann::json& s) { return s.at("snapshots_applied") == 1; });
    CHECK(status.at("upstream") == primary.url());
    REQUIRE(waitForConvergence(db, replica.db, 30s));
    replica.stop();
  }
  SUBCASE("config file") {
    const std::string config = dir.file("replica.yml");
    std::ofstream(config) << "upstream:\n  - " << refused << "\n  - " << primary.url() << "\n";
    ReplicaWithStatus replica(dir, {"--config", config});
    const nlohmann::json status =
        replica.waitStatus([](const nlohmann::json& s) { return s.at("snapshots_applied") == 1; });
    CHECK(status.at("upstream") == primary.url());
    REQUIRE(waitForConvergence(db, replica.db, 30s));
    replica.stop();
  }
}

// The real replica following a primary of the original 2022 protocol (docs/wire-format.md §9),
// played by OriginalPrimary (tests/support/original_primary.h) over a real SQLite database the
// test writes: path= and generation=&index= requests, a raw snapshot of the database file at
// offset 0, each index's WAL from offset 0 in lz4 frames without a content size, no heartbeats.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "proto/query_string.h"
#include "tests/support/cluster.h"
#include "tests/support/contains.h"
#include "tests/support/hostile_stream.h"
#include "tests/support/http_client.h"
#include "tests/support/original_primary.h"
#include "tests/support/process.h"
#include "tests/support/replica_with_status.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

constexpr uint64_t kGeneration = 0x00c0ffee00c0ffeeULL;
constexpr uint64_t kIndex = 7;

WalDbOptions walDbOptions() {
  WalDbOptions o;
  o.autocheckpointPages = 0;
  o.keepWalOnClose = true;
  return o;
}

// A source database as an original primary's application writes it: WAL mode, never
// checkpointed behind the double's back.
struct Source {
  Source(const TempDir& dir, const std::string& name)
      : path(dir.file(name)), conn(openWalDatabase(path, walDbOptions())) {
    conn->exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v TEXT, b BLOB)");
  }
  // `n` transactions of one row each, `tag` in every row.
  void write(int n, const std::string& tag) {
    for (int i = 0; i < n; ++i) {
      conn->exec("INSERT INTO t(v, b) VALUES ('" + tag + " " + std::to_string(i) +
                 "', randomblob(1500))");
    }
  }

  std::string path;
  std::unique_ptr<SqliteConnection> conn;
};

// A replica of dir/replica.db following the double, naming the database by its path.
struct Replica : ReplicaWithStatus {
  Replica(const TempDir& dir, const std::string& upstream, const std::string& dbPath,
          std::vector<std::string> extra)
      : ReplicaWithStatus(dir, [&] {
          std::vector<std::string> flags{"--upstream", upstream, "--db", dbPath};
          flags.insert(flags.end(), extra.begin(), extra.end());
          return flags;
        }()) {}
};

std::string resumeQuery(uint64_t index) {
  return "generation=" + formatHex16(kGeneration) + "&index=" + formatHex16(index);
}

// The double for `db` under the test's generation and index, answering to `as` (default: `db`).
OriginalPrimary::Options served(const std::string& db, uint16_t port = 0,
                                const std::string& as = "") {
  OriginalPrimary::Options o;
  o.dbPath = db;
  o.servedPath = as;
  o.generation = kGeneration;
  o.index = kIndex;
  o.port = port;
  return o;
}

std::string integrityOf(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryText("PRAGMA integrity_check");
}

}  // namespace

TEST_CASE("the replica follows a primary of the original protocol to its exact content") {
  TempDir dir;
  Source source(dir, "source.db");
  source.write(20, "before");
  OriginalPrimary primary(served(source.path));
  Replica replica(dir, primary.url(), source.path, {"--upstream-protocol", "original"});
  REQUIRE(waitForConvergence(source.path, replica.db, 30s));
  // Live: transactions as they come, across two WAL index changes (no index-end records).
  source.write(30, "live");
  primary.startNextIndex(*source.conn);
  source.write(30, "next index");
  primary.startNextIndex(*source.conn);
  source.write(5, "third index");
  REQUIRE(waitForConvergence(source.path, replica.db, 30s));
  CHECK(integrityOf(replica.db) == "ok");

  const auto status = replica.status();
  CHECK(status["upstream_protocol"] == "original");
  CHECK(status["snapshots_applied"] == 1);
  CHECK(status["pos"].get<std::string>().starts_with(formatHex16(kGeneration) + "/" +
                                                     formatHex16(kIndex + 2) + ":"));
  const std::vector<std::string> targets = primary.targets();
  REQUIRE(targets.size() == 1);
  CHECK(targets[0] == "/stream?path=" + proto::percentEncode(source.path));
  CHECK(primary.snapshotsSent() == 1);
  replica.stop();
}

TEST_CASE("an idle stream from a primary that sends no heartbeats is kept") {
  TempDir dir;
  Source source(dir, "source.db");
  source.write(5, "first");
  OriginalPrimary primary(served(source.path));
  // The shortest stall timeout and heartbeat: a walstream primary this silent would be dropped
  // after 3 s (5 missed heartbeats, at least 3 s).
  Replica replica(
      dir, primary.url(), source.path,
      {"--upstream-protocol", "original", "--stall-timeout", "1s", "--heartbeat", "100ms"});
  REQUIRE(waitForConvergence(source.path, replica.db, 30s));
  REQUIRE(replica.waitStatus([](const auto& s) { return s["connected"] == true; })["connected"] ==
          true);
  // Idle for longer than the silence limit and the stall timeout together: the passing time is
  // what is tested here.
  std::this_thread::sleep_for(5s);
  CHECK(primary.targets().size() == 1);
  const auto idle = replica.status();
  CHECK(idle["connected"] == true);
  CHECK(idle["last_error"] == "");
  // The same stream still carries what comes next.
  source.write(3, "after the pause");
  REQUIRE(waitForConvergence(source.path, replica.db, 30s));
  CHECK(primary.targets().size() == 1);
  CHECK_FALSE(contains(replica.process.stderrText(), "disconnected"));
  replica.stop();
}

TEST_CASE("after a restart of the primary mid-index, the resent index is verified and skipped") {
  TempDir dir;
  Source source(dir, "source.db");
  source.write(20, "before");
  uint16_t port = 0;
  std::string firstTarget;
  // --upstream-protocol auto (the default): the first request is walstream's, naming the
  // database by path=; the answer shows the original protocol, and the replica resumes in its
  // form from then on.
  std::optional<Replica> replica;
  {
    OriginalPrimary primary(served(source.path));
    port = primary.port();
    replica.emplace(dir, primary.url(), source.path, std::vector<std::string>{});
    REQUIRE(waitForConvergence(source.path, replica->db, 30s));
    firstTarget = primary.targets().at(0);
  }  // the primary stops mid-index, the stream breaks
  CHECK(contains(firstTarget, "path=" + proto::percentEncode(source.path)));
  CHECK_FALSE(contains(firstTarget, "db="));
  source.write(10, "while the primary was down");

  OriginalPrimary restarted(served(source.path, port));
  REQUIRE(waitForConvergence(source.path, replica->db, 30s));
  source.write(5, "after the restart");
  REQUIRE(waitForConvergence(source.path, replica->db, 30s));
  CHECK(integrityOf(replica->db) == "ok");
  const std::vector<std::string> targets = restarted.targets();
  REQUIRE_FALSE(targets.empty());
  CHECK(contains(targets[0], resumeQuery(kIndex)));
  CHECK_FALSE(contains(targets[0], "pos="));
  CHECK(restarted.snapshotsSent() == 0);
  const auto status = replica->status();
  CHECK(status["snapshots_applied"] == 1);
  CHECK(status["upstream_protocol"] == "original");
  replica->stop();
}

TEST_CASE("a resent index that is not the WAL the replica applied forces a new snapshot") {
  TempDir dir;
  Source first(dir, "first.db");
  first.write(20, "first");
  uint16_t port = 0;
  std::optional<Replica> replica;
  {
    OriginalPrimary primary(served(first.path));
    port = primary.port();
    replica.emplace(dir, primary.url(), first.path,
                    std::vector<std::string>{"--upstream-protocol", "original"});
    REQUIRE(waitForConvergence(first.path, replica->db, 30s));
  }
  // The primary comes back with another WAL under the same generation and index (its database
  // was replaced): the replica must not apply anything on top of what it has.
  Source second(dir, "second.db");
  second.write(40, "second");
  OriginalPrimary restarted(served(second.path, port, first.path));
  REQUIRE(waitForConvergence(second.path, replica->db, 30s));
  CHECK(integrityOf(replica->db) == "ok");
  const std::vector<std::string> targets = restarted.targets();
  REQUIRE(targets.size() >= 2);
  CHECK(contains(targets[0], resumeQuery(kIndex)));
  CHECK_FALSE(contains(targets.back(), "generation="));  // asked afresh: a snapshot
  CHECK(restarted.snapshotsSent() == 1);
  const auto status = replica->status();
  CHECK(status["snapshots_applied"] == 2);
  CHECK(contains(replica->process.stderrText(), "salts"));
  replica->stop();
}

// Cascading replicas (docs/cascading.md): a replica run with --serve-stream serves downstream
// replicas from what it has applied, at the primary's positions and generations, so that a
// downstream resumes from it, or moves between it and the primary, without a snapshot.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <memory>
#include <regex>
#include <string>

#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/loopback_server.h"
#include "tests/support/process.h"
#include "tests/support/process_stop.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// A replica that serves the stream, on `port` (0: an ephemeral one).
struct RelayReplica {
  RelayReplica(const std::string& upstream, const std::string& localDb, const std::string& log,
               std::vector<std::string> extraFlags = {}, uint16_t port = 0)
      : process([&] {
          extraFlags.insert(extraFlags.begin(),
                            {"--serve-stream", "127.0.0.1:" + std::to_string(port)});
          return ReplicaProcess(upstream, localDb, log, extraFlags);
        }()),
        url(waitForServedStream(process.process(), 30s)) {}

  uint16_t port() const { return static_cast<uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))); }

  ReplicaProcess process;
  std::string url;
};

// `n` transfers on the primary, as fast as it takes them.
void transfer(const std::string& app, int n) {
  BankWriter writer(app, 0, n);
  writer.waitFor(n, scaled(30s));
}

// A bank on a primary, the paths of a relay A and a downstream B, and the processes a test
// starts, stopped cleanly in order (downstream, relay, primary) at the end.
struct BankChain {
  BankChain() : primary((createBank(app), app), dir.file("primary")) {}
  void stopAll() {
    stopCleanly(downstream->process());
    stopCleanly(relay->process.process());
    stopCleanly(primary.process());
  }

  TempDir dir;
  const std::string app = dir.file("app.db"), a = dir.file("a.db"), b = dir.file("b.db");
  PrimaryProcess primary;
  std::unique_ptr<RelayReplica> relay;
  std::unique_ptr<ReplicaProcess> downstream;
};

}  // namespace

TEST_CASE(
    "primary -> A -> B under the bank workload: B converges, readers see no torn state, "
    "and B resumes from A after a restart without a snapshot") {
  TempDir dir;
  const std::string app = dir.file("app.db"), a = dir.file("a.db"), b = dir.file("b.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"), {"--min-checkpoint-pages", "200"});
  BankWriter writer(app, 300, 1'000'000);
  writer.waitFor(50, scaled(30s));
  RelayReplica relay(primary.url(), a, dir.file("a"), {"--min-checkpoint-pages", "300"});
  auto downstream = std::make_unique<ReplicaProcess>(relay.url, b, dir.file("b"));
  const std::string late = dir.file("late.db");
  {
    BankReader reader(b, /*quickCheck=*/true);
    writer.waitFor(writer.transfers() + 300, scaled(60s));
    // Bootstraps from A while A's WAL holds frames: the image overlays them on A's file.
    ReplicaProcess lateDownstream(relay.url, late, dir.file("late"));
    writer.waitFor(writer.transfers() + 300, scaled(60s));
    writer.stop();
    CHECK(waitForConvergence(app, a, scaled(60s)));
    CHECK(waitForConvergence(app, b, scaled(60s)));
    CHECK(waitForConvergence(app, late, scaled(60s)));
    CHECK(lateDownstream.waitForSnapshots(1, scaled(10s)) == 1);
    const std::string relayLog = relay.process.process().stderrText();
    CAPTURE(relayLog);
    CHECK(std::regex_search(relayLog, std::regex("LOCAL_DB's WAL at frame [1-9]")));
    stopCleanly(lateDownstream.process());
    SqliteConnection c(late, SQLITE_OPEN_READONLY);
    CHECK(c.queryText("PRAGMA integrity_check") == "ok");
    reader.stop();
    CHECK(reader.reads() > 10);
    CHECK_MESSAGE(reader.violations() == 0, reader.firstProblem());
  }
  CHECK(downstream->waitForSnapshots(1, scaled(10s)) == 1);

  // B stops; the primary goes on; B comes back and resumes from A where it was.
  stopCleanly(downstream->process());
  downstream.reset();
  {
    BankWriter more(app, 0, 300);
    more.waitFor(300, scaled(60s));
  }
  downstream = std::make_unique<ReplicaProcess>(relay.url, b, dir.file("b2"));
  CHECK(waitForConvergence(app, b, scaled(60s)));
  const std::string log = downstream->process().stderrText();
  CAPTURE(log);
  CHECK(downstream->snapshotsApplied() == 0);
  CHECK(countOf(log, "receiving a snapshot") == 0);
  {
    SqliteConnection c(b, SQLITE_OPEN_READONLY);
    CHECK(c.queryText("PRAGMA integrity_check") == "ok");
  }
  stopCleanly(downstream->process());
  stopCleanly(relay.process.process());
  stopCleanly(primary.process());
}

TEST_CASE(
    "kill -9 of the middle replica: B moves to the primary without a snapshot, C waits "
    "for A's restart, and both converge with the invariant intact") {
  TempDir dir;
  const std::string app = dir.file("app.db"), a = dir.file("a.db"), b = dir.file("b.db"),
                    c = dir.file("c.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"), {"--min-checkpoint-pages", "200"});
  BankWriter writer(app, 300, 1'000'000);
  writer.waitFor(50, scaled(30s));
  auto relay = std::make_unique<RelayReplica>(primary.url(), a, dir.file("a"));
  const std::string relayUrl = relay->url;
  const uint16_t relayPort = relay->port();
  ReplicaProcess viaRelayThenPrimary(relayUrl, b, dir.file("b"), {"--upstream", primary.url()});
  ReplicaProcess viaRelayOnly(relayUrl, c, dir.file("c"));
  BankReader readerB(b, /*quickCheck=*/true);
  BankReader readerC(c);
  REQUIRE(viaRelayThenPrimary.waitForSnapshots(1, scaled(30s)) == 1);
  REQUIRE(viaRelayOnly.waitForSnapshots(1, scaled(30s)) == 1);
  writer.waitFor(writer.transfers() + 300, scaled(60s));

  relay->process.process().signal(SIGKILL);
  relay->process.process().wait(scaled(10s));
  relay.reset();
  writer.waitFor(writer.transfers() + 300, scaled(60s));
  relay = std::make_unique<RelayReplica>(primary.url(), a, dir.file("a2"),
                                         std::vector<std::string>{}, relayPort);
  writer.waitFor(writer.transfers() + 300, scaled(60s));
  writer.stop();
  CHECK(waitForConvergence(app, a, scaled(60s)));
  CHECK(waitForConvergence(app, b, scaled(60s)));
  CHECK(waitForConvergence(app, c, scaled(60s)));
  readerB.stop();
  readerC.stop();
  CHECK_MESSAGE(readerB.violations() == 0, readerB.firstProblem());
  CHECK_MESSAGE(readerC.violations() == 0, readerC.firstProblem());
  const std::string logB = viaRelayThenPrimary.process().stderrText();
  CAPTURE(logB);
  CHECK(countOf(logB, "leaving " + relayUrl) >= 1);
  // The primary had B's position: no second snapshot.
  CHECK(viaRelayThenPrimary.snapshotsApplied() == 1);
  stopCleanly(viaRelayThenPrimary.process());
  stopCleanly(viaRelayOnly.process());
  stopCleanly(relay->process.process());
  stopCleanly(primary.process());
}

TEST_CASE("a downstream ahead of the relay is told to retry, never sent an older state") {
  BankChain chain;
  transfer(chain.app, 100);
  chain.relay = std::make_unique<RelayReplica>(chain.primary.url(), chain.a, chain.dir.file("a"));
  REQUIRE(waitForConvergence(chain.app, chain.a, scaled(30s)));
  stopCleanly(chain.relay->process.process());

  // B follows the primary further than A went.
  chain.downstream =
      std::make_unique<ReplicaProcess>(chain.primary.url(), chain.b, chain.dir.file("b"));
  transfer(chain.app, 100);
  REQUIRE(waitForConvergence(chain.app, chain.b, scaled(30s)));
  stopCleanly(chain.downstream->process());

  // A comes back with no upstream it can reach: it serves what it has, behind B.
  chain.relay = std::make_unique<RelayReplica>("http://127.0.0.1:1", chain.a, chain.dir.file("a2"));
  chain.downstream =
      std::make_unique<ReplicaProcess>(chain.relay->url, chain.b, chain.dir.file("b2"));
  const std::string log =
      chain.downstream->process().waitForStderr("behind the requested position", scaled(30s));
  CAPTURE(chain.downstream->process().stderrText());
  CHECK(log != "");
  CHECK(chain.downstream->snapshotsApplied() == 0);
  {
    SqliteConnection rows(chain.b, SQLITE_OPEN_READONLY);
    CHECK(rows.queryInt("SELECT v FROM meta WHERE k = 'n'") == 200);
  }
  chain.stopAll();
}

TEST_CASE("the relay keeps its window across a restart: a downstream behind it resumes from it") {
  BankChain chain;
  chain.relay = std::make_unique<RelayReplica>(chain.primary.url(), chain.a, chain.dir.file("a"));
  chain.downstream =
      std::make_unique<ReplicaProcess>(chain.relay->url, chain.b, chain.dir.file("b"));
  transfer(chain.app, 100);
  REQUIRE(waitForConvergence(chain.app, chain.b, scaled(30s)));
  stopCleanly(chain.downstream->process());
  transfer(chain.app, 100);
  REQUIRE(waitForConvergence(chain.app, chain.a, scaled(30s)));
  stopCleanly(chain.relay->process.process());

  // Back with no upstream it can reach: B, behind it, resumes from the window it kept.
  chain.relay = std::make_unique<RelayReplica>("http://127.0.0.1:1", chain.a, chain.dir.file("a2"));
  CHECK(countOf(chain.relay->process.process().stderrText(), "is kept") == 1);
  chain.downstream =
      std::make_unique<ReplicaProcess>(chain.relay->url, chain.b, chain.dir.file("b2"));
  CHECK(waitForConvergence(chain.app, chain.b, scaled(30s)));
  CAPTURE(chain.downstream->process().stderrText());
  CHECK(chain.downstream->snapshotsApplied() == 0);
  chain.stopAll();
}

TEST_CASE("a cycle of replicas is refused with a clear error, nothing lost") {
  BankChain chain;
  transfer(chain.app, 100);
  chain.relay = std::make_unique<RelayReplica>(chain.primary.url(), chain.a, chain.dir.file("a"));
  auto middle = std::make_unique<RelayReplica>(chain.relay->url, chain.b, chain.dir.file("b"));
  REQUIRE(waitForConvergence(chain.app, chain.b, scaled(30s)));
  const uint16_t port = chain.relay->port();
  stopCleanly(chain.relay->process.process());

  SUBCASE("A follows B, which follows A") {
    chain.relay = std::make_unique<RelayReplica>(middle->url, chain.a, chain.dir.file("a2"),
                                                 std::vector<std::string>{}, port);
  }
  SUBCASE("A follows itself") {
    chain.relay =
        std::make_unique<RelayReplica>("http://127.0.0.1:" + std::to_string(port), chain.a,
                                       chain.dir.file("a2"), std::vector<std::string>{}, port);
  }
  // A's stream request is refused: its log says so in one line, naming the cycle.
  const std::string log = chain.relay->process.process().waitForStderr(
      "refuses the replica's stream (409)", scaled(30s));
  CAPTURE(log);
  const size_t at = log.find("refuses the replica's stream (409)");
  REQUIRE(at != std::string::npos);
  CHECK(log.substr(at, log.find('\n', at) - at).find("a cycle of replicas") != std::string::npos);
  // Both still hold everything they had.
  for (const std::string& db : {chain.a, chain.b}) {
    SqliteConnection rows(db, SQLITE_OPEN_READONLY);
    CHECK(rows.queryInt("SELECT v FROM meta WHERE k = 'n'") == 100);
  }
  stopCleanly(chain.relay->process.process());
  stopCleanly(middle->process.process());
  stopCleanly(chain.primary.process());
}

TEST_CASE("--serve-stream on an address in use: the replica refuses to start, in one line") {
  TempDir dir;
  uint16_t port = 0;
  const UniqueFd taken = listenOnLoopback(port);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  const RunResult r =
      runToCompletion({WALSTREAM_BINARY, "replica", "--upstream", "http://127.0.0.1:1",
                       "--serve-stream", address, dir.file("replica.db")},
                      dir.file("replica"), scaled(30s));
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("walstream replica: cannot serve the stream on " + address) !=
        std::string::npos);
  CHECK(r.err.find("Address already in use") != std::string::npos);
  CHECK(countOf(r.err, "\n") == 1);
  CHECK_FALSE(pathExists(dir.file("replica.db")));
}

// Cascading replicas (docs/cascading.md): a replica run with --serve-stream serves downstream
// replicas from what it has applied, at the primary's positions and generations, so that a
// downstream resumes from it, or moves between it and the primary, without a snapshot.
#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <memory>
#include <string>

#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
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

void stopCleanly(Process& p) {
  p.signal(SIGTERM);
  REQUIRE(p.wait(scaled(30s)) == 0);
}

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
  {
    BankReader reader(b, /*quickCheck=*/true);
    writer.waitFor(writer.transfers() + 600, scaled(60s));
    writer.stop();
    CHECK(waitForConvergence(app, a, scaled(60s)));
    CHECK(waitForConvergence(app, b, scaled(60s)));
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
  TempDir dir;
  const std::string app = dir.file("app.db"), a = dir.file("a.db"), b = dir.file("b.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, scaled(30s));
  }
  auto relay = std::make_unique<RelayReplica>(primary.url(), a, dir.file("a"));
  REQUIRE(waitForConvergence(app, a, scaled(30s)));
  stopCleanly(relay->process.process());
  relay.reset();

  // B follows the primary further than A went.
  auto downstream = std::make_unique<ReplicaProcess>(primary.url(), b, dir.file("b"));
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, scaled(30s));
  }
  REQUIRE(waitForConvergence(app, b, scaled(30s)));
  stopCleanly(downstream->process());

  // A comes back with no upstream it can reach: it serves what it has, behind B.
  relay = std::make_unique<RelayReplica>("http://127.0.0.1:1", a, dir.file("a2"));
  downstream = std::make_unique<ReplicaProcess>(relay->url, b, dir.file("b2"));
  const std::string log =
      downstream->process().waitForStderr("behind the requested position", scaled(30s));
  CAPTURE(downstream->process().stderrText());
  CHECK(log != "");
  CHECK(downstream->snapshotsApplied() == 0);
  {
    SqliteConnection rows(b, SQLITE_OPEN_READONLY);
    CHECK(rows.queryInt("SELECT v FROM meta WHERE k = 'n'") == 200);
  }
  stopCleanly(downstream->process());
  stopCleanly(relay->process.process());
  stopCleanly(primary.process());
}

TEST_CASE("the relay keeps its window across a restart: a downstream behind it resumes from it") {
  TempDir dir;
  const std::string app = dir.file("app.db"), a = dir.file("a.db"), b = dir.file("b.db");
  createBank(app);
  PrimaryProcess primary(app, dir.file("primary"));
  auto relay = std::make_unique<RelayReplica>(primary.url(), a, dir.file("a"));
  auto downstream = std::make_unique<ReplicaProcess>(relay->url, b, dir.file("b"));
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, scaled(30s));
  }
  REQUIRE(waitForConvergence(app, b, scaled(30s)));
  stopCleanly(downstream->process());
  {
    BankWriter writer(app, 0, 100);
    writer.waitFor(100, scaled(30s));
  }
  REQUIRE(waitForConvergence(app, a, scaled(30s)));
  stopCleanly(relay->process.process());

  // Back with no upstream it can reach: B, behind it, resumes from the window it kept.
  relay = std::make_unique<RelayReplica>("http://127.0.0.1:1", a, dir.file("a2"));
  CHECK(countOf(relay->process.process().stderrText(), "is kept") == 1);
  downstream = std::make_unique<ReplicaProcess>(relay->url, b, dir.file("b2"));
  CHECK(waitForConvergence(app, b, scaled(30s)));
  CAPTURE(downstream->process().stderrText());
  CHECK(downstream->snapshotsApplied() == 0);
  stopCleanly(downstream->process());
  stopCleanly(relay->process.process());
  stopCleanly(primary.process());
}

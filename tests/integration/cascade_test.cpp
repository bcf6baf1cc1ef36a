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
#include "tests/support/contains.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// A replica that serves the stream on an ephemeral port.
struct RelayReplica {
  RelayReplica(const std::string& upstream, const std::string& localDb, const std::string& log,
               std::vector<std::string> extraFlags = {})
      : process([&] {
          extraFlags.insert(extraFlags.begin(), {"--serve-stream", "127.0.0.1:0"});
          return ReplicaProcess(upstream, localDb, log, extraFlags);
        }()),
        url(waitForServedStream(process.process(), 30s)) {}

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

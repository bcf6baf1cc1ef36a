// catchup: the replica is stopped while the writer commits a backlog of transactions as fast
// as it can; then the replica is started again and timed until it shows the last of them.
// The writer's rate alone (no walstream) over the same number of rows is measured first.
//
// Run twice: with the primary's default flags, where a backlog spanning more WAL restarts than
// the primary retains (--shadow-retention, 32) is served as a snapshot; and with a retention
// large enough that the replica must apply every transaction from the shadow WAL.
#include <sqlite3.h>

#include "bench/row_visibility.h"
#include "bench/row_writer.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "core/error.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// One catch-up; adds metrics ending in `suffix` and returns the catch-up rate (tx/s).
double catchUpOnce(const BenchConfig& config, const std::vector<std::string>& primaryFlags,
                   const std::string& suffix, ScenarioResult& result) {
  const int64_t backlog = config.catchupTransactions;
  test::TempDir dir;
  RowsCluster cluster(config, dir.path(), 1, false, primaryFlags);
  const std::string replicaDb = cluster.replicaDbs()[0];
  RowWriter writer(cluster.appDb());
  // A few rows that reach the replica prove it streams before it is stopped.
  const WriteRun warmup = writer.write({0, 60s, 10, false});
  if (!secondsUntilRowVisible(replicaDb, warmup.firstId + warmup.rows - 1, 60s)) {
    throw Error("the replica did not receive the first rows within 60 s");
  }
  cluster.stopReplica(0);

  const WriteRun run = writer.write({0, 600s, backlog, false});
  if (run.rows != backlog) {
    throw Error("the writer wrote only " + std::to_string(run.rows) + " rows in 600 s");
  }
  result.metric("writer_with_primary_tx_per_s" + suffix, run.rowsPerSecond());
  // Capture is timed separately: the replica should find everything already published.
  result.metric("primary_capture_settle_s" + suffix,
                cluster.primary().waitUntilCaptureIdle(300ms, 120s));

  const auto start = std::chrono::steady_clock::now();
  WalstreamReplica& replica = cluster.restartReplica(0, "restart" + suffix);
  if (!secondsUntilRowVisible(replicaDb, run.firstId, 300s)) {
    throw Error("the restarted replica showed no new row within 300 s");
  }
  const double toFirst = secondsSince(start);
  if (!secondsUntilRowVisible(replicaDb, run.firstId + run.rows - 1, 600s)) {
    throw Error("the restarted replica did not catch up within 600 s");
  }
  const double total = secondsSince(start);
  const double rate = static_cast<double>(backlog) / total;
  result.metric("catchup_s" + suffix, total);
  result.metric("catchup_until_first_row_s" + suffix, toFirst);
  result.metric("catchup_tx_per_s" + suffix, rate);
  // Logged before a snapshot's first byte is written, so it is there once the rows are.
  const bool snapshot = replica.stderrContains("receiving a snapshot");
  result.metric("caught_up_by_snapshot" + suffix, snapshot ? 1 : 0);
  cluster.stop();
  return rate;
}

}  // namespace

void runCatchupScenario(const BenchConfig& config, ScenarioResult& result) {
  const int64_t backlog = config.catchupTransactions;
  result.metric("backlog_transactions", static_cast<double>(backlog));
  double aloneRate = 0;
  {
    test::TempDir dir;
    const std::string db = dir.file("app.db");
    createRowsDatabase(db);
    RowWriter writer(db);
    aloneRate = writer.write({0, 600s, backlog, false}).rowsPerSecond();
    result.metric("writer_alone_tx_per_s", aloneRate);
  }
  const double byDefault = catchUpOnce(config, {}, "_default", result);
  const double bySegments = catchUpOnce(config, {"--shadow-retention", "100000"}, "_wal", result);
  const double ratioDefault = byDefault / aloneRate, ratioSegments = bySegments / aloneRate;
  result.metric("catchup_over_writer_alone_default", ratioDefault);
  result.metric("catchup_over_writer_alone_wal", ratioSegments);
  result.target("catch-up / writer alone, default flags", ">= 3", ratioDefault, ratioDefault >= 3);
  result.target("catch-up / writer alone, all from shadow WAL", ">= 3", ratioSegments,
                ratioSegments >= 3);
}

}  // namespace walstream::bench

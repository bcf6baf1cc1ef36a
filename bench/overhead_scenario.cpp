// overhead: the writer as fast as it can for the duration, three times on fresh databases:
// alone, with `walstream primary` capturing, and with a primary and one replica.
#include <sqlite3.h>

#include "bench/proc_stats.h"
#include "bench/row_visibility.h"
#include "bench/row_writer.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

WriteRun writeFlatOut(const std::string& db, std::chrono::milliseconds duration) {
  RowWriter writer(db);
  // The row cap only bounds the loop; the duration ends it.
  return writer.write({0, duration, 100'000'000, false});
}

}  // namespace

void runOverheadScenario(const BenchConfig& config, ScenarioResult& result) {
  const double seconds = std::chrono::duration<double>(config.duration).count();
  double alone = 0;
  {
    test::TempDir dir;
    const std::string db = dir.file("app.db");
    createRowsDatabase(db);
    alone = writeFlatOut(db, config.duration).rowsPerSecond();
    result.metric("alone_tx_per_s", alone);
  }
  double withPrimary = 0;
  {
    test::TempDir dir;
    const std::string db = dir.file("app.db");
    createRowsDatabase(db);
    WalstreamPrimary primary(config.walstream, db, dir.file("primary"));
    const double cpu0 = cpuSeconds(primary.pid());
    withPrimary = writeFlatOut(db, config.duration).rowsPerSecond();
    result.metric("with_primary_tx_per_s", withPrimary);
    result.metric("with_primary_primary_cpu_cores", (cpuSeconds(primary.pid()) - cpu0) / seconds);
    primary.stop();
  }
  double withReplica = 0;
  {
    test::TempDir dir;
    RowsCluster cluster(config, dir.path(), 1);
    const pid_t primaryPid = cluster.primary().pid(), replicaPid = cluster.replica(0).pid();
    const double primaryCpu0 = cpuSeconds(primaryPid), replicaCpu0 = cpuSeconds(replicaPid);
    const WriteRun run = writeFlatOut(cluster.appDb(), config.duration);
    withReplica = run.rowsPerSecond();
    result.metric("with_replica_tx_per_s", withReplica);
    result.metric("with_replica_primary_cpu_cores",
                  (cpuSeconds(primaryPid) - primaryCpu0) / seconds);
    result.metric("with_replica_replica_cpu_cores",
                  (cpuSeconds(replicaPid) - replicaCpu0) / seconds);
    // How far behind the replica was when the writer stopped.
    const auto behind =
        secondsUntilRowVisible(cluster.replicaDbs()[0], run.firstId + run.rows - 1, 120s);
    result.metric("with_replica_drain_after_writer_s", behind ? *behind : -1);
    if (!behind) result.note("the replica did not catch up within 120 s after the writer stopped");
    cluster.stop();
  }
  const double ratioPrimary = alone > 0 ? withPrimary / alone : 0;
  const double ratioReplica = alone > 0 ? withReplica / alone : 0;
  result.metric("with_primary_ratio", ratioPrimary);
  result.metric("with_replica_ratio", ratioReplica);
  result.target("writer rate with primary / alone", ">= 0.95", ratioPrimary, ratioPrimary >= 0.95);
  result.target("writer rate with primary+replica / alone", ">= 0.85", ratioReplica,
                ratioReplica >= 0.85);
}

}  // namespace walstream::bench

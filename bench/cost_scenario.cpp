// cost: CPU time and peak memory of one primary and one replica, first idle for the duration,
// then with the writer at 1000 tx/s for the duration. CPU is reported per 10 s of wall time.
#include <algorithm>
#include <thread>

#include "bench/proc_stats.h"
#include "bench/row_visibility.h"
#include "bench/row_writer.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

void runCostScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  RowsCluster cluster(config, dir.path(), 1);
  const pid_t primary = cluster.primary().pid(), replica = cluster.replica(0).pid();
  const auto per10s = [](double cpu, double seconds) { return cpu * 10 / seconds; };

  // Idle: nothing is written; what is measured is the processes' own timers and heartbeats.
  double p0 = cpuSeconds(primary), r0 = cpuSeconds(replica);
  auto t0 = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(config.duration);  // the measurement window itself
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double idlePrimary = per10s(cpuSeconds(primary) - p0, seconds);
  const double idleReplica = per10s(cpuSeconds(replica) - r0, seconds);
  result.metric("idle_primary_cpu_s_per_10s", idlePrimary);
  result.metric("idle_replica_cpu_s_per_10s", idleReplica);
  result.metric("idle_primary_peak_rss_mib", static_cast<double>(peakRssKiB(primary)) / 1024);
  result.metric("idle_replica_peak_rss_mib", static_cast<double>(peakRssKiB(replica)) / 1024);

  p0 = cpuSeconds(primary);
  r0 = cpuSeconds(replica);
  RowWriter writer(cluster.appDb());
  const int64_t rowsDue = config.duration.count();  // one per millisecond
  const WriteRun run = writer.write({1000, config.duration, rowsDue, false});
  seconds = run.seconds;
  const double loadPrimary = per10s(cpuSeconds(primary) - p0, seconds);
  const double loadReplica = per10s(cpuSeconds(replica) - r0, seconds);
  result.metric("load_writer_tx_per_s", run.rowsPerSecond());
  result.metric("load_primary_cpu_s_per_10s", loadPrimary);
  result.metric("load_replica_cpu_s_per_10s", loadReplica);
  const double primaryPeak = static_cast<double>(peakRssKiB(primary)) / 1024;
  const double replicaPeak = static_cast<double>(peakRssKiB(replica)) / 1024;
  result.metric("load_primary_peak_rss_mib", primaryPeak);
  result.metric("load_replica_peak_rss_mib", replicaPeak);
  result.metric("load_primary_rss_mib", static_cast<double>(rssKiB(primary)) / 1024);
  result.metric("load_replica_rss_mib", static_cast<double>(rssKiB(replica)) / 1024);
  if (!secondsUntilRowVisible(cluster.replicaDbs()[0], run.firstId + run.rows - 1, 60s)) {
    result.note("the replica did not show the last row within 60 s of the writer stopping");
  }

  // "About zero" idle: under 0.05 CPU-seconds per 10 s for the two together (0.5% of a core).
  result.target("idle CPU-s per 10 s, primary+replica", "<= 0.05 (about 0)",
                idlePrimary + idleReplica, idlePrimary + idleReplica <= 0.05);
  result.target("CPU-s per 10 s at 1000 tx/s, primary+replica", "<= 1", loadPrimary + loadReplica,
                loadPrimary + loadReplica <= 1);
  // Peak RSS is the high-water mark since each process started (VmHWM), so it covers both phases.
  result.target("primary peak RSS (MiB)", "<= 16", primaryPeak, primaryPeak <= 16);
  result.target("replica peak RSS (MiB)", "<= 16", replicaPeak, replicaPeak <= 16);
  cluster.stop();
}

}  // namespace walstream::bench

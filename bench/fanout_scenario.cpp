// fanout: many replicas on one primary (config.fanoutReplicas), the writer at 1000 tx/s. One
// poller thread sweeps an evenly spread sample of them (config.fanoutLagSample), so each
// visibility time is late by up to one sweep (the sweep time is reported); sweeping all of them
// made the poller itself the largest consumer of the machine's two cores. Afterwards every
// replica must show the last row.
#include <algorithm>

#include "bench/lag_measurement.h"
#include "bench/proc_stats.h"
#include "bench/row_visibility.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

void runFanoutScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const auto setupStart = std::chrono::steady_clock::now();
  RowsCluster cluster(config, dir.path(), config.fanoutReplicas);
  result.metric("replicas", config.fanoutReplicas);
  result.metric(
      "all_bootstrapped_s",
      std::chrono::duration<double>(std::chrono::steady_clock::now() - setupStart).count());
  std::vector<pid_t> pids = {cluster.primary().pid()};
  for (pid_t pid : cluster.replicaPids()) pids.push_back(pid);
  const std::vector<std::string>& all = cluster.replicaDbs();
  std::vector<std::string> sampled;
  const size_t step =
      std::max<size_t>(1, all.size() / static_cast<size_t>(std::max(1, config.fanoutLagSample)));
  for (size_t i = 0; i < all.size(); i += step) sampled.push_back(all[i]);
  result.metric("replicas_lag_sampled", static_cast<double>(sampled.size()));
  const LagRun run =
      measureLag(cluster.appDb(), sampled, 1000, config.duration, config.pollPause, pids);
  const int64_t lastRow = run.write.firstId + run.write.rows - 1;
  int behind = 0;
  for (const std::string& db : all) {
    if (!secondsUntilRowVisible(db, lastRow, std::chrono::seconds(30))) ++behind;
  }
  result.metric("replicas_without_last_row", behind);
  result.target("replicas without the last row 30 s after it", "0", behind, behind == 0);
  const double seconds = run.write.seconds;
  const double primaryCores = run.cpuSeconds.at(0) / seconds;
  double replicaCpu = 0;
  for (size_t i = 1; i < run.cpuSeconds.size(); ++i) replicaCpu += run.cpuSeconds[i];
  result.metric("primary_cpu_cores", primaryCores);
  result.metric("replicas_cpu_cores_total", replicaCpu / seconds);
  result.metric("worst_replica_lag_p99_ms",
                run.replicaP99Ms.empty()
                    ? 0
                    : *std::max_element(run.replicaP99Ms.begin(), run.replicaP99Ms.end()));
  double replicaPeakMiB = 0;
  for (pid_t pid : cluster.replicaPids()) {
    replicaPeakMiB = std::max(replicaPeakMiB, static_cast<double>(peakRssKiB(pid)) / 1024);
  }
  result.metric("primary_peak_rss_mib",
                static_cast<double>(peakRssKiB(cluster.primary().pid())) / 1024);
  result.metric("largest_replica_peak_rss_mib", replicaPeakMiB);
  reportLag(result, run, "", "over the sampled replicas", kNoGoal, 5.0);
  result.target("primary CPU (cores)", "<= 0.3", primaryCores, primaryCores <= 0.3);
  cluster.stop();
}

}  // namespace walstream::bench

// bootstrap: a new replica receives a large database (config.bootstrapBytes) from a primary,
// timed from starting the replica process to its "snapshot applied" log line, and compared
// with `cp` of the same file on the same disk (with and without fsync of the copy). The same
// is done for a database 8 times smaller, to show whether peak memory grows with size.
#include "bench/bulk_database.h"
#include "bench/proc_stats.h"
#include "bench/scenarios.h"
#include "bench/timed_copy.h"
#include "bench/walstream_process.h"
#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

struct BootstrapRun {
  uint64_t bytes = 0;
  double replicaSeconds = 0;  // replica start to snapshot applied
  double cpSeconds = 0;       // cp alone (the copy may still be in the page cache)
  double cpFsyncSeconds = 0;  // cp, then fsync of the copy
  double primaryPeakMiB = 0, replicaPeakMiB = 0;
  double primaryCpu = 0, replicaCpu = 0;
};

double secondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

BootstrapRun bootstrapOnce(const BenchConfig& config, uint64_t bytes) {
  test::TempDir dir;
  BootstrapRun out;
  const std::string app = dir.file("app.db"), copy = dir.file("copy.db"),
                    replicaDb = dir.file("replica.db");
  out.bytes = createBulkDatabase(app, bytes);

  const CopyTimes copyTimes = timedCopy(app, copy, dir.file("cp"));
  out.cpSeconds = copyTimes.cpSeconds;
  out.cpFsyncSeconds = copyTimes.cpFsyncSeconds;
  removeAll(copy);

  WalstreamPrimary primary(config.walstream, app, dir.file("primary"));
  const auto start = std::chrono::steady_clock::now();
  WalstreamReplica replica(config.walstream, primary.url(), replicaDb, dir.file("replica"), false);
  replica.waitUntilBootstrapped(600s);
  out.replicaSeconds = secondsSince(start);
  out.primaryPeakMiB = static_cast<double>(peakRssKiB(primary.pid())) / 1024;
  out.replicaPeakMiB = static_cast<double>(peakRssKiB(replica.pid())) / 1024;
  out.primaryCpu = cpuSeconds(primary.pid());
  out.replicaCpu = cpuSeconds(replica.pid());
  if (!sameBulkContent(app, replicaDb)) {
    throw Error("the bootstrapped replica differs from the primary's database");
  }
  replica.stop();
  primary.stop();
  return out;
}

void report(ScenarioResult& result, const BootstrapRun& run, const std::string& suffix) {
  const double mib = static_cast<double>(run.bytes) / (1 << 20);
  result.metric("db_mib" + suffix, mib);
  result.metric("bootstrap_s" + suffix, run.replicaSeconds);
  result.metric("bootstrap_mib_per_s" + suffix, mib / run.replicaSeconds);
  result.metric("cp_s" + suffix, run.cpSeconds);
  result.metric("cp_mib_per_s" + suffix, mib / run.cpSeconds);
  result.metric("cp_fsync_s" + suffix, run.cpFsyncSeconds);
  result.metric("cp_fsync_mib_per_s" + suffix, mib / run.cpFsyncSeconds);
  result.metric("primary_peak_rss_mib" + suffix, run.primaryPeakMiB);
  result.metric("replica_peak_rss_mib" + suffix, run.replicaPeakMiB);
  result.metric("primary_cpu_s" + suffix, run.primaryCpu);
  result.metric("replica_cpu_s" + suffix, run.replicaCpu);
}

}  // namespace

void runBootstrapScenario(const BenchConfig& config, ScenarioResult& result) {
  const BootstrapRun small = bootstrapOnce(config, config.bootstrapBytes / 8);
  report(result, small, "_small");
  const BootstrapRun large = bootstrapOnce(config, config.bootstrapBytes);
  report(result, large, "_large");

  const double vsCp = large.cpSeconds / large.replicaSeconds;
  const double vsCpFsync = large.cpFsyncSeconds / large.replicaSeconds;
  result.metric("throughput_vs_cp", vsCp);
  result.metric("throughput_vs_cp_fsync", vsCpFsync);
  result.target("bootstrap throughput / cp throughput", ">= 0.9", vsCp, vsCp >= 0.9);
  // "Flat": 8 times the data may add at most 4 MiB of peak memory.
  const double primaryGrowth = large.primaryPeakMiB - small.primaryPeakMiB;
  const double replicaGrowth = large.replicaPeakMiB - small.replicaPeakMiB;
  result.metric("primary_peak_rss_growth_mib", primaryGrowth);
  result.metric("replica_peak_rss_growth_mib", replicaGrowth);
  result.target("primary peak RSS growth, DB x8 (MiB)", "<= 4", primaryGrowth, primaryGrowth <= 4);
  result.target("replica peak RSS growth, DB x8 (MiB)", "<= 4", replicaGrowth, replicaGrowth <= 4);
}

}  // namespace walstream::bench

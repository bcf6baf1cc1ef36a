// restore_snapshot: a database of config.bootstrapBytes (bulk_database.h: incompressible
// blobs) is backed up by a primary (its first snapshot), the primary stopped, and then
// `walstream restore` of it timed against `cp` of the database file + fsync of the copy, on the
// same disk, config.restoreRounds times each, alternating; medians count. Nothing is dropped
// from the page cache: the restore reads the snapshot object the primary just wrote, cp the
// database file, both from memory. The restore's peak RSS is watched (restore_process.h).
#include <algorithm>

#include "bench/backup_store.h"
#include "bench/bulk_database.h"
#include "bench/latency_stats.h"
#include "bench/restore_process.h"
#include "bench/scenarios.h"
#include "bench/timed_copy.h"
#include "bench/walstream_process.h"
#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

double median(std::vector<double> values) {
  return summarize(std::move(values)).p50;
}

}  // namespace

void runRestoreSnapshotScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const std::string app = dir.file("app.db"), store = dir.file("store"), copy = dir.file("copy.db"),
                    restored = dir.file("restored.db");
  const uint64_t bytes = createBulkDatabase(app, config.bootstrapBytes);
  const double mib = static_cast<double>(bytes) / (1 << 20);
  result.metric("db_mib", mib);
  {
    WalstreamPrimary primary(config.walstream, app, dir.file("primary"),
                             backupFlags(store, config.backupSyncInterval));
    result.metric("snapshot_backup_s", primary.waitUntilBackedUp(600s));
    primary.stop();
  }
  const StoreContents contents = storeContents(store);
  result.metric("store_mib", static_cast<double>(contents.bytes) / (1 << 20));

  std::vector<double> restoreSeconds, cpFsyncSeconds, cpSeconds;
  uint64_t peakKiB = 0;
  for (int round = 1; round <= config.restoreRounds; ++round) {
    const CopyTimes cp = timedCopy(app, copy, dir.file("cp"));
    cpSeconds.push_back(cp.cpSeconds);
    cpFsyncSeconds.push_back(cp.cpFsyncSeconds);
    removeAll(copy);
    const RestoreRun run = runRestore(config.walstream, {"-o", restored, storeUrl(store)},
                                      dir.file("restore-" + std::to_string(round)), 600s);
    restoreSeconds.push_back(run.seconds);
    peakKiB = std::max(peakKiB, run.peakRssKiB);
    if (round == 1 && !sameBulkContent(app, restored)) {
      throw Error("the restored database differs from the primary's: " + run.summary);
    }
    removeAll(restored);
  }
  const double restoreS = median(restoreSeconds), cpFsyncS = median(cpFsyncSeconds);
  result.metric("restore_s", restoreS);
  result.metric("restore_mib_per_s", mib / restoreS);
  result.metric("cp_s", median(cpSeconds));
  result.metric("cp_mib_per_s", mib / median(cpSeconds));
  result.metric("cp_fsync_s", cpFsyncS);
  result.metric("cp_fsync_mib_per_s", mib / cpFsyncS);
  const double ratio = cpFsyncS / restoreS;
  result.metric("restore_vs_cp_fsync", ratio);
  const double peakMiB = static_cast<double>(peakKiB) / 1024;
  result.metric("restore_peak_rss_mib", peakMiB);
  result.target("restore throughput / (cp + fsync) throughput", ">= 0.9", ratio, ratio >= 0.9);
  result.target("restore peak RSS (MiB)", "<= 32", peakMiB, peakMiB <= 32);
}

}  // namespace walstream::bench

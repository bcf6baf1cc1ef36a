// restore_snapshot: a database of config.bootstrapBytes (bulk_database.h: incompressible
// blobs) is backed up by a primary (its first snapshot), the primary stopped, and then
// `walstream restore` of it timed against `cp` of the database file + fsync of the copy, on the
// same disk, config.restoreRounds times each, alternating; medians count. Nothing is dropped
// from the page cache: the restore reads the snapshot object the primary just wrote, cp the
// database file, both from memory. The restore's peak RSS is watched (restore_process.h).
//
// restore_snapshot_s3: the same with a database of config.s3RestoreBytes backed up into a
// bucket on a local S3 server (s3_bench_store.h), and the restore timed against a plain
// `curl` GET of the snapshot object into a file (Debian's /usr/bin/curl, signing with the same
// credentials), which writes without an fsync.
#include <algorithm>
#include <functional>

#include "backup/layout.h"
#include "bench/backup_store.h"
#include "bench/bulk_database.h"
#include "bench/latency_stats.h"
#include "bench/restore_process.h"
#include "bench/s3_bench_store.h"
#include "bench/scenarios.h"
#include "bench/timed_copy.h"
#include "bench/walstream_process.h"
#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

double median(std::vector<double> values) {
  return summarize(std::move(values)).p50;
}

// What a restore's time is compared with: `rounds` timed runs of something that writes the
// same bytes.
struct RestoreReference {
  std::string key;    // of its metrics: KEY_s, KEY_mib_per_s, restore_vs_KEY
  std::string label;  // in the target's name
  double minRatio = 0;
  // One timed run, seconds; `round` counts from 1.
  std::function<double(int round)> run;
  // Called where its metrics go, for any it has besides KEY_s and KEY_mib_per_s.
  std::function<void(ScenarioResult&, double mib)> extraMetrics;
};

void measureRestore(const BenchConfig& config, ScenarioResult& result, const test::TempDir& dir,
                    uint64_t dbBytes, const BenchBackupStore& store,
                    const RestoreReference& reference) {
  const std::string app = dir.file("app.db"), restored = dir.file("restored.db");
  const uint64_t bytes = createBulkDatabase(app, dbBytes);
  const double mib = static_cast<double>(bytes) / (1 << 20);
  result.metric("db_mib", mib);
  {
    WalstreamPrimary primary(config.walstream, app, dir.file("primary"),
                             backupFlags(store, config.backupSyncInterval));
    result.metric("snapshot_backup_s", primary.waitUntilBackedUp(600s));
    primary.stop();
  }
  const StoreContents contents = storeContents(*store.open());
  result.metric("store_mib", static_cast<double>(contents.bytes) / (1 << 20));

  std::vector<std::string> args = store.accessFlags();
  for (const std::string& arg : {std::string("-o"), restored, store.url()}) args.push_back(arg);
  std::vector<double> restoreSeconds, referenceSeconds;
  uint64_t peakKiB = 0;
  for (int round = 1; round <= config.restoreRounds; ++round) {
    referenceSeconds.push_back(reference.run(round));
    const RestoreRun run =
        runRestore(config.walstream, args, dir.file("restore-" + std::to_string(round)), 600s);
    restoreSeconds.push_back(run.seconds);
    peakKiB = std::max(peakKiB, run.peakRssKiB);
    if (round == 1 && !sameBulkContent(app, restored)) {
      throw Error("the restored database differs from the primary's: " + run.summary);
    }
    removeAll(restored);
  }
  const double restoreS = median(restoreSeconds), referenceS = median(referenceSeconds);
  result.metric("restore_s", restoreS);
  result.metric("restore_mib_per_s", mib / restoreS);
  if (reference.extraMetrics) reference.extraMetrics(result, mib);
  result.metric(reference.key + "_s", referenceS);
  result.metric(reference.key + "_mib_per_s", mib / referenceS);
  const double ratio = referenceS / restoreS;
  result.metric("restore_vs_" + reference.key, ratio);
  const double peakMiB = static_cast<double>(peakKiB) / 1024;
  result.metric("restore_peak_rss_mib", peakMiB);
  result.target("restore throughput / (" + reference.label + ") throughput",
                ">= " + formatNumber(reference.minRatio), ratio, ratio >= reference.minRatio);
  result.target("restore peak RSS (MiB)", "<= 32", peakMiB, peakMiB <= 32);
}

// S3 wants the payload's hash signed in every request (s3rver refuses a request without it);
// curl does not add it by itself. A GET's payload is empty.
constexpr const char* kEmptyPayloadSha256 =
    "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// The key of the store's (one) snapshot object.
std::string snapshotKey(storage::ObjectStore& store) {
  for (const auto& object : store.list("")) {
    if (backup::parseSnapshotKey(object.key)) return object.key;
  }
  throw Error("no snapshot in " + store.url());
}

}  // namespace

void runRestoreSnapshotScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const std::string app = dir.file("app.db"), copy = dir.file("copy.db");
  std::vector<double> cpSeconds;
  RestoreReference cpFsync{"cp_fsync", "cp + fsync", 0.9, {}, {}};
  cpFsync.run = [&](int) {
    const CopyTimes cp = timedCopy(app, copy, dir.file("cp"));
    cpSeconds.push_back(cp.cpSeconds);
    removeAll(copy);
    return cp.cpFsyncSeconds;
  };
  cpFsync.extraMetrics = [&](ScenarioResult& r, double mib) {
    r.metric("cp_s", median(cpSeconds));
    r.metric("cp_mib_per_s", mib / median(cpSeconds));
  };
  measureRestore(config, result, dir, config.bootstrapBytes, DirectoryBenchStore(dir.file("store")),
                 cpFsync);
}

void runRestoreSnapshotS3Scenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const S3BenchStore store(dir.file("s3"), false);
  const std::string fetched = dir.file("curl.out");
  RestoreReference curl{"curl", "curl GET", 0.5, {}, {}};
  curl.run = [&](int round) {
    const std::string url = store.objectHttpUrl(snapshotKey(*store.open()));
    const auto start = std::chrono::steady_clock::now();
    const test::RunResult run = test::runToCompletion(
        {"/usr/bin/curl", "--silent", "--show-error", "--write-out", "%{http_code}", "--aws-sigv4",
         store.sigv4(), "--user", store.user(), "-H", kEmptyPayloadSha256, "-o", fetched, url},
        dir.file("curl-" + std::to_string(round)), 600s);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (run.exitCode != 0 || run.out != "200") {
      throw Error("curl " + url + " failed (HTTP " + run.out + "): " + run.err +
                  (pathExists(fetched) ? readFile(fetched).substr(0, 512) : std::string()));
    }
    removeAll(fetched);
    return seconds;
  };
  measureRestore(config, result, dir, config.s3RestoreBytes, store, curl);
}

}  // namespace walstream::bench

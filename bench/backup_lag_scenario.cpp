// backup_lag: a primary backing up into a directory store (sync interval
// config.backupSyncInterval), the writer at 1000 tx/s for the duration; lag of a row = when
// the first WAL object holding its commit was listed in the store - when its COMMIT returned,
// both on this process's steady clock. backup_lag_s3: the same into a bucket on a local S3
// server (s3_bench_store.h), listed every 10 ms (a listing is an HTTP request to a Node
// process, which would take a core of its own at every 1 ms).
//
// Which object holds a commit, exactly: right after each COMMIT the writer reads the WAL's end
// from the -shm (wal_end_reader.h): the WAL's salts and the offset after the commit's last
// frame. An object at offset 0 of a WAL index begins with that WAL's header, so its salts tell
// which WAL index is a copy of which SQLite WAL file (for the snapshot's own index, when the
// snapshot is past offset 0, its chain's salts do). An object holds the commit when it is of
// that index and ends at or after that offset, or of a later index: objects are written in
// position order, each starting where the last ended.
#include <map>
#include <set>
#include <utility>

#include "backup/catalog.h"
#include "bench/backup_object_watcher.h"
#include "bench/backup_store.h"
#include "bench/latency_stats.h"
#include "bench/row_writer.h"
#include "bench/s3_bench_store.h"
#include "bench/scenarios.h"
#include "bench/wal_end_reader.h"
#include "bench/walstream_process.h"
#include "core/error.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

constexpr int kRate = 1000;
// Between two listings of the store: the lag's resolution, paid for with a little CPU.
constexpr auto kWatchPause = 1ms;
constexpr auto kS3WatchPause = 10ms;

using Salts = std::pair<uint32_t, uint32_t>;

struct DurableRows {
  std::vector<double> lagMs;  // of the rows an object was seen to hold, in commit order
  int64_t missing = 0;        // rows no object was seen to hold
  size_t objects = 0;
  size_t walIndexes = 0;  // distinct WAL indexes the objects are in (an object holds one)
};

// WAL index of each SQLite WAL file (by its salts) that the backup copied.
std::map<Salts, uint64_t> walIndexBySalts(const std::vector<SeenWalObject>& objects,
                                          const backup::SnapshotIndex& snapshot) {
  std::map<Salts, uint64_t> out;
  if (snapshot.chain) out[{snapshot.chain->salt1, snapshot.chain->salt2}] = snapshot.position.index;
  for (const auto& o : objects) {
    if (o.walSalts) out[*o.walSalts] = o.header.start.index;
  }
  return out;
}

DurableRows matchRowsToObjects(const WriteRun& run, const std::vector<WalEnd>& walEnds,
                               const std::vector<SeenWalObject>& objects,
                               const std::map<Salts, uint64_t>& indexBySalts) {
  DurableRows out;
  out.objects = objects.size();
  std::set<uint64_t> indexes;
  for (const auto& o : objects) indexes.insert(o.header.start.index);
  out.walIndexes = indexes.size();
  size_t next = 0;  // the first object that may hold the row: rows and objects go forward
  for (size_t i = 0; i < walEnds.size(); ++i) {
    const auto index = indexBySalts.find({walEnds[i].salt1, walEnds[i].salt2});
    if (index == indexBySalts.end()) {
      ++out.missing;
      continue;
    }
    const auto holds = [&](const SeenWalObject& o) {
      return o.header.start.index > index->second ||
             (o.header.start.index == index->second && o.header.endOffset() >= walEnds[i].offset);
    };
    while (next < objects.size() && !holds(objects[next])) ++next;
    if (next == objects.size()) {
      ++out.missing;
      continue;
    }
    out.lagMs.push_back(
        std::chrono::duration<double, std::milli>(objects[next].listedAt - run.commitTimes[i])
            .count());
  }
  return out;
}

// The lag's target is the sync interval + `slackMs`.
void measureBackupLag(const BenchConfig& config, ScenarioResult& result, const test::TempDir& dir,
                      const BenchBackupStore& store, std::chrono::microseconds watchPause,
                      double slackMs) {
  const std::string db = dir.file("app.db");
  createRowsDatabase(db);
  WalstreamPrimary primary(config.walstream, db, dir.file("primary"),
                           backupFlags(store, config.backupSyncInterval));
  primary.waitUntilBackedUp(60s);  // the first snapshot
  const Pos start = parsePos(primary.publishedPos());

  RowWriter writer(db);
  const WalEndReader walEndReader(db);
  const auto rowsDue =
      static_cast<int64_t>(std::chrono::duration<double>(config.duration).count() * kRate);
  std::vector<WalEnd> walEnds;
  walEnds.reserve(static_cast<size_t>(rowsDue));
  BackupObjectWatcher watcher(store.open(), start.generation, watchPause);
  const WriteRun run = writer.write({kRate, config.duration, rowsDue, true},
                                    [&] { walEnds.push_back(walEndReader.read()); });
  primary.expectRunning("the writer's phase");
  primary.waitUntilCaptureIdle(200ms, 30s);
  primary.waitUntilBackedUp(30s + 2 * config.backupSyncInterval);
  const std::vector<SeenWalObject> objects = watcher.stop();
  if (parsePos(primary.publishedPos()).generation != start.generation) {
    throw Error("the primary started a new generation while the writer ran");
  }
  primary.stop();

  const auto reader = store.open();
  const auto listing = backup::listGeneration(*reader, start.generation);
  if (listing.snapshots.empty()) throw Error("no snapshot in " + store.url());
  const auto snapshot = backup::readSnapshotIndex(*reader, listing.snapshots.back().key);
  const DurableRows rows =
      matchRowsToObjects(run, walEnds, objects, walIndexBySalts(objects, snapshot));
  const LatencySummary lag = summarize(rows.lagMs);
  const double syncMs =
      std::chrono::duration<double, std::milli>(config.backupSyncInterval).count();
  result.metric("rows_written", static_cast<double>(run.rows));
  result.metric("achieved_tx_per_s", run.rowsPerSecond());
  result.metric("wal_objects", static_cast<double>(rows.objects));
  result.metric("wal_indexes", static_cast<double>(rows.walIndexes));
  result.metric("backup_sync_interval_ms", syncMs);
  result.metric("backup_lag_min_ms", lag.min);
  result.metric("backup_lag_mean_ms", lag.mean);
  result.metric("backup_lag_p50_ms", lag.p50);
  result.metric("backup_lag_p90_ms", lag.p90);
  result.metric("backup_lag_p99_ms", lag.p99);
  result.metric("backup_lag_max_ms", lag.max);
  result.metric("rows_never_durable", static_cast<double>(rows.missing));
  result.metric("store_poll_sweep_us", watcher.meanSweepMicros());
  const double goal = syncMs + slackMs;
  result.target("backup lag p99 at 1000 tx/s (ms)", "<= " + formatNumber(goal), lag.p99,
                lag.p99 <= goal);
  result.target("rows never seen durable", "0", static_cast<double>(rows.missing),
                rows.missing == 0);
}

}  // namespace

void runBackupLagScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  measureBackupLag(config, result, dir, DirectoryBenchStore(dir.file("store")), kWatchPause, 50);
}

void runBackupLagS3Scenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const S3BenchStore store(dir.file("s3"), false);
  measureBackupLag(config, result, dir, store, kS3WatchPause, 100);
}

}  // namespace walstream::bench

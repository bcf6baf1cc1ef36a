// backup_overhead: the writer as fast as it can for the duration against a primary alone and
// against a primary backing up continuously into a directory store on the same disk, each on a
// fresh database, in the order alone, backup, backup, alone, so that a drift of the machine's
// speed over the scenario weighs on both sides alike. The backup runs with kFlatOutSyncInterval
// (backup_store.h), which keeps it abreast of the writer: at the default 1 s it would fall
// behind, doing less of its work within the phase (and crash the primary: bench/README.md). How
// far behind it was when the writer stopped is reported. backup_overhead_s3: the same with the
// backup into a bucket on a local S3 server (s3_bench_store.h), a fresh one per phase, whose
// CPU is reported too: it shares the machine's cores with the writer.
#include <algorithm>
#include <functional>
#include <memory>
#include <string>

#include "bench/backup_store.h"
#include "bench/proc_stats.h"
#include "bench/row_writer.h"
#include "bench/s3_bench_store.h"
#include "bench/scenarios.h"
#include "bench/walstream_process.h"
#include "core/pos.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

struct OverheadPhase {
  double txPerSecond = 0;
  double primaryCores = 0;  // CPU of the primary process over the writing window
  // When the writer stopped: how many WAL indexes (WAL restarts) the store's end was behind
  // the position capture had published.
  double backupIndexesBehind = 0;
  double s3ServerCores = 0;  // CPU of the S3 server, if any, over the writing window
};

// Makes the store a phase backs up into, in the phase's directory.
using StoreFactory = std::function<std::unique_ptr<BenchBackupStore>(const test::TempDir&)>;

// Without a backup when `openStore` is empty.
OverheadPhase writeFlatOutAgainstPrimary(const BenchConfig& config, const StoreFactory& openStore) {
  test::TempDir dir;
  const std::string db = dir.file("app.db");
  createRowsDatabase(db);
  const bool backup = static_cast<bool>(openStore);
  const std::unique_ptr<BenchBackupStore> store = backup ? openStore(dir) : nullptr;
  WalstreamPrimary primary(
      config.walstream, db, dir.file("primary"),
      backup ? backupFlags(*store, kFlatOutSyncInterval) : std::vector<std::string>{});
  // The first snapshot is in the store before the writer starts.
  if (backup) primary.waitUntilBackedUp(60s);
  OverheadPhase out;
  const double cpu0 = cpuSeconds(primary.pid());
  const auto* s3 = dynamic_cast<const S3BenchStore*>(store.get());
  const double serverCpu0 = s3 ? cpuSeconds(s3->serverPid()) : 0;
  RowWriter writer(db);
  // The row cap only bounds the loop; the duration ends it.
  const WriteRun run = writer.write({0, config.duration, 100'000'000, false});
  out.txPerSecond = run.rowsPerSecond();
  primary.expectRunning(backup ? "the writer's phase with a backup" : "the writer's phase");
  out.primaryCores = (cpuSeconds(primary.pid()) - cpu0) / run.seconds;
  if (s3) out.s3ServerCores = (cpuSeconds(s3->serverPid()) - serverCpu0) / run.seconds;
  if (backup) {
    const Pos published = parsePos(primary.publishedPos()), stored = parsePos(primary.backupPos());
    out.backupIndexesBehind =
        static_cast<double>(std::max(published.index, stored.index) - stored.index);
  }
  primary.stop();
  return out;
}

void measureBackupOverhead(const BenchConfig& config, ScenarioResult& result,
                           const StoreFactory& openStore) {
  double alone = 0, backedUp = 0, aloneCores = 0, backupCores = 0, behind = 0, serverCores = 0;
  int phase = 0;
  for (const bool backup : {false, true, true, false}) {
    ++phase;
    const OverheadPhase p = writeFlatOutAgainstPrimary(config, backup ? openStore : nullptr);
    const std::string name = std::to_string(phase) + (backup ? "_backup" : "_primary_only");
    result.metric("phase" + name + "_tx_per_s", p.txPerSecond);
    (backup ? backedUp : alone) += p.txPerSecond / 2;
    (backup ? backupCores : aloneCores) += p.primaryCores / 2;
    serverCores += p.s3ServerCores / 2;
    if (backup) behind = std::max(behind, p.backupIndexesBehind);
  }
  result.metric("primary_only_tx_per_s", alone);
  result.metric("with_backup_tx_per_s", backedUp);
  result.metric("primary_only_primary_cpu_cores", aloneCores);
  result.metric("with_backup_primary_cpu_cores", backupCores);
  if (serverCores > 0) result.metric("with_backup_s3_server_cpu_cores", serverCores);
  result.metric("backup_sync_interval_ms", static_cast<double>(kFlatOutSyncInterval.count()));
  result.metric("backup_wal_indexes_behind_at_writer_stop_max", behind);
  const double ratio = alone > 0 ? backedUp / alone : 0;
  result.metric("with_backup_ratio", ratio);
  result.target("writer rate with backup / primary only", ">= 0.9", ratio, ratio >= 0.9);
}

}  // namespace

void runBackupOverheadScenario(const BenchConfig& config, ScenarioResult& result) {
  measureBackupOverhead(config, result, [](const test::TempDir& dir) {
    return std::make_unique<DirectoryBenchStore>(dir.file("store"));
  });
}

void runBackupOverheadS3Scenario(const BenchConfig& config, ScenarioResult& result) {
  measureBackupOverhead(config, result, [](const test::TempDir& dir) {
    return std::make_unique<S3BenchStore>(dir.file("s3"), false);
  });
}

}  // namespace walstream::bench

// restore_wal: a primary backing up a rows database (row_writer.h) from its first, empty
// snapshot while the writer commits config.restoreWalTransactions single-row transactions as
// fast as it can; once the store holds all of them the primary is stopped, and `walstream
// restore` of the latest state is timed (config.restoreRounds times, the median counts): its
// rate is the transactions it reports applying after the snapshot over its whole run, process
// start to exit, nothing subtracted. Its peak RSS is watched (restore_process.h). The backup
// keeps up with the writer at kFlatOutSyncInterval (backup_store.h); more objects than at 1 s do
// not change the restore's rate measurably (200,000 transactions in 150 objects, at 100 ms, and
// in 360, at 20 ms, restored equally fast).
#include <sqlite3.h>

#include <algorithm>

#include "bench/backup_store.h"
#include "bench/latency_stats.h"
#include "bench/restore_process.h"
#include "bench/row_writer.h"
#include "bench/scenarios.h"
#include "bench/walstream_process.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

void runRestoreWalScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const std::string app = dir.file("app.db"), store = dir.file("store"),
                    restored = dir.file("restored.db");
  const int64_t transactions = config.restoreWalTransactions;
  createRowsDatabase(app);
  {
    WalstreamPrimary primary(config.walstream, app, dir.file("primary"),
                             backupFlags(store, kFlatOutSyncInterval));
    primary.waitUntilBackedUp(60s);  // the first snapshot, of the empty table
    RowWriter writer(app);
    // The row count ends it; the duration only bounds it.
    const WriteRun run = writer.write({0, 30min, transactions, false});
    if (run.rows != transactions) {
      throw Error("the writer stopped after " + std::to_string(run.rows) + " rows");
    }
    result.metric("writer_tx_per_s", run.rowsPerSecond());
    primary.expectRunning("the writer's phase");
    const auto stopped = std::chrono::steady_clock::now();
    primary.waitUntilCaptureIdle(200ms, 300s);
    primary.waitUntilBackedUp(600s);
    result.metric(
        "backup_drain_after_writer_s",
        std::chrono::duration<double>(std::chrono::steady_clock::now() - stopped).count());
    primary.stop();
  }
  const StoreContents contents = storeContents(store);
  result.metric("store_mib", static_cast<double>(contents.bytes) / (1 << 20));
  result.metric("store_wal_objects", static_cast<double>(contents.walObjects));

  std::vector<double> seconds;
  uint64_t applied = 0, peakKiB = 0;
  for (int round = 1; round <= config.restoreRounds; ++round) {
    const RestoreRun run = runRestore(config.walstream, {"-o", restored, storeUrl(store)},
                                      dir.file("restore-" + std::to_string(round)), 600s);
    seconds.push_back(run.seconds);
    peakKiB = std::max(peakKiB, run.peakRssKiB);
    applied = run.transactions;
    if (round == 1) {
      SqliteConnection c(restored, SQLITE_OPEN_READONLY);
      const int64_t rows = c.queryInt("SELECT count(*) FROM rows");
      if (rows != transactions) {
        throw Error("the restored database has " + std::to_string(rows) + " rows, not " +
                    std::to_string(transactions) + ": " + run.summary);
      }
    }
    removeAll(restored);
  }
  const double restoreS = summarize(seconds).p50;
  result.metric("transactions_applied", static_cast<double>(applied));
  result.metric("restore_s", restoreS);
  const double rate = static_cast<double>(applied) / restoreS;
  result.metric("restore_tx_per_s", rate);
  const double peakMiB = static_cast<double>(peakKiB) / 1024;
  result.metric("restore_peak_rss_mib", peakMiB);
  result.target("restore replay rate (tx/s)", ">= 200000", rate, rate >= 200'000);
  result.target("restore peak RSS (MiB)", "<= 32", peakMiB, peakMiB <= 32);
}

}  // namespace walstream::bench

// readers: the 1000 tx/s lag run while several readers scan the replica's whole table.
#include "bench/lag_measurement.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "bench/table_scanners.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

void runReadersScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  RowsCluster cluster(config, dir.path(), 1);
  TableScanners scanners(cluster.replicaDbs().at(0), config.concurrentReaders,
                         config.duration + 120s);
  const auto start = std::chrono::steady_clock::now();
  const LagRun run =
      measureLag(cluster.appDb(), cluster.replicaDbs(), 1000, config.duration, config.pollPause);
  scanners.stop();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.metric("readers", config.concurrentReaders);
  result.metric("scans", static_cast<double>(scanners.scans()));
  result.metric("scans_per_s", static_cast<double>(scanners.scans()) / seconds);
  result.metric("rows_scanned_per_s", static_cast<double>(scanners.rowsScanned()) / seconds);
  result.metric("reader_errors", static_cast<double>(scanners.errors()));
  if (!scanners.firstError().empty()) result.note("first reader error: " + scanners.firstError());
  result.target("reader errors", "0", static_cast<double>(scanners.errors()),
                scanners.errors() == 0 && scanners.scans() > 0);
  reportLag(result, run, "_at_1000", "at 1000 tx/s with readers", 0.5, 1.0);
  cluster.stop();
}

}  // namespace walstream::bench

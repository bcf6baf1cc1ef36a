// lag: one primary, one replica, the writer at 100 and then at 1000 tx/s.
#include "bench/lag_measurement.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

void runLagScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  RowsCluster cluster(config, dir.path(), 1);
  for (int rate : {100, 1000}) {
    const LagRun run =
        measureLag(cluster.appDb(), cluster.replicaDbs(), rate, config.duration, config.pollPause);
    reportLag(result, run, "_at_" + std::to_string(rate), "at " + std::to_string(rate) + " tx/s",
              0.5, 1.0);
  }
  cluster.stop();
}

}  // namespace walstream::bench

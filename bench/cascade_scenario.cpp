// cascade: lag through two hops (primary -> A -> B, A serving with --serve-stream) beside one
// hop (A), both measured on the same rows at 1000 tx/s. The target: the two-hop p99 at
// most twice the one-hop p99 (docs/cascading.md).
#include "bench/lag_measurement.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

void runCascadeScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  RowsCluster cluster(config, dir.path(), 0);
  WalstreamReplica relay(config.walstream, cluster.primary().url(), dir.path() + "/a.db",
                         dir.path() + "/a", false, {"--serve-stream", "127.0.0.1:0"});
  relay.waitUntilBootstrapped(120s);
  WalstreamReplica downstream(config.walstream, relay.servedStreamUrl(30s), dir.path() + "/b.db",
                              dir.path() + "/b", false);
  downstream.waitUntilBootstrapped(120s);
  const LagRun run = measureLag(cluster.appDb(), {relay.localDb(), downstream.localDb()}, 1000,
                                config.duration, config.pollPause, {relay.pid()});
  reportLag(result, run, "_at_1000", "over both hops at 1000 tx/s", kNoGoal, kNoGoal);
  const LatencySummary& oneHop = run.replicaLagMs.at(0);
  const LatencySummary& twoHops = run.replicaLagMs.at(1);
  for (const auto& [name, lag] : {std::pair{"one_hop", &oneHop}, std::pair{"two_hops", &twoHops}}) {
    result.metric(std::string("lag_p50_ms_") + name, lag->p50);
    result.metric(std::string("lag_p90_ms_") + name, lag->p90);
    result.metric(std::string("lag_p99_ms_") + name, lag->p99);
  }
  result.metric("relay_cpu_s", run.cpuSeconds.at(0));
  result.target("lag p99 through two hops at 1000 tx/s",
                "<= 2x one hop (" + formatNumber(2 * oneHop.p99) + " ms)", twoHops.p99,
                twoHops.count > 0 && twoHops.p99 <= 2 * oneHop.p99);
  downstream.stop();
  relay.stop();
  cluster.stop();
}

}  // namespace walstream::bench

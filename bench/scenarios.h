// The benchmark scenarios of the issue, each a function that fills a ScenarioResult. Every
// scenario starts its own walstream processes in its own temporary directory and stops them.
#pragma once

#include <string>
#include <vector>

#include "bench/bench_config.h"
#include "bench/scenario_result.h"

namespace walstream::bench {

using ScenarioFunction = void (*)(const BenchConfig&, ScenarioResult&);

struct Scenario {
  std::string name;
  std::string summary;
  ScenarioFunction run;
};

// In the order `make bench` runs them.
std::vector<Scenario> allScenarios();

void runLagScenario(const BenchConfig& config, ScenarioResult& result);
void runCascadeScenario(const BenchConfig& config, ScenarioResult& result);
void runReadYourWritesScenario(const BenchConfig& config, ScenarioResult& result);
void runWaitWakeScenario(const BenchConfig& config, ScenarioResult& result);
void runReadersScenario(const BenchConfig& config, ScenarioResult& result);
void runOverheadScenario(const BenchConfig& config, ScenarioResult& result);
void runCatchupScenario(const BenchConfig& config, ScenarioResult& result);
void runBootstrapScenario(const BenchConfig& config, ScenarioResult& result);
void runFanoutScenario(const BenchConfig& config, ScenarioResult& result);
void runCostScenario(const BenchConfig& config, ScenarioResult& result);
void runOverloadScenario(const BenchConfig& config, ScenarioResult& result);
void runBackupOverheadScenario(const BenchConfig& config, ScenarioResult& result);
void runBackupLagScenario(const BenchConfig& config, ScenarioResult& result);
void runRestoreSnapshotScenario(const BenchConfig& config, ScenarioResult& result);
void runRestoreWalScenario(const BenchConfig& config, ScenarioResult& result);
void runBackupOverheadS3Scenario(const BenchConfig& config, ScenarioResult& result);
void runBackupLagS3Scenario(const BenchConfig& config, ScenarioResult& result);
void runRestoreSnapshotS3Scenario(const BenchConfig& config, ScenarioResult& result);
void runBackupRequestsS3Scenario(const BenchConfig& config, ScenarioResult& result);
void runVfsOpenS3Scenario(const BenchConfig& config, ScenarioResult& result);
void runVfsFreshnessS3Scenario(const BenchConfig& config, ScenarioResult& result);

}  // namespace walstream::bench

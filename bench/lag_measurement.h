// One lag measurement: the calling thread writes rows on the primary at a fixed rate while a
// VisibilityPoller watches the replicas; lag of a row on a replica = first visibility there -
// COMMIT returning on the primary, both on this process's steady clock.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "bench/latency_stats.h"
#include "bench/row_writer.h"
#include "bench/scenario_result.h"

namespace walstream::bench {

struct LagRun {
  WriteRun write;                            // commit times are dropped once lags are computed
  LatencySummary lagMs;                      // over every (replica, row) pair that became visible
  std::vector<double> replicaP99Ms;          // p99 per replica
  std::vector<LatencySummary> replicaLagMs;  // per replica, in the order given
  int64_t missing = 0;         // (replica, row) pairs not visible 30 s after the last commit
  double meanSweepMicros = 0;  // visibility resolution: one poll of every replica
  uint64_t pollErrors = 0;
  std::string firstPollError;
  std::vector<double> cpuSeconds;  // per watched pid, over the writing window
};

LagRun measureLag(const std::string& appDb, const std::vector<std::string>& replicaDbs,
                  int perSecond, std::chrono::milliseconds duration,
                  std::chrono::microseconds pollPause, const std::vector<pid_t>& cpuPids = {});

// Adds the run's lag percentiles (keys ending in `suffix`) and checks the lag targets
// (p50 <= p50GoalMs, p99 <= p99GoalMs, every row visible); `label` names the run in targets.
// A goal of kNoGoal is not checked.
inline constexpr double kNoGoal = -1;
void reportLag(ScenarioResult& result, const LagRun& run, const std::string& suffix,
               const std::string& label, double p50GoalMs, double p99GoalMs);

}  // namespace walstream::bench

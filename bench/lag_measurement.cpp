#include "bench/lag_measurement.h"

#include <sqlite3.h>

#include "bench/proc_stats.h"
#include "bench/visibility_poller.h"
#include "core/sqlite_conn.h"

namespace walstream::bench {

using namespace std::chrono_literals;

LagRun measureLag(const std::string& appDb, const std::vector<std::string>& replicaDbs,
                  int perSecond, std::chrono::milliseconds duration,
                  std::chrono::microseconds pollPause, const std::vector<pid_t>& cpuPids) {
  int64_t firstId = 0;
  {
    SqliteConnection c(appDb, SQLITE_OPEN_READONLY);
    firstId = c.queryInt("SELECT coalesce(max(id), 0) FROM rows") + 1;
  }
  const auto capacity = static_cast<size_t>(perSecond * duration.count() / 1000 + 1);
  RowWriter writer(appDb);
  VisibilityPoller poller(replicaDbs, firstId, capacity, duration + 60s, pollPause);

  std::vector<double> cpuBefore;
  for (pid_t pid : cpuPids) cpuBefore.push_back(cpuSeconds(pid));
  LagRun out;
  out.write = writer.write({perSecond, duration, static_cast<int64_t>(capacity), true});
  for (size_t i = 0; i < cpuPids.size(); ++i) {
    out.cpuSeconds.push_back(cpuSeconds(cpuPids[i]) - cpuBefore[i]);
  }
  poller.waitUntilAllSee(out.write.firstId + out.write.rows - 1, 30s);
  poller.stop();

  std::vector<double> all;
  all.reserve(static_cast<size_t>(out.write.rows) * replicaDbs.size());
  for (size_t r = 0; r < replicaDbs.size(); ++r) {
    const auto& visible = poller.visibleTimes(r);
    std::vector<double> replica;
    replica.reserve(static_cast<size_t>(out.write.rows));
    for (size_t i = 0; i < out.write.commitTimes.size(); ++i) {
      const size_t slot = static_cast<size_t>(out.write.firstId - firstId) + i;
      if (slot >= visible.size() || visible[slot] == VisibilityPoller::kNever) {
        ++out.missing;
        continue;
      }
      replica.push_back(
          std::chrono::duration<double, std::milli>(visible[slot] - out.write.commitTimes[i])
              .count());
    }
    all.insert(all.end(), replica.begin(), replica.end());
    out.replicaLagMs.push_back(summarize(std::move(replica)));
    out.replicaP99Ms.push_back(out.replicaLagMs.back().p99);
  }
  out.lagMs = summarize(std::move(all));
  out.write.commitTimes.clear();
  out.meanSweepMicros = poller.meanSweepMicros();
  out.pollErrors = poller.errors();
  out.firstPollError = poller.firstError();
  return out;
}

void reportLag(ScenarioResult& result, const LagRun& run, const std::string& suffix,
               const std::string& label, double p50GoalMs, double p99GoalMs) {
  result.metric("writer_rows" + suffix, static_cast<double>(run.write.rows));
  result.metric("writer_rate_tx_per_s" + suffix, run.write.rowsPerSecond());
  result.metric("lag_samples" + suffix, static_cast<double>(run.lagMs.count));
  result.metric("lag_min_ms" + suffix, run.lagMs.min);
  result.metric("lag_mean_ms" + suffix, run.lagMs.mean);
  result.metric("lag_p50_ms" + suffix, run.lagMs.p50);
  result.metric("lag_p90_ms" + suffix, run.lagMs.p90);
  result.metric("lag_p99_ms" + suffix, run.lagMs.p99);
  result.metric("lag_max_ms" + suffix, run.lagMs.max);
  result.metric("rows_never_visible" + suffix, static_cast<double>(run.missing));
  result.metric("poll_sweep_us" + suffix, run.meanSweepMicros);
  result.metric("poll_errors" + suffix, static_cast<double>(run.pollErrors));
  if (!run.firstPollError.empty())
    result.note("first poll error" + suffix + ": " + run.firstPollError);
  const auto goal = [](double ms) { return "<= " + formatNumber(ms) + " ms"; };
  if (p50GoalMs != kNoGoal) {
    result.target("lag p50 " + label, goal(p50GoalMs), run.lagMs.p50,
                  run.lagMs.count > 0 && run.lagMs.p50 <= p50GoalMs);
  }
  if (p99GoalMs != kNoGoal) {
    result.target("lag p99 " + label, goal(p99GoalMs), run.lagMs.p99,
                  run.lagMs.count > 0 && run.lagMs.p99 <= p99GoalMs);
  }
  result.target("rows never visible " + label, "0", static_cast<double>(run.missing),
                run.missing == 0);
}

}  // namespace walstream::bench

// The outcome of one scenario: named measurements, the targets checked against them,
// and notes. Printed as a table for people and written as one JSON line for tools.
#pragma once

#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace walstream::bench {

// Conditions of the whole run, repeated in every JSON line so each line stands alone.
struct RunContext {
  std::string startedAt;  // RFC 3339, UTC
  bool quick = false;
  double durationSeconds = 0;
  double pollPauseMicros = 0;
  int cpus = 0;
  double loadAverage1m = 0;  // at the start of the scenario: other work on the machine
  int round = 1;             // which of the --runs rounds
};

struct TargetCheck {
  std::string name;  // what is compared, e.g. "p99 lag at 1000 tx/s (ms)"
  std::string goal;  // the target, e.g. "<= 1"
  double value = 0;
  bool met = false;
};

class ScenarioResult {
 public:
  explicit ScenarioResult(std::string scenario) : scenario_(std::move(scenario)) {}

  // key names the quantity and its unit, e.g. "lag_p99_ms_at_1000".
  void metric(const std::string& key, double value);
  void target(std::string name, std::string goal, double value, bool met);
  void note(std::string text);
  void fail(std::string error);  // the scenario could not complete

  const std::string& scenario() const { return scenario_; }
  const std::string& error() const { return error_; }
  const std::vector<TargetCheck>& targets() const { return targets_; }

  // One JSON object, without a newline.
  std::string json(const RunContext& context, double elapsedSeconds) const;
  void printTable(std::FILE* out) const;

 private:
  std::string scenario_;
  std::vector<std::pair<std::string, double>> metrics_;
  std::vector<TargetCheck> targets_;
  std::vector<std::string> notes_;
  std::string error_;
};

// Formats v with up to `digits` significant decimals, without trailing noise.
std::string formatNumber(double v);

}  // namespace walstream::bench

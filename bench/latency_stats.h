// Percentiles of a set of latency samples.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "bench/scenario_result.h"

namespace walstream::bench {

struct LatencySummary {
  size_t count = 0;
  double min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;  // same unit as the samples
};

// Nearest-rank percentiles (the smallest sample with at least p% of samples at or below it).
// With no samples every field is NaN except count.
LatencySummary summarize(std::vector<double> samples);

// Adds `what`_samples, `what`_p50_ms, `what`_p99_ms and `what`_max_ms of samples in milliseconds.
void reportMillis(ScenarioResult& result, const std::string& what, std::vector<double> samples);

}  // namespace walstream::bench

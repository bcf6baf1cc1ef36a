// Percentiles of a set of latency samples.
#pragma once

#include <cstddef>
#include <vector>

namespace walstream::bench {

struct LatencySummary {
  size_t count = 0;
  double min = 0, mean = 0, p50 = 0, p90 = 0, p99 = 0, max = 0;  // same unit as the samples
};

// Nearest-rank percentiles (the smallest sample with at least p% of samples at or below it).
// With no samples every field is NaN except count.
LatencySummary summarize(std::vector<double> samples);

}  // namespace walstream::bench

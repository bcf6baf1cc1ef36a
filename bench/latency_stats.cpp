#include "bench/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace walstream::bench {

LatencySummary summarize(std::vector<double> samples) {
  LatencySummary s;
  s.count = samples.size();
  if (samples.empty()) {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    s.min = s.mean = s.p50 = s.p90 = s.p99 = s.max = nan;
    return s;
  }
  std::sort(samples.begin(), samples.end());
  const auto rank = [&](double p) {
    const auto n = static_cast<double>(samples.size());
    const auto i = static_cast<size_t>(std::ceil(p * n));
    return samples[std::clamp<size_t>(i, 1, samples.size()) - 1];
  };
  s.min = samples.front();
  s.max = samples.back();
  s.mean = std::accumulate(samples.begin(), samples.end(), 0.0) / static_cast<double>(s.count);
  s.p50 = rank(0.50);
  s.p90 = rank(0.90);
  s.p99 = rank(0.99);
  return s;
}

void reportMillis(ScenarioResult& result, const std::string& what, std::vector<double> samples) {
  const LatencySummary s = summarize(std::move(samples));
  result.metric(what + "_samples", static_cast<double>(s.count));
  result.metric(what + "_p50_ms", s.p50);
  result.metric(what + "_p99_ms", s.p99);
  result.metric(what + "_max_ms", s.max);
}

}  // namespace walstream::bench

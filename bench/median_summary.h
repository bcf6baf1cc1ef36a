// The final table of a run of several rounds: for each target, the median over the rounds that
// completed, with every round's value beside it.
#pragma once

#include <cstdio>
#include <vector>

#include "bench/scenario_result.h"

namespace walstream::bench {

// `rounds[i]` holds round i's results, in scenario order. A target is met when the round whose
// value is the median met it (odd counts; for even counts the lower middle round). Returns
// false when some scenario did not complete in some round.
bool printMedianSummary(const std::vector<std::vector<ScenarioResult>>& rounds, std::FILE* out);

}  // namespace walstream::bench

#include "bench/median_summary.h"

#include <algorithm>
#include <map>
#include <string>
#include <utility>

namespace walstream::bench {

namespace {

struct Samples {
  std::string scenario;
  std::string goal;
  std::vector<std::pair<double, bool>> values;  // value, met; one per round that had it
};

}  // namespace

bool printMedianSummary(const std::vector<std::vector<ScenarioResult>>& rounds, std::FILE* out) {
  bool complete = true;
  std::vector<std::string> order;  // "scenario\ttarget", first seen first
  std::map<std::string, Samples> byTarget;
  std::map<std::string, int> errors;  // scenario -> rounds that did not complete
  for (const auto& round : rounds) {
    for (const auto& r : round) {
      if (!r.error().empty()) {
        complete = false;
        ++errors[r.scenario()];
      }
      for (const auto& t : r.targets()) {
        const std::string key = r.scenario() + "\t" + t.name;
        auto [it, inserted] = byTarget.try_emplace(key);
        if (inserted) {
          order.push_back(key);
          it->second.scenario = r.scenario();
          it->second.goal = t.goal;
        }
        it->second.values.emplace_back(t.value, t.met);
      }
    }
  }
  std::fprintf(out, "\nmedians of %zu rounds\n", rounds.size());
  std::fprintf(out, "%-10s %-52s %12s  %-22s %-7s %s\n", "scenario", "target", "median", "goal",
               "result", "rounds");
  for (const auto& [scenario, count] : errors) {
    std::fprintf(out, "%-10s %-52s %12s  %-22s %-7s %d failed\n", scenario.c_str(),
                 "(did not complete)", "-", "-", "ERROR", count);
  }
  for (const auto& key : order) {
    Samples s = byTarget.at(key);
    const std::string name = key.substr(key.find('\t') + 1);
    std::string each;
    for (const auto& [v, met] : s.values) each += (each.empty() ? "" : " / ") + formatNumber(v);
    std::sort(s.values.begin(), s.values.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    const auto& median = s.values[(s.values.size() - 1) / 2];
    std::fprintf(out, "%-10s %-52s %12s  %-22s %-7s %s\n", s.scenario.c_str(), name.c_str(),
                 formatNumber(median.first).c_str(), s.goal.c_str(),
                 median.second ? "met" : "MISSED", each.c_str());
  }
  return complete;
}

}  // namespace walstream::bench

#include "bench/scenario_result.h"

#include <cmath>
#include <nlohmann/json.hpp>

namespace walstream::bench {

void ScenarioResult::metric(const std::string& key, double value) {
  metrics_.emplace_back(key, value);
}

void ScenarioResult::target(std::string name, std::string goal, double value, bool met) {
  targets_.push_back({std::move(name), std::move(goal), value, met});
}

void ScenarioResult::note(std::string text) {
  notes_.push_back(std::move(text));
}

void ScenarioResult::fail(std::string error) {
  error_ = std::move(error);
}

std::string formatNumber(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char buf[64];
  const double a = std::fabs(v);
  if (a != 0 && a < 0.01) {
    std::snprintf(buf, sizeof buf, "%.4f", v);
  } else if (a < 100) {
    std::snprintf(buf, sizeof buf, "%.3f", v);
  } else if (a < 100'000) {
    std::snprintf(buf, sizeof buf, "%.1f", v);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f", v);
  }
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    while (s.back() == '0') s.pop_back();
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string ScenarioResult::json(const RunContext& context, double elapsedSeconds) const {
  nlohmann::ordered_json j;
  j["scenario"] = scenario_;
  j["started_at"] = context.startedAt;
  j["quick"] = context.quick;
  j["duration_s"] = context.durationSeconds;
  j["poll_pause_us"] = context.pollPauseMicros;
  j["cpus"] = context.cpus;
  j["load_average_1m"] = context.loadAverage1m;
  j["round"] = context.round;
  j["elapsed_s"] = elapsedSeconds;
  j["ok"] = error_.empty();
  if (!error_.empty()) j["error"] = error_;
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  // JSON has no NaN or infinity: a quantity that could not be measured is null.
  for (const auto& [key, value] : metrics_) {
    metrics[key] = std::isfinite(value) ? nlohmann::ordered_json(value) : nullptr;
  }
  j["metrics"] = std::move(metrics);
  nlohmann::ordered_json targets = nlohmann::ordered_json::array();
  for (const auto& t : targets_) {
    targets.push_back({{"name", t.name},
                       {"goal", t.goal},
                       {"value", std::isfinite(t.value) ? nlohmann::ordered_json(t.value)
                                                        : nlohmann::ordered_json(nullptr)},
                       {"met", t.met}});
  }
  j["targets"] = std::move(targets);
  j["notes"] = notes_;
  return j.dump();
}

void ScenarioResult::printTable(std::FILE* out) const {
  std::fprintf(out, "\n== %s ==\n", scenario_.c_str());
  if (!error_.empty()) std::fprintf(out, "  ERROR: %s\n", error_.c_str());
  for (const auto& [key, value] : metrics_) {
    std::fprintf(out, "  %-44s %14s\n", key.c_str(), formatNumber(value).c_str());
  }
  for (const auto& t : targets_) {
    std::fprintf(out, "  [%s] %-50s %12s  (target %s)\n", t.met ? " met " : "MISSED",
                 t.name.c_str(), formatNumber(t.value).c_str(), t.goal.c_str());
  }
  for (const auto& n : notes_) std::fprintf(out, "  note: %s\n", n.c_str());
  std::fflush(out);
}

}  // namespace walstream::bench

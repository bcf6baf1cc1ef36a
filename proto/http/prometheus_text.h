// The Prometheus text exposition format (version 0.0.4) of both servers' GET /metrics: families
// with one HELP and one TYPE line each, then their samples. Label values and help texts are
// escaped, since they may hold names from outside the program (a database's file name); metric
// and label names are the program's own constants.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace walstream::httpd {

// The Content-Type of the format.
inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

// Label name and (unescaped) value.
using MetricLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // "# HELP <name> <help>" and "# TYPE <name> <type>" (counter, gauge, histogram).
  void family(std::string_view name, std::string_view type, std::string_view help);
  // "<name>{<label>="<value>",...} <value>", or "<name> <value>" without labels.
  void sample(std::string_view name, const MetricLabels& labels, std::string_view value);
  void sample(std::string_view name, std::string_view value) { sample(name, {}, value); }

  std::string take() { return std::move(text_); }

 private:
  std::string text_;
};

// A label value: backslash, double quote and line feed escaped.
std::string escapeLabelValue(std::string_view value);
// A help text: backslash and line feed escaped.
std::string escapeHelpText(std::string_view help);

}  // namespace walstream::httpd

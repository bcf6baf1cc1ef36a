#include "proto/http/prometheus_text.h"

namespace walstream::httpd {

namespace {

std::string escaped(std::string_view text, bool quote) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  return escaped(value, true);
}

std::string escapeHelpText(std::string_view help) {
  return escaped(help, false);
}

void PrometheusText::family(std::string_view name, std::string_view type, std::string_view help) {
  text_.append("# HELP ").append(name).append(" ").append(escapeHelpText(help)).append("\n");
  text_.append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

void PrometheusText::sample(std::string_view name, const MetricLabels& labels,
                            std::string_view value) {
  text_.append(name);
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      text_.append(labels[i].first).append("=\"").append(escapeLabelValue(labels[i].second));
      text_ += '"';
    }
    text_ += '}';
  }
  text_.append(" ").append(value).append("\n");
}

}  // namespace walstream::httpd

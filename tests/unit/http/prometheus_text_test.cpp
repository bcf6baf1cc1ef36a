#include <doctest/doctest.h>

#include "proto/http/prometheus_text.h"

using namespace walstream::httpd;

TEST_CASE("label values escape backslash, double quote and line feed; help texts all but quotes") {
  CHECK(escapeLabelValue("app.db") == "app.db");
  CHECK(escapeLabelValue("we\"ird\\name\n.db") == "we\\\"ird\\\\name\\n.db");
  CHECK(escapeHelpText("a \"b\" \\ c\nd") == "a \"b\" \\\\ c\\nd");
}

TEST_CASE("a family: HELP and TYPE once, then samples with and without labels") {
  PrometheusText text;
  text.family("walstream_x_total", "counter", "Things\ncounted.");
  text.sample("walstream_x_total", {{"db", "a\"b.db"}, {"mode", "passive"}}, "3");
  text.sample("walstream_x_total", "7");
  CHECK(text.take() ==
        "# HELP walstream_x_total Things\\ncounted.\n"
        "# TYPE walstream_x_total counter\n"
        "walstream_x_total{db=\"a\\\"b.db\",mode=\"passive\"} 3\n"
        "walstream_x_total 7\n");
}

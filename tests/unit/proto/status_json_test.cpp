#include <doctest/doctest.h>

#include "core/error.h"
#include "proto/status_json.h"

using namespace walstream;
using namespace walstream::proto;

TEST_CASE("/status JSON round-trips and uses the documented field names") {
  PrimaryStatusJson s;
  s.databases.push_back({"app.db",
                         "/srv/app.db",
                         4096,
                         "0123456789abcdef",
                         "0123456789abcdef/0000000000000003:0000000000001f60",
                         8272,
                         true,
                         {{"10.0.0.7:51234", "0123456789abcdef/0000000000000003:0000000000001000",
                           "2026-11-22T10:15:02.123Z"}},
                         BackupStatusJson{"file:///srv/backups/app",
                                          "0123456789abcdef/0000000000000003:0000000000001000",
                                          3936, 0.25, "disk full", "2026-11-22T10:15:01.000Z", 2,
                                          "2026-11-22T09:00:00.000Z", false}});
  s.databases.push_back({"other.db", "other.db", 0, "", "", 0, false, {}, std::nullopt});
  s.streams = {3, 64, 2};
  const std::string text = encodeStatusJson(s);
  for (const char* key : {"\"databases\"",
                          "\"name\"",
                          "\"path\"",
                          "\"page_size\"",
                          "\"generation\"",
                          "\"pos\"",
                          "\"wal_bytes\"",
                          "\"healthy\"",
                          "\"streams\"",
                          "\"remote\"",
                          "\"connected_at\"",
                          "\"backup\"",
                          "\"url\"",
                          "\"lag_bytes\"",
                          "\"lag_seconds\"",
                          "\"last_error\"",
                          "\"last_error_at\"",
                          "\"errors\"",
                          "\"last_snapshot_at\"",
                          "\"over_max_lag\"",
                          "\"open\"",
                          "\"max\"",
                          "\"refused\""}) {
    CHECK(text.find(key) != std::string::npos);
  }
  CHECK(decodeStatusJson(text) == s);
}

TEST_CASE("malformed /status JSON is an Error, not a crash") {
  CHECK_THROWS_AS(decodeStatusJson(""), Error);
  CHECK_THROWS_AS(decodeStatusJson("{\"databases\": [{\"name\": 3}]}"), Error);
  CHECK_THROWS_AS(decodeStatusJson("{\"dbs\": []}"), Error);
  CHECK(decodeStatusJson("{\"databases\": []}").databases.empty());
}

TEST_CASE("a /status without stream counts (an older primary) reads as zero counts") {
  CHECK(decodeStatusJson("{\"databases\": []}").streams == StreamCountsJson{});
  CHECK_THROWS_AS(decodeStatusJson("{\"databases\": [], \"streams\": {\"open\": 1}}"), Error);
}

TEST_CASE("timestamps are RFC 3339 in UTC with milliseconds") {
  using namespace std::chrono;
  const system_clock::time_point t = system_clock::from_time_t(0) + milliseconds(1'500);
  CHECK(formatRfc3339(t) == "1970-01-01T00:00:01.500Z");
}

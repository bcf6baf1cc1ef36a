#include <doctest/doctest.h>

#include "core/error.h"
#include "proto/replica_status_json.h"

using namespace walstream;
using namespace walstream::proto;

TEST_CASE("the replica's /status JSON round-trips and uses the documented field names") {
  const ReplicaStatusJson s{"http://10.0.0.5:9090",
                            "app.db",
                            "0123456789abcdef/0000000000000003:0000000000001f60",
                            "0123456789abcdef/0000000000000004:0000000000000020",
                            true,
                            1,
                            42,
                            -1,
                            250,
                            "stream ended",
                            "original"};
  const std::string text = encodeReplicaStatusJson(s);
  CHECK(text ==
        "{\"connected\":true,\"db\":\"app.db\",\"lag_ms\":-1,\"last_error\":\"stream ended\","
        "\"pos\":\"0123456789abcdef/0000000000000003:0000000000001f60\",\"snapshots_applied\":1,"
        "\"stalled_ms\":250,\"transactions_applied\":42,\"upstream\":\"http://10.0.0.5:9090\","
        "\"upstream_pos\":\"0123456789abcdef/0000000000000004:0000000000000020\","
        "\"upstream_protocol\":\"original\"}");
  CHECK(decodeReplicaStatusJson(text) == s);
}

TEST_CASE("an upstream error that is not UTF-8 still makes valid replica /status JSON") {
  ReplicaStatusJson s;
  s.lastError = "no \xff db";
  const ReplicaStatusJson back = decodeReplicaStatusJson(encodeReplicaStatusJson(s));
  CHECK(back.lastError == "no \xef\xbf\xbd db");
}

TEST_CASE("malformed replica /status JSON is an Error, not a crash") {
  CHECK_THROWS_AS(decodeReplicaStatusJson(""), Error);
  CHECK_THROWS_AS(decodeReplicaStatusJson("{\"databases\": []}"), Error);
  CHECK_THROWS_AS(decodeReplicaStatusJson("[1]"), Error);
}

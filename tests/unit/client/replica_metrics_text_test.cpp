#include <doctest/doctest.h>

#include <algorithm>

#include "client/replica_metrics_text.h"

using namespace walstream;
using namespace walstream::client;

TEST_CASE("the replica's /metrics: one HELP/TYPE per family and one unlabelled sample each") {
  ReplicaState state;
  state.connected = true;
  state.snapshotsApplied = 2;
  state.transactionsApplied = 42;
  state.bytesReceived = 9000;
  state.pos = Pos{1, 3, 0x1f60};
  const std::string text = renderReplicaMetrics(state);
  auto has = [&](const std::string& line) {
    CAPTURE(line);
    CHECK(text.find(line + "\n") != std::string::npos);
  };
  has("# HELP walstream_replica_connected 1 while streaming from the primary.");
  has("# TYPE walstream_replica_connected gauge");
  has("walstream_replica_connected 1");
  has("# TYPE walstream_replica_snapshots_applied_total counter");
  has("walstream_replica_snapshots_applied_total 2");
  has("walstream_replica_transactions_applied_total 42");
  has("walstream_replica_received_bytes_total 9000");
  has("walstream_replica_index 3");
  has("walstream_replica_offset 8032");
  has("walstream_replica_lag_milliseconds -1");
  CHECK(std::count(text.begin(), text.end(), '\n') == 11 * 3);
}

#include "client/replica_metrics_text.h"

#include "proto/http/prometheus_text.h"

namespace walstream::client {

std::string renderReplicaMetrics(const ReplicaState& state) {
  std::lock_guard lock(state.mu);
  httpd::PrometheusText text;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    text.family(name, type, help);
    text.sample(name, std::to_string(value));
  };
  metric("walstream_replica_connected", "gauge", "1 while streaming from the primary.",
         state.connected ? 1 : 0);
  metric("walstream_replica_snapshots_applied_total", "counter", "Snapshots applied.",
         state.snapshotsApplied);
  metric("walstream_replica_transactions_applied_total", "counter", "Primary transactions applied.",
         state.transactionsApplied);
  metric("walstream_replica_segments_applied_total", "counter", "WAL segments applied.",
         state.segmentsApplied);
  metric("walstream_replica_received_bytes_total", "counter", "Stream bytes received.",
         state.bytesReceived);
  metric("walstream_replica_disconnects_total", "counter", "Stream disconnects.", state.reconnects);
  metric("walstream_replica_checkpoints_total", "counter", "Checkpoints of the local WAL.",
         state.checkpoints);
  metric("walstream_replica_lag_milliseconds", "gauge",
         "Age of the newest applied data while behind (-1 before the first catch-up).",
         state.lagMillis());
  metric("walstream_replica_stalled_milliseconds", "gauge",
         "How long the replica has made no progress while the primary claims more (0 if not).",
         state.stalledMillis());
  metric("walstream_replica_index", "gauge", "WAL index of the applied position.", state.pos.index);
  metric("walstream_replica_offset", "gauge", "WAL offset of the applied position.",
         state.pos.offset);
  return text.take();
}

}  // namespace walstream::client

// The Prometheus text of the replica's GET /metrics (proto/http/prometheus_text.h).
#pragma once

#include <string>

#include "client/replica_state.h"

namespace walstream::client {

// Takes state.mu.
std::string renderReplicaMetrics(const ReplicaState& state);

}  // namespace walstream::client

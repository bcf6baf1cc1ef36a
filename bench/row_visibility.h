// Waiting for a replica to hold a given row, for measurements on the scale of seconds (the
// VisibilityPoller measures sub-millisecond lag).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace walstream::bench {

// max(id) of the rows table, read with a read-only connection (0 when empty).
int64_t maxRowId(const std::string& db);

// Polls the replica every millisecond, each time in a fresh read transaction, until row `id`
// is visible; returns the seconds that took, or nullopt after `timeout`.
std::optional<double> secondsUntilRowVisible(const std::string& replicaDb, int64_t id,
                                             std::chrono::milliseconds timeout);

}  // namespace walstream::bench

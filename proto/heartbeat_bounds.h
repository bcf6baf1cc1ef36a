// The heartbeat intervals a client may ask of a primary (GET /stream?heartbeat=MS): 0 (off) or
// one between these bounds. The primary answers 400 to any other value (proto/stream_request.cpp
// checks them); the replica refuses any other --heartbeat at start (cli/replica_command.cpp).
#pragma once

#include <chrono>

namespace walstream::proto {

inline constexpr std::chrono::milliseconds kMinHeartbeat{100};
inline constexpr std::chrono::milliseconds kMaxHeartbeat{3'600'000};

}  // namespace walstream::proto

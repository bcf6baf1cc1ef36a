// A real walstream replica process for integration tests, with --http on an ephemeral port of
// 127.0.0.1, and its /status.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace walstream::test {

class TempDir;

struct ReplicaWithStatus {
  // Runs `walstream replica FLAGS... --http 127.0.0.1:0 LOCAL_DB` (LOCAL_DB is dir/replica.db),
  // its output under dir/replica, and waits for its status port.
  ReplicaWithStatus(const TempDir& dir, const std::vector<std::string>& flags);

  nlohmann::json status();
  // Polls /status (bounded) until `ok` holds; returns the last /status.
  nlohmann::json waitStatus(const std::function<bool(const nlohmann::json&)>& ok,
                            std::chrono::seconds patience = std::chrono::seconds(30));
  // SIGTERM, then checks that it exits 0.
  void stop();

  std::string db;  // LOCAL_DB
  Process process;
  uint16_t port;  // of --http
};

}  // namespace walstream::test

// The Prometheus text exposition of GET /metrics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/pos.h"
#include "proto/status_json.h"
#include "server/capture/capture_metrics.h"

namespace walstream::server {

// What /metrics reports about one database, read at request time.
struct DatabaseMetricsSample {
  std::string name;
  const CaptureMetrics* capture = nullptr;  // null: not captured here (no capture families)
  Pos pos;
  bool healthy = false;
  uint64_t streams = 0;                           // connected /stream clients
  uint64_t streamsStarted = 0;                    // /stream responses begun
  uint64_t bytesSent = 0;                         // /stream body bytes written
  std::optional<proto::BackupStatusJson> backup;  // with --backup
};

// What /metrics reports about the server as a whole.
struct ServerMetricsSample {
  uint64_t streamsOpen = 0;     // /stream responses open, all databases together
  uint64_t maxStreams = 0;      // --max-streams
  uint64_t streamsRefused = 0;  // /stream requests answered 503 for --max-streams
};

// Families are grouped with one HELP/TYPE header each; every sample of a database's family
// carries db="<name>" (proto/http/prometheus_text.h escapes it); the server's have no label.
std::string renderMetrics(const std::vector<DatabaseMetricsSample>& databases,
                          const ServerMetricsSample& server = {});

}  // namespace walstream::server

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
  const CaptureMetrics* capture = nullptr;
  Pos pos;
  bool healthy = false;
  uint64_t streams = 0;                           // connected /stream clients
  uint64_t streamsStarted = 0;                    // /stream responses begun
  uint64_t bytesSent = 0;                         // /stream body bytes written
  std::optional<proto::BackupStatusJson> backup;  // with --backup
};

// Families are grouped with one HELP/TYPE header each; every sample carries db="<name>"
// (proto/http/prometheus_text.h escapes it).
std::string renderMetrics(const std::vector<DatabaseMetricsSample>& databases);

}  // namespace walstream::server

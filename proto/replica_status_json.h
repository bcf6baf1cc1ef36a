// JSON shape of the replica's GET /status (--http), beside the primary's (status_json.h):
//
//   {"upstream": "http://10.0.0.5:9090",    --upstream
//    "db": "app.db",                         the primary's database followed
//    "pos": "<text form>",                   applied position; "" before the first snapshot
//    "upstream_pos": "<text form>",          what the primary's last heartbeat claimed; ""
//    "connected": true,                      streaming from the primary
//    "snapshots_applied": 1,
//    "transactions_applied": 42,             primary transactions applied
//    "lag_ms": 0,                            age of the newest applied data while behind; -1
//                                            before the first catch-up
//    "stalled_ms": 0,                        no progress while the primary claims more; 0 if not
//    "last_error": "",
//    "upstream_protocol": "walstream"}       what the upstream speaks: "walstream" or
//                                            "original" (docs/wire-format.md §9); "" before
//                                            its first stream response
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace walstream::proto {

struct ReplicaStatusJson {
  std::string upstream;
  std::string db;
  std::string pos;
  std::string upstreamPos;
  bool connected = false;
  uint64_t snapshotsApplied = 0;
  uint64_t transactionsApplied = 0;
  int64_t lagMs = 0;
  int64_t stalledMs = 0;
  std::string lastError;
  std::string upstreamProtocol;
  friend bool operator==(const ReplicaStatusJson&, const ReplicaStatusJson&) = default;
};

// Compact JSON; invalid UTF-8 in the strings (an upstream's error text) is replaced.
std::string encodeReplicaStatusJson(const ReplicaStatusJson& status);
// Throws walstream::Error when the text is not JSON of this shape.
ReplicaStatusJson decodeReplicaStatusJson(std::string_view text);

}  // namespace walstream::proto

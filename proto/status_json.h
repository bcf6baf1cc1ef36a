// JSON shapes of the primary's GET /status:
//
//   {"databases": [{
//      "name": "app.db",                 file name, as named in /stream?db=
//      "path": "/srv/app.db",            as given on the primary's command line
//      "page_size": 4096,                0 until capture has opened the database
//      "generation": "0123456789abcdef", "" while capture has no generation
//      "pos": "0123456789abcdef/0000000000000003:0000000000001f60",   last published position
//      "wal_bytes": 123456,              size of the -wal file at the last sync
//      "healthy": true,                  capture is running
//      "streams": [{"remote": "10.0.0.7:51234",
//                   "pos": "<text form>",            how far that client has been sent
//                   "connected_at": "2026-11-22T10:15:02.123Z"}],  RFC 3339, UTC
//      "backup": {                       only with --backup
//        "url": "file:///srv/backups/app",
//        "pos": "<text form>",           the end of what the store holds ("" until known)
//        "lag_bytes": 0, "lag_seconds": 0.0,   WAL captured and not yet in the store
//        "last_error": "",               "" once a write succeeded after it
//        "last_error_at": "",            RFC 3339, or ""
//        "errors": 0,                    failed attempts since start
//        "last_snapshot_at": "",         RFC 3339, or ""
//        "over_max_lag": false}          the backup gave up its place (--backup-max-lag)
//   }],
//   "streams": {"open": 3,               /stream responses open, all databases together
//               "max": 64,               --max-streams
//               "refused": 0}}           /stream requests answered 503 for --max-streams
// A /status without "streams" (a primary from before it) reads as all zero.
#pragma once

#include "core/log.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace walstream::proto {

struct StreamStatusJson {
  std::string remote;
  std::string pos;
  std::string connectedAt;
  friend bool operator==(const StreamStatusJson&, const StreamStatusJson&) = default;
};

struct BackupStatusJson {
  std::string url;
  std::string pos;
  uint64_t lagBytes = 0;
  double lagSeconds = 0;
  std::string lastError;
  std::string lastErrorAt;
  uint64_t errors = 0;
  std::string lastSnapshotAt;
  bool overMaxLag = false;
  friend bool operator==(const BackupStatusJson&, const BackupStatusJson&) = default;
};

struct DatabaseStatusJson {
  std::string name;
  std::string path;
  uint32_t pageSize = 0;
  std::string generation;
  std::string pos;
  uint64_t walBytes = 0;
  bool healthy = false;
  std::vector<StreamStatusJson> streams;
  std::optional<BackupStatusJson> backup;
  friend bool operator==(const DatabaseStatusJson&, const DatabaseStatusJson&) = default;
};

struct StreamCountsJson {
  uint64_t open = 0;
  uint64_t max = 0;
  uint64_t refused = 0;
  friend bool operator==(const StreamCountsJson&, const StreamCountsJson&) = default;
};

struct PrimaryStatusJson {
  std::vector<DatabaseStatusJson> databases;
  StreamCountsJson streams;
  friend bool operator==(const PrimaryStatusJson&, const PrimaryStatusJson&) = default;
};

std::string encodeStatusJson(const PrimaryStatusJson& status);
// Throws walstream::Error when the text is not JSON of this shape.
PrimaryStatusJson decodeStatusJson(std::string_view text);

// "2026-11-22T10:15:02.123Z" (the one formatter, shared with log lines).
using walstream::formatRfc3339;

}  // namespace walstream::proto

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
//                   "connected_at": "2026-11-22T10:15:02.123Z"}]   RFC 3339, UTC
//   }]}
#pragma once

#include "core/log.h"

#include <chrono>
#include <cstdint>
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

struct DatabaseStatusJson {
  std::string name;
  std::string path;
  uint32_t pageSize = 0;
  std::string generation;
  std::string pos;
  uint64_t walBytes = 0;
  bool healthy = false;
  std::vector<StreamStatusJson> streams;
  friend bool operator==(const DatabaseStatusJson&, const DatabaseStatusJson&) = default;
};

struct PrimaryStatusJson {
  std::vector<DatabaseStatusJson> databases;
  friend bool operator==(const PrimaryStatusJson&, const PrimaryStatusJson&) = default;
};

std::string encodeStatusJson(const PrimaryStatusJson& status);
// Throws walstream::Error when the text is not JSON of this shape.
PrimaryStatusJson decodeStatusJson(std::string_view text);

// "2026-11-22T10:15:02.123Z" (the one formatter, shared with log lines).
using walstream::formatRfc3339;

}  // namespace walstream::proto

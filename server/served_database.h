// One database as the server sees it: the source it streams from, how requests may name it, and
// the counters the server keeps about it.
#pragma once

#include <atomic>
#include <cstdint>

#include "server/capture/stream_source.h"
#include "server/checksum_cache.h"
#include "server/query.h"

namespace walstream::server {

struct ServedDatabase {
  ServedDatabase(StreamSource& streamSource, ServedName servedName)
      : source(streamSource), name(std::move(servedName)) {}

  StreamSource& source;
  const ServedName name;
  std::atomic<uint64_t> bytesSent{0};       // /stream body bytes written, chunk framing included
  std::atomic<uint64_t> streamsStarted{0};  // /stream responses begun
  ChecksumCache heartbeatChecksums;
};

}  // namespace walstream::server

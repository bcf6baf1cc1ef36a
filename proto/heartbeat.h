// The payload of a heartbeat record (record type 3, format in stream_record.h): the time the
// primary sent it and the WAL running checksum at the position carried in the record header.
#pragma once

#include <array>
#include <cstdint>
#include <span>

#include "core/wal_format.h"

namespace walstream::proto {

inline constexpr size_t kHeartbeatPayloadSize = 16;

struct HeartbeatPayload {
  uint64_t unixMicros = 0;
  Checksum checksum;

  std::array<uint8_t, kHeartbeatPayloadSize> encode() const;
  // `bytes` must hold exactly kHeartbeatPayloadSize bytes (checkRecordHeader guarantees it for
  // a decoded record); any other size is a programming error (std::invalid_argument).
  static HeartbeatPayload decode(std::span<const uint8_t> bytes);

  friend bool operator==(const HeartbeatPayload&, const HeartbeatPayload&) = default;
};

}  // namespace walstream::proto

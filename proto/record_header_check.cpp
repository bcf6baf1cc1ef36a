#include "proto/record_header_check.h"

#include <cstdio>
#include <string>

#include "core/wal_format.h"
#include "proto/heartbeat.h"

namespace walstream::proto {

namespace {

// Byte offsets of the header fields (stream_record.h).
constexpr uint64_t kTypeField = 0;
constexpr uint64_t kFlagsField = 4;
constexpr uint64_t kGenerationField = 8;
constexpr uint64_t kOffsetField = 24;
constexpr uint64_t kSizeField = 32;

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%x", v);
  return buf;
}

}  // namespace

StreamStatus checkRecordHeader(const StreamRecordHeader& h, uint64_t at,
                               const RecordLimits& limits) {
  const auto type = static_cast<RecordType>(h.type);
  if (type != RecordType::kSnapshot && type != RecordType::kWalSegment &&
      type != RecordType::kHeartbeat && type != RecordType::kIndexEnd) {
    return StreamStatus::failure(at + kTypeField, "unknown record type " + std::to_string(h.type));
  }
  const std::string name = recordTypeName(h.type);
  const uint32_t knownFlags = type == RecordType::kSnapshot ? kFlagCompressed : 0;
  if ((h.flags & ~knownFlags) != 0) {
    return StreamStatus::failure(at + kFlagsField,
                                 "unknown flag bits " + hex32(h.flags & ~knownFlags) +
                                     (type == RecordType::kIndexEnd ? " on an " : " on a ") + name +
                                     " record");
  }
  if (h.generation == 0 && type != RecordType::kHeartbeat) {
    return StreamStatus::failure(at + kGenerationField, name + " record with generation 0");
  }
  if (type == RecordType::kWalSegment && h.offset != 0 && h.offset < kWalHeaderSize) {
    return StreamStatus::failure(
        at + kOffsetField,
        "wal record at WAL offset " + std::to_string(h.offset) + ", inside the 32-byte WAL header");
  }
  if (type == RecordType::kIndexEnd && h.offset < kWalHeaderSize) {
    return StreamStatus::failure(at + kOffsetField, "index-end record at WAL offset " +
                                                        std::to_string(h.offset) +
                                                        ": a WAL ends after its 32-byte header");
  }
  const std::string size = std::to_string(h.size);
  switch (type) {
    case RecordType::kHeartbeat:
      if (h.size != kHeartbeatPayloadSize) {
        return StreamStatus::failure(at + kSizeField,
                                     "heartbeat record with payload size " + size + ", want 16");
      }
      break;
    case RecordType::kIndexEnd:
      if (h.size != 0) {
        return StreamStatus::failure(at + kSizeField,
                                     "index-end record with payload size " + size + ", want 0");
      }
      break;
    case RecordType::kWalSegment:
      if (h.size == 0) return StreamStatus::failure(at + kSizeField, "empty wal record");
      if (h.size > limits.maxWalSegmentBytes) {
        return StreamStatus::failure(at + kSizeField,
                                     "wal record payload size " + size + " exceeds the limit " +
                                         std::to_string(limits.maxWalSegmentBytes));
      }
      break;
    case RecordType::kSnapshot:
      if (h.size > limits.maxSnapshotBytes) {
        return StreamStatus::failure(at + kSizeField, "snapshot record payload size " + size +
                                                          " exceeds the limit " +
                                                          std::to_string(limits.maxSnapshotBytes));
      }
      if ((h.flags & kFlagCompressed) == 0 && h.size % kMinPageSize != 0) {
        return StreamStatus::failure(
            at + kSizeField, "raw snapshot size " + size + " is not a whole number of pages");
      }
      break;
  }
  return StreamStatus::success();
}

}  // namespace walstream::proto

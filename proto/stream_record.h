// The /stream wire format.
//
// A stream body is a sequence of records. Each record is a 40-byte StreamRecordHeader followed by
// `size` bytes of payload. All header fields are big-endian:
//
//   off  size  field
//    0    4    type        1 = snapshot, 2 = WAL segment, 3 = heartbeat, 4 = index end (both
//                          opt-in extensions)
//    4    4    flags       bit 0 (snapshot): payload is LZ4-frame compressed (opt-in extension)
//    8    8    generation
//   16    8    index
//   24    8    offset
//   32    8    size        payload bytes that follow the header
//
// Snapshot (1): the database image as of (generation, index, offset); raw pages unless flag bit 0.
// WAL segment (2): the segment starting at (generation, index, offset), LZ4-frame compressed,
//   exactly as stored in the shadow WAL; at offset 0 it begins with the 32-byte WAL header.
// Heartbeat (3): the primary's current position in the header; the payload is 16 bytes:
//   u64 unix time in microseconds when sent, then the WAL running checksum at that position
//   (s0, s1 as two u32), all big-endian. Sent only to clients that asked for heartbeats.
// Index end (4): WAL index `index` of the generation ended at WAL offset `offset` (a WAL restart
//   followed it); no payload. Sent only to clients that asked for it (`index-ends=1`), right
//   before the first segment of each index after the one the client stands in, so that a client
//   moves to (index+1, 0) only from the exact end of `index`, never past a hole.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/pos.h"

namespace walstream::proto {

inline constexpr size_t kStreamRecordHeaderSize = 40;

// Response header of a /stream that will announce index changes with index-end records: a
// client that asked for them (`index-ends=1`) and sees it must refuse an index change without
// one. A server that does not know the parameter leaves it out.
inline constexpr std::string_view kIndexEndsHeader = "Walstream-Index-Ends";

// Response header of a /stream that resumes a client at position P (its value, GEN/INDEX:OFFSET)
// of the history a promoted database continues, in the new generation from its start
// (docs/promotion.md §3): sent only to a client that asked (`continues=1`), whose `pos` and
// `checksum` are exactly the new generation's lineage. The client must hold exactly P, or refuse.
inline constexpr std::string_view kContinuesHeader = "Walstream-Continues";

enum class RecordType : uint32_t { kSnapshot = 1, kWalSegment = 2, kHeartbeat = 3, kIndexEnd = 4 };
inline constexpr uint32_t kFlagCompressed = 1;

struct StreamRecordHeader {
  uint32_t type = 0;
  uint32_t flags = 0;
  uint64_t generation = 0;
  uint64_t index = 0;
  uint64_t offset = 0;
  uint64_t size = 0;

  // The header of a record of `type` at `pos` with `size` payload bytes: every writer builds
  // headers through it, so that the fields are set in one place.
  static StreamRecordHeader of(RecordType type, const Pos& pos, uint64_t size = 0,
                               uint32_t flags = 0);

  Pos pos() const { return {generation, index, offset}; }
  std::array<uint8_t, kStreamRecordHeaderSize> encode() const;
  static StreamRecordHeader decode(const uint8_t* bytes);  // 40 bytes; no validation

  friend bool operator==(const StreamRecordHeader&, const StreamRecordHeader&) = default;
};

// "snapshot", "wal", "heartbeat", "index-end" or "unknown".
const char* recordTypeName(uint32_t type);

}  // namespace walstream::proto

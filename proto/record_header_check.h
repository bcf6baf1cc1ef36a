// What a well-formed StreamRecordHeader is (format in stream_record.h), checked before any of
// its payload is read so that a corrupt header is never followed by a huge allocation or a
// read of gigabytes of garbage.
#pragma once

#include <cstdint>

#include "proto/stream_record.h"
#include "proto/stream_status.h"

namespace walstream::proto {

// The largest payload of a WAL segment record as sent (LZ4-compressed), and of a snapshot record.
// Far above anything a primary sends: a segment holds the frames copied in one sync (cut at the
// first commit past 4 MiB), a snapshot is one database image. The decompressed bound of a
// segment is core/wal_segment.h kMaxWalSegmentBytes. docs/wire-format.md §3.1 lists them all.
inline constexpr uint64_t kMaxWalSegmentRecordBytes = uint64_t{256} << 20;  // 256 MiB
inline constexpr uint64_t kMaxSnapshotRecordBytes = uint64_t{1} << 40;      // 1 TiB

// Upper bounds on a record's payload size. A size beyond them is taken as corruption.
struct RecordLimits {
  uint64_t maxWalSegmentBytes = kMaxWalSegmentRecordBytes;  // compressed
  uint64_t maxSnapshotBytes = kMaxSnapshotRecordBytes;

  // Both limits set to `bytes` (a caller's single "largest record I accept").
  static RecordLimits uniform(uint64_t bytes) { return {bytes, bytes}; }
};

// A raw snapshot is whole database pages, and every SQLite page size is a multiple of this.
inline constexpr uint64_t kMinPageSize = 512;

// Checks the header of the record starting at stream offset `headerOffset`. Fields are checked
// in wire order, and a failure names the offset of the first offending field:
//   type      must be snapshot, WAL segment, heartbeat or index end;
//   flags     only kFlagCompressed, and only on a snapshot;
//   generation must be non-zero on a snapshot or WAL segment (a heartbeat may carry 0 when the
//             primary has no generation yet);
//   offset    of a WAL segment: 0, or past the 32-byte WAL header; of an index end: past it;
//   size      heartbeat exactly 16; index end 0; WAL segment 1..maxWalSegmentBytes; snapshot at
//   most
//             maxSnapshotBytes and, when raw, a multiple of 512.
StreamStatus checkRecordHeader(const StreamRecordHeader& header, uint64_t headerOffset,
                               const RecordLimits& limits);

}  // namespace walstream::proto

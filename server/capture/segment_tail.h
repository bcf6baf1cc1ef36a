// Facts about where a stored shadow WAL segment ends, for resume checks and heartbeats.
#pragma once

#include <cstdint>
#include <optional>
#include <span>

#include "core/pos.h"
#include "core/wal_format.h"
#include "server/capture/shadow_wal.h"

namespace walstream::server {

struct SegmentTail {
  uint64_t walBytes = 0;  // uncompressed length: the segment ends at offset + walBytes
  Checksum checksum;      // the WAL running checksum after its last frame
};

// Decompresses a listed segment (ShadowWal::listSegments) as a stream, keeping only its last
// frame header, so memory stays bounded by one page whatever the segment's size. Blocking disk
// I/O. Throws Error naming the segment when it is missing, corrupt, or not whole frames.
SegmentTail readListedSegmentTail(const ShadowWal& shadow, const SegmentInfo& segment,
                                  uint32_t pageSize);
// As above, for the segment starting at `start` (found by listing its index).
SegmentTail readSegmentTail(const ShadowWal& shadow, const Pos& start, uint32_t pageSize);

// The WAL running checksum at `pos`, taken from the stored segment that ends exactly there.
// nullopt when there is none: `pos` is at offset 0, the segment was removed, or `pos` is not a
// segment end. Blocking disk I/O; throws Error when that segment is corrupt.
std::optional<Checksum> checksumAt(const ShadowWal& shadow, const Pos& pos, uint32_t pageSize);

}  // namespace walstream::server

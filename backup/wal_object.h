// A WAL object: consecutive segments of one WAL index of the primary, as the shadow WAL holds
// them, behind a header that records where they start and when the primary captured each
// (docs/backup.md §4).
//
//   header       an LZ4 skippable frame: start position, the previous index's end (at offset
//                0), and per segment its WAL offset, WAL bytes, compressed bytes and capture
//                time; an FNV-1a 64 of its bytes ends it
//   segments     the segments' LZ4 frames, back to back, byte for byte as in the shadow WAL
//                (docs/shadow-wal.md §3.1): whole transactions each, the one at offset 0
//                beginning with the 32-byte WAL header
//
// So `lz4 -dc` of an index's objects, in offset order, is that WAL file's bytes. An object's
// first frame continues the checksum chain of the previous object's last frame (the WAL's own
// running checksum); a restore checks the chain across every object it applies.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/pos.h"

namespace walstream::backup {

struct WalObjectSegment {
  uint64_t offset = 0;       // WAL offset the segment starts at
  uint64_t walBytes = 0;     // decompressed
  uint64_t size = 0;         // compressed: its LZ4 frame
  int64_t capturedAtMs = 0;  // the primary's clock (Unix ms) when capture copied it
};

struct WalObjectHeader {
  Pos start;  // of the first segment
  // At offset 0 of index I > 0, where index I-1 ended (its WAL's size at the restart), when the
  // writer knew it; 0 otherwise. Lets a restore prove it applied all of index I-1.
  uint64_t previousIndexEnd = 0;
  std::vector<WalObjectSegment> segments;  // at least one, contiguous from start.offset

  uint64_t endOffset() const;  // WAL offset after the last segment
  Pos end() const { return Pos{start.generation, start.index, endOffset()}; }
};

// The header frame and its decoder. The decoder throws Error naming what is wrong (magic, sizes,
// segments that are not contiguous or not in order, checksum); it is fed untrusted bytes.
std::string encodeWalObjectHeader(const WalObjectHeader& header);
struct DecodedWalObjectHeader {
  WalObjectHeader header;
  uint64_t frameBytes = 0;  // bytes of the skippable frame: the first segment starts there
};
DecodedWalObjectHeader decodeWalObjectHeader(std::span<const uint8_t> bytes);

// A whole WAL object, split into its segments' LZ4 frames (each checked to be one whole frame
// declaring the header's walBytes, not decompressed). Throws Error naming the segment.
struct WalObjectView {
  WalObjectHeader header;
  std::vector<std::span<const uint8_t>> segments;  // into the parsed bytes
};
WalObjectView parseWalObject(std::span<const uint8_t> bytes);

// An object from a header and its segments' compressed bytes, in order.
std::string encodeWalObject(const WalObjectHeader& header,
                            const std::vector<std::span<const uint8_t>>& segments);

}  // namespace walstream::backup

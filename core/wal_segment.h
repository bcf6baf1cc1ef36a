// Parsing and checking the bytes of one shadow WAL segment.
//
// A segment is a run of the primary's WAL bytes, from a commit boundary to a later commit
// boundary of the same WAL file (index). The segment at offset 0 starts with the 32-byte WAL
// header. Segments are stored and streamed lz4-compressed (lz4_codec.h); this file works on
// the decompressed bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/wal_format.h"

namespace walstream {

// Everything needed to check the frames that follow a commit boundary of one WAL file.
struct WalChainState {
  uint32_t pageSize = 0;  // 0: no WAL header seen yet
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  bool bigEndianChecksum = false;
  Checksum checksum;  // running checksum after the last frame (the header's, before frame 1)

  bool initialized() const { return pageSize != 0; }
  static WalChainState fromHeader(const WalHeader& h) {
    return {h.pageSize, h.salt1, h.salt2, h.bigEndianChecksum(), h.checksum};
  }
};

struct WalFrameView {
  WalFrameHeader header;
  std::span<const uint8_t> page;
};

struct WalTransaction {
  std::vector<WalFrameView> frames;  // the last one is the commit frame
  uint32_t commitSize() const { return frames.back().header.commitSize; }
};

struct ParsedWalSegment {
  std::optional<WalHeader> header;  // present when the segment starts at offset 0
  std::vector<WalTransaction> transactions;
  uint64_t endOffset = 0;  // WAL offset just after the segment
  size_t frameCount() const;
};

// Parses `bytes`, which start at WAL offset `offset`. At offset 0 the bytes begin with a WAL
// header that replaces `state`; elsewhere `state` must be the chain state at `offset`. Every
// frame must carry the state's salts, a non-zero page number and the next running checksum, and
// the bytes must end exactly after a commit frame. On success `state` is advanced to the end.
// Throws Error("<reason> at WAL offset N") otherwise, leaving `state` unchanged.
ParsedWalSegment parseWalSegment(std::span<const uint8_t> bytes, uint64_t offset,
                                 WalChainState& state);

}  // namespace walstream

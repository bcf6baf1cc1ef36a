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

// The largest segment, decompressed, that the primary stores (capture refuses to read back a
// larger one as damaged) and that a replica accepts: segments are cut at the first commit
// boundary past 4 MiB, so only a single transaction of 2 GiB of frames comes near it.
inline constexpr size_t kMaxWalSegmentBytes = size_t{1} << 31;

// Page numbers are 32-bit and SQLite never uses 0xffffffff: the largest a WAL frame can carry
// whatever SQLite wrote it. A reader whose SQLite allows fewer pages passes its own bound.
inline constexpr uint32_t kMaxWalPageNumber = 0xfffffffe;

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

// The check that chains every frame of a WAL file to the one before it, for every reader of WAL
// bytes (parseWalSegment here; capture as it copies the primary's WAL). `frame` (its header `h`,
// then state.pageSize bytes of page) continues the chain `state` describes when it carries the
// state's salts and, in its header, the running checksum of its first 8 header bytes and its page
// seeded by state.checksum. Returns nullptr when it does, having advanced state.checksum past the
// frame; otherwise why not ("frame salt mismatch" or "frame checksum mismatch", for the caller to
// place), leaving `state` unchanged.
[[nodiscard]] const char* continueWalChain(WalChainState& state, const uint8_t* frame,
                                           const WalFrameHeader& h);

// Parses `bytes`, which start at WAL offset `offset`. At offset 0 the bytes begin with a WAL
// header that replaces `state`; elsewhere `state` must be the chain state at `offset`. Every
// frame must carry the state's salts, a page number from 1 to maxPageCount and the next running
// checksum, and the bytes must end exactly after a commit frame. A commit frame's database size
// is at most maxPageCount and at least its own page number (SQLite leaves pages past the new
// size out of a commit's frames). Earlier frames of a transaction may hold pages past its
// commit's size: SQLite spills dirty pages to the WAL before a transaction ends, and a
// transaction that then shrinks the database (auto_vacuum, VACUUM) leaves them behind; readers
// and checkpoints ignore pages past the database size (client/apply/wal_batch.h). On success
// `state` is advanced to the end. Throws Error("<reason> at WAL offset N") otherwise, leaving
// `state` unchanged.
ParsedWalSegment parseWalSegment(std::span<const uint8_t> bytes, uint64_t offset,
                                 WalChainState& state, uint32_t maxPageCount = kMaxWalPageNumber);

// Checks the bytes of one segment while they are decompressed, so that one that is not what its
// lz4 header claims is refused after its first few MiB instead of after gigabytes: the WAL
// header at offset 0 (valid, of the expected page size), and each whole frame's salts (the
// header's, or else the first frame's) and page number (1 to maxPageCount). parseWalSegment
// checks the whole segment once it is complete.
class WalSegmentPrefixCheck {
 public:
  WalSegmentPrefixCheck(uint64_t offset, uint32_t pageSize, uint32_t maxPageCount)
      : offset_(offset), pageSize_(pageSize), maxPageCount_(maxPageCount) {}
  // `prefix` is the segment's first bytes, longer at each call. Throws Error.
  void check(std::span<const uint8_t> prefix);

 private:
  uint64_t offset_;
  uint32_t pageSize_;
  uint32_t maxPageCount_;
  size_t checked_ = 0;  // bytes of the prefix already checked
  bool saltsKnown_ = false;
  uint32_t salt1_ = 0, salt2_ = 0;
};

}  // namespace walstream

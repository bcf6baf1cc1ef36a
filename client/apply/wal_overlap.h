// Segments that start before the applied position in the same WAL index.
//
// A primary of the original protocol resumes a replica by sending the whole WAL index it names
// again, from offset 0 (docs/wire-format.md §9): the replica holds those bytes already. They are
// not trusted for being at the same position: the overlap is parsed from its WAL header on, every
// frame chained to the one before it, and where it reaches the applied position its chain (salts
// and running checksum) must be the one the replica keeps with that position
// (client/replica_position.h). Then the overlap is the very WAL the replica applied (the chain
// covers every byte before it) and is skipped; what follows the position is applied as usual.
// Anything else means the upstream's WAL is not the one the replica followed (a primary that
// lost its last transactions and wrote others, or another database under the same generation):
// the replica must start over from a snapshot, never apply on top of it.
//
// A WalOverlap follows one stream's overlap across segments (and batches): it begins at the
// segment at offset 0 and ends at the segment that reaches the applied position.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "core/pos.h"
#include "core/wal_segment.h"

namespace walstream {

class WalOverlap {
 public:
  enum class Verdict {
    kInside,           // verified so far, ends before the applied position: skip the segment
    kReachesPosition,  // verified up to the applied position: apply `rest`, skip the rest
    kDiverged,         // not the WAL the replica applied: start over from a snapshot
    kOutOfOrder,       // does not continue the overlap followed so far: a broken stream
  };
  struct Outcome {
    Verdict verdict = Verdict::kDiverged;
    // kReachesPosition: the segment's bytes past the applied position (possibly none), and the
    // chain at the position as the overlap's WAL header and frames give it (its checksum byte
    // order is the header's, hence known).
    std::span<const uint8_t> rest;
    WalChainState chain;
    std::string why;  // kDiverged, kOutOfOrder
  };

  // `segment` holds the decompressed bytes of the segment at `segmentPos`, which lies in the
  // WAL index of `applied` and starts before it (segmentPos.offset < applied.offset).
  // `appliedChain` is the chain the replica keeps at `applied`, meaningful when `chainKnown`.
  Outcome check(const Pos& segmentPos, std::span<const uint8_t> segment, const Pos& applied,
                const WalChainState& appliedChain, bool chainKnown,
                uint32_t maxPageCount = kMaxWalPageNumber);

  // Forgets the overlap followed so far (a new stream, or a new applied position).
  void reset() { at_.reset(); }

 private:
  Outcome verifyAtPosition(std::span<const uint8_t> segment, size_t inOverlap,
                           const WalChainState& appliedChain);

  std::optional<Pos> at_;  // where the overlap verified so far ends
  WalChainState chain_;    // the chain there
};

}  // namespace walstream

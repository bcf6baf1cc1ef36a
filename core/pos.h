// Positions in the shadow WAL.
//
// A Pos names a byte in one WAL file of one generation:
//   generation: random 64-bit id, started whenever continuity with the previous shadow WAL
//               cannot be proven. 0 means "no generation" (an empty position).
//   index:      counts WAL restarts inside a generation.
//   offset:     byte offset inside that WAL file; always on a frame boundary and, for anything
//               published, on a commit boundary.
// Text form: "0123456789abcdef/0000000000000003:0000000000001f60", 16 lowercase hex digits each.
// Positions compare only within one generation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace walstream {

struct Pos {
  uint64_t generation = 0;
  uint64_t index = 0;
  uint64_t offset = 0;

  bool empty() const { return generation == 0; }
  std::string str() const;  // text form; "" for an empty position

  friend bool operator==(const Pos&, const Pos&) = default;
};

// Orders two positions of the same generation by (index, offset).
inline bool sameGenerationBefore(const Pos& a, const Pos& b) {
  return a.index < b.index || (a.index == b.index && a.offset < b.offset);
}

// How a WAL segment starting at `next` stands to a stream at `end` (where the previous segment
// ended, or where a snapshot left the stream). This is the one rule of which segment may follow
// which, wherever segments are queued, sent, checked or applied:
//   kContinues        same generation and index, starting exactly at `end`;
//   kStartsNextIndex  same generation, index `end.index + 1`, at offset 0: a WAL restart ended
//                     index `end.index` at `end.offset` (whether that is where it really ended
//                     is for index-end records to confirm: docs/wire-format.md);
//   kBreaks           anything else: a gap, an overlap, a skipped index or another generation.
enum class SegmentSuccession { kBreaks, kContinues, kStartsNextIndex };
SegmentSuccession segmentSuccession(const Pos& end, const Pos& next);

inline bool segmentMayFollow(const Pos& end, const Pos& next) {
  return segmentSuccession(end, next) != SegmentSuccession::kBreaks;
}

// 16 lowercase hex digits, zero padded.
std::string formatHex16(uint64_t v);

// Parses exactly 16 lowercase hex digits. Throws Error naming `what` and the text otherwise.
uint64_t parseHex16(std::string_view text, std::string_view what);

// Parses "GEN/INDEX:OFFSET"; "" gives an empty Pos. Throws Error on anything else, including
// a generation of all zeros (reserved for "none").
Pos parsePos(std::string_view text);

}  // namespace walstream

// Describes a /stream body record by record and checks everything the stream itself lets one
// check; the logic behind `walstream inspect`.
//
// One line per record (type column, then the record position in Pos text form, "-" for none):
//   snapshot   <pos> size=N pages=P page_size=S         (flags=compressed: pages not derived)
//   wal        <pos> size=N wal_bytes=W frames=F commits=C pages=D chain=ok|unchecked
//   heartbeat  <pos> size=16 time=<UTC> checksum=<s0>/<s1> chain=ok|unchecked
//
// Checks, beyond the record headers (record_header_check.h):
// - snapshot: the SQLite header (magic, page size at byte 16), size a whole number of pages,
//   and the header's page count when SQLite marks it valid. Only the first 100 bytes are kept.
// - WAL segment: lz4 frame, then the frame chain (parseWalSegment) from the WAL header of the
//   segment at offset 0 onwards. A segment whose chain state is unknown (the stream started
//   mid-index) is split by the page size when one is known (snapshot or WAL header of the same
//   generation), checked for salts, page numbers and a final commit, and reported
//   chain=unchecked; its frames after the first, and every later segment of that index, are
//   checked against the chain seeded by its first frame's stored checksum (for both checksum
//   byte orders while the WAL header that names it has not been seen).
// - positions: within a generation each segment continues where the previous record ended, or
//   starts the next index at offset 0.
// - heartbeat: its checksum matches the chain when it names the position the chain reached.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/pos.h"
#include "core/wal_segment.h"
#include "proto/record_decoder.h"

namespace walstream::proto {

class StreamInspector {
 public:
  using LineSink = std::function<void(const std::string& line)>;

  StreamInspector(RecordLimits limits, LineSink sink);

  // Decodes `bytes` (the next piece of the stream); emits a line for every record completed.
  // Returns the first failure; after one, further input is ignored and the failure repeated.
  StreamStatus feed(std::span<const uint8_t> bytes);
  // At the end of input: success on a clean end, otherwise truncation.
  StreamStatus finish();

 private:
  StreamStatus onSnapshotChunk(std::span<const uint8_t> chunk);
  StreamStatus checkSnapshotHead();
  StreamStatus onSnapshotEnd();
  StreamStatus onWalSegment(const StreamRecord& record);
  StreamStatus onHeartbeat(const StreamRecord& record);
  StreamStatus onIndexEnd(const StreamRecord& record);
  StreamStatus checkContinuity(const StreamRecordHeader& header, uint64_t recordOffset) const;
  void emit(const StreamRecordHeader& header, const std::string& details);

  RecordDecoder decoder_;
  LineSink sink_;
  StreamStatus status_ = StreamStatus::success();

  // Snapshot in progress: its first bytes (the SQLite header) and what they told.
  std::vector<uint8_t> snapshotHead_;
  bool snapshotHeadChecked_ = false;
  uint32_t snapshotPageSize_ = 0;

  // What is known of the WAL the stream describes.
  uint64_t pageSizeGeneration_ = 0;  // generation whose page size is pageSize_
  uint32_t pageSize_ = 0;
  std::optional<Pos> next_;  // where the next segment must start (or index + 1, offset 0)
  // Once a stream has sent an index-end record it announces every index change: the next index
  // may start only right after the index-end record at next_.
  bool indexEndsSent_ = false;
  bool indexEnded_ = false;  // an index-end record at next_ was the last WAL-position record
  // Chain states at next_: none (unknown), one, or two when the checksum byte order is not
  // known yet (all share salts and running checksum).
  std::vector<WalChainState> chain_;
};

}  // namespace walstream::proto

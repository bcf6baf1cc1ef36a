#include "proto/stream_inspector.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <set>
#include <string>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/pos.h"
#include "proto/heartbeat.h"

namespace walstream::proto {

namespace {

// The SQLite database header (https://www.sqlite.org/fileformat.html, "The Database Header").
constexpr size_t kSqliteHeaderSize = 100;
constexpr char kSqliteMagic[] = "SQLite format 3";  // 16 bytes with its terminating NUL
constexpr size_t kPageSizeField = 16;               // u16; 1 means 65536
constexpr size_t kChangeCounterField = 24;          // u32
constexpr size_t kPageCountField = 28;              // u32, valid when validFor == changeCounter
constexpr size_t kValidForField = 92;               // u32

constexpr uint64_t kSizeField = 32;  // of the stream record header

std::string posText(const Pos& p) {
  return p.empty() ? "-" : p.str();
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

std::string utcTime(uint64_t unixMicros) {
  const auto seconds = static_cast<std::time_t>(unixMicros / 1'000'000);
  std::tm tm{};
  if (gmtime_r(&seconds, &tm) == nullptr) return "invalid";
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%06uZ", date, static_cast<unsigned>(unixMicros % 1'000'000));
  return out;
}

struct SegmentCounts {
  size_t frames = 0;
  size_t commits = 0;
  std::set<uint32_t> pages;

  void add(const WalFrameHeader& h) {
    ++frames;
    if (h.isCommit()) ++commits;
    pages.insert(h.pageNumber);
  }
  void add(const ParsedWalSegment& parsed) {
    for (const auto& txn : parsed.transactions) {
      for (const auto& f : txn.frames) add(f.header);
    }
  }
  std::string text() const {
    return " frames=" + std::to_string(frames) + " commits=" + std::to_string(commits) +
           " pages=" + std::to_string(pages.size());
  }
};

// What checking one WAL segment found: the chain states at its end (none: unknown) and what its
// line reports.
struct SegmentCheck {
  std::vector<WalChainState> chain;
  SegmentCounts counts;
  bool chainChecked = true;  // chain=ok, else chain=unchecked
  bool framesKnown = true;   // false: no page size to split the segment into frames by
};

// A failure of the WAL segment in `record`, its reason prefixed with the record's position.
StreamStatus segmentFailure(const StreamRecord& record, uint64_t streamOffset,
                            const std::string& reason) {
  return StreamStatus::failure(streamOffset,
                               "wal record at " + record.header.pos().str() + ": " + reason);
}

StreamStatus segmentFailure(const StreamRecord& record, const std::string& reason) {
  return segmentFailure(record, record.payloadOffset(), reason);
}

// A segment at offset 0: its WAL header starts the chain. Its page size must be the one seen
// earlier in the generation (`knownPageSize`, 0 for none).
StreamStatus checkFromWalHeader(const StreamRecord& record, std::span<const uint8_t> bytes,
                                uint32_t knownPageSize, SegmentCheck& out) {
  WalChainState state;
  ParsedWalSegment parsed;
  try {
    parsed = parseWalSegment(bytes, 0, state);
  } catch (const Error& e) {
    return segmentFailure(record, e.what());
  }
  if (knownPageSize != 0 && knownPageSize != state.pageSize) {
    return segmentFailure(record, "WAL page size " + std::to_string(state.pageSize) +
                                      " differs from page size " + std::to_string(knownPageSize) +
                                      " seen earlier in this generation");
  }
  out.counts.add(parsed);
  out.chain = {state};
  return StreamStatus::success();
}

// Parses `bytes` (starting at WAL `offset`) once per candidate chain state; each candidate that
// verifies them survives into out.chain, advanced past them (the counts are taken once). Returns
// the first candidate's failure, for when none survives.
std::string keepChainsThatParse(std::span<const uint8_t> bytes, uint64_t offset,
                                const std::vector<WalChainState>& candidates, SegmentCheck& out) {
  std::string firstError;
  for (WalChainState state : candidates) {
    try {
      ParsedWalSegment parsed = parseWalSegment(bytes, offset, state);
      if (out.chain.empty()) out.counts.add(parsed);
      out.chain.push_back(state);
    } catch (const Error& e) {
      if (firstError.empty()) firstError = e.what();
    }
  }
  return firstError;
}

// A segment that starts where the chain `candidates` describe ended. Each candidate byte order
// that verifies the segment survives; none is a broken chain.
StreamStatus checkOnChain(const StreamRecord& record, std::span<const uint8_t> bytes,
                          const std::vector<WalChainState>& candidates, SegmentCheck& out) {
  const std::string error = keepChainsThatParse(bytes, record.header.offset, candidates, out);
  if (out.chain.empty()) return segmentFailure(record, error);
  return StreamStatus::success();
}

// A segment in the middle of an index whose chain is unknown (the stream started there), split
// into frames by the generation's `pageSize` and reported chain=unchecked. Its first frame
// seeds the chain in both checksum byte orders: no WAL header has named one.
StreamStatus checkSeededByFirstFrame(const StreamRecord& record, std::span<const uint8_t> bytes,
                                     uint32_t pageSize, SegmentCheck& out) {
  out.chainChecked = false;
  const uint64_t offset = record.header.offset;
  const size_t frameSize = size_t{pageSize} + kWalFrameHeaderSize;
  if (offset < kWalHeaderSize || (offset - kWalHeaderSize) % frameSize != 0) {
    return segmentFailure(
        record, record.streamOffset + 24,
        "offset is not on a frame boundary for page size " + std::to_string(pageSize));
  }
  if (bytes.size() % frameSize != 0) {
    return segmentFailure(record, "segment of " + std::to_string(bytes.size()) +
                                      " bytes holds a partial frame (frame size " +
                                      std::to_string(frameSize) + ")");
  }
  // Reading the first frame header needs one frame; an lz4 frame may decompress to nothing.
  if (bytes.empty()) return segmentFailure(record, "segment holds no frames");
  const WalFrameHeader first = WalFrameHeader::decode(bytes.data());
  if (first.pageNumber == 0) {
    return segmentFailure(record,
                          "frame with page number 0 at WAL offset " + std::to_string(offset));
  }
  if (bytes.size() == frameSize && !first.isCommit()) {
    return segmentFailure(record, "segment does not end on a commit frame");
  }
  // The first frame's checksum cannot be verified without the chain before it, but it
  // seeds the chain for everything after it.
  out.counts.add(first);
  const std::span<const uint8_t> rest = bytes.subspan(frameSize);
  const std::vector<WalChainState> seeded = {
      {pageSize, first.salt1, first.salt2, false, first.checksum},
      {pageSize, first.salt1, first.salt2, true, first.checksum}};
  if (rest.empty()) {
    out.chain = seeded;
    return StreamStatus::success();
  }
  const std::string error = keepChainsThatParse(rest, offset + frameSize, seeded, out);
  if (out.chain.empty()) return segmentFailure(record, error);
  return StreamStatus::success();
}

}  // namespace

StreamInspector::StreamInspector(RecordLimits limits, LineSink sink)
    : decoder_(RecordDecoderOptions{limits, PayloadDelivery::kChunked, PayloadDelivery::kWhole,
                                    PayloadDelivery::kWhole}),
      sink_(std::move(sink)) {}

StreamStatus StreamInspector::feed(std::span<const uint8_t> bytes) {
  if (!status_.ok()) return status_;
  decoder_.feed(bytes);
  for (;;) {
    StreamStatus s = StreamStatus::success();
    switch (decoder_.next()) {
      case DecodeEvent::kNeedInput:
        return status_;
      case DecodeEvent::kError:
        return status_ = decoder_.error();
      case DecodeEvent::kRecord:
        switch (static_cast<RecordType>(decoder_.record().header.type)) {
          case RecordType::kWalSegment:
            s = onWalSegment(decoder_.record());
            break;
          case RecordType::kIndexEnd:
            s = onIndexEnd(decoder_.record());
            break;
          default:
            s = onHeartbeat(decoder_.record());
            break;
        }
        break;
      case DecodeEvent::kRecordBegin:
        snapshotHead_.clear();
        snapshotHeadChecked_ = false;
        snapshotPageSize_ = 0;
        break;
      case DecodeEvent::kPayloadChunk:
        s = onSnapshotChunk(decoder_.chunk());
        break;
      case DecodeEvent::kRecordEnd:
        s = onSnapshotEnd();
        break;
    }
    if (!s.ok()) return status_ = std::move(s);
  }
}

StreamStatus StreamInspector::finish() {
  if (!status_.ok()) return status_;
  return status_ = decoder_.finish();
}

void StreamInspector::emit(const StreamRecordHeader& h, const std::string& details) {
  std::string type = recordTypeName(h.type);
  type.resize(std::max<size_t>(type.size(), 10), ' ');
  sink_(type + " " + posText(h.pos()) + " size=" + std::to_string(h.size) + details);
}

StreamStatus StreamInspector::onSnapshotChunk(std::span<const uint8_t> chunk) {
  if (decoder_.header().flags & kFlagCompressed) return StreamStatus::success();
  const size_t want = std::min(kSqliteHeaderSize - snapshotHead_.size(), chunk.size());
  snapshotHead_.insert(snapshotHead_.end(), chunk.begin(), chunk.begin() + want);
  if (snapshotHead_.size() == kSqliteHeaderSize && !snapshotHeadChecked_) {
    return checkSnapshotHead();
  }
  return StreamStatus::success();
}

StreamStatus StreamInspector::checkSnapshotHead() {
  snapshotHeadChecked_ = true;
  const StreamRecordHeader& h = decoder_.header();
  const uint64_t payloadAt = decoder_.recordOffset() + kStreamRecordHeaderSize;
  const uint8_t* b = snapshotHead_.data();
  if (snapshotHead_.size() < kSqliteHeaderSize) {
    return StreamStatus::failure(payloadAt, "snapshot of " + std::to_string(h.size) +
                                                " bytes is shorter than the SQLite header");
  }
  if (std::memcmp(b, kSqliteMagic, sizeof kSqliteMagic) != 0) {
    return StreamStatus::failure(payloadAt, "snapshot does not start with the SQLite header");
  }
  const uint16_t rawPageSize = loadBE16(b + kPageSizeField);
  const uint32_t pageSize = rawPageSize == 1 ? 65536 : rawPageSize;
  if (!isValidPageSize(pageSize)) {
    return StreamStatus::failure(
        payloadAt + kPageSizeField,
        "snapshot page size " + std::to_string(rawPageSize) + " is not a valid SQLite page size");
  }
  if (pageSizeGeneration_ == h.generation && pageSize_ != 0 && pageSize_ != pageSize) {
    return StreamStatus::failure(payloadAt + kPageSizeField,
                                 "snapshot page size " + std::to_string(pageSize) +
                                     " differs from page size " + std::to_string(pageSize_) +
                                     " seen earlier in generation " + formatHex16(h.generation));
  }
  if (h.size % pageSize != 0) {
    return StreamStatus::failure(decoder_.recordOffset() + kSizeField,
                                 "snapshot size " + std::to_string(h.size) +
                                     " is not a whole number of " + std::to_string(pageSize) +
                                     "-byte pages");
  }
  const uint64_t pages = h.size / pageSize;
  const uint32_t headerPages = loadBE32(b + kPageCountField);
  if (loadBE32(b + kValidForField) == loadBE32(b + kChangeCounterField) && headerPages != pages) {
    return StreamStatus::failure(payloadAt + kPageCountField,
                                 "snapshot header counts " + std::to_string(headerPages) +
                                     " pages but the snapshot holds " + std::to_string(pages));
  }
  snapshotPageSize_ = pageSize;
  pageSize_ = pageSize;
  pageSizeGeneration_ = h.generation;
  return StreamStatus::success();
}

StreamStatus StreamInspector::onSnapshotEnd() {
  const StreamRecordHeader& h = decoder_.header();
  std::string details;
  if (h.flags & kFlagCompressed) {
    details = " flags=compressed";
  } else if (h.size == 0) {
    details = " pages=0";
  } else {
    if (!snapshotHeadChecked_) {
      if (StreamStatus s = checkSnapshotHead(); !s.ok()) return s;
    }
    details = " pages=" + std::to_string(h.size / snapshotPageSize_) +
              " page_size=" + std::to_string(snapshotPageSize_);
  }
  // The chain state survives a snapshot only when the snapshot sits exactly where it ended.
  if (!(next_ && *next_ == h.pos())) chain_.clear();
  next_ = h.pos();
  indexEnded_ = false;
  emit(h, details);
  return StreamStatus::success();
}

StreamStatus StreamInspector::checkContinuity(const StreamRecordHeader& h,
                                              uint64_t recordOffset) const {
  if (!next_ || next_->generation != h.generation) return StreamStatus::success();
  const SegmentSuccession succession = segmentSuccession(*next_, h.pos());
  if (succession == SegmentSuccession::kContinues) return StreamStatus::success();
  if (succession == SegmentSuccession::kStartsNextIndex) {
    if (!indexEndsSent_ || indexEnded_) return StreamStatus::success();
    return StreamStatus::failure(recordOffset + 16,
                                 "wal record at " + h.pos().str() + " starts the next index, but " +
                                     "no index-end record said that the stream's index ended at " +
                                     next_->str());
  }
  const uint64_t field = h.index == next_->index ? 24 : 16;
  return StreamStatus::failure(
      recordOffset + field, "wal record at " + h.pos().str() + " does not continue the stream at " +
                                next_->str() + " (nor start the next index at offset 0)");
}

StreamStatus StreamInspector::onIndexEnd(const StreamRecord& record) {
  const StreamRecordHeader& h = record.header;
  if (next_ && next_->generation == h.generation && *next_ != h.pos()) {
    return StreamStatus::failure(
        record.streamOffset + 16,
        "index-end record at " + h.pos().str() + ", but the stream is at " + next_->str());
  }
  indexEndsSent_ = true;
  indexEnded_ = true;
  emit(h, "");
  return StreamStatus::success();
}

StreamStatus StreamInspector::onWalSegment(const StreamRecord& record) {
  const StreamRecordHeader& h = record.header;
  if (StreamStatus s = checkContinuity(h, record.streamOffset); !s.ok()) return s;
  indexEnded_ = false;

  std::string wal;
  try {
    wal = lz4Decompress(record.payload, kMaxWalSegmentBytes);
  } catch (const Error& e) {
    return segmentFailure(record, e.what());
  }
  const std::span<const uint8_t> bytes = asBytes(wal);

  const bool continues = next_ && next_->generation == h.generation && next_->index == h.index &&
                         next_->offset == h.offset;
  const uint32_t knownPageSize = pageSizeGeneration_ == h.generation ? pageSize_ : 0;
  SegmentCheck check;
  StreamStatus s = StreamStatus::success();
  if (h.offset == 0) {
    s = checkFromWalHeader(record, bytes, knownPageSize, check);
  } else if (continues && !chain_.empty()) {
    s = checkOnChain(record, bytes, chain_, check);
  } else if (knownPageSize != 0) {
    s = checkSeededByFirstFrame(record, bytes, knownPageSize, check);
  } else {
    check.framesKnown = false;
    check.chainChecked = false;
  }
  if (!s.ok()) return s;

  if (!check.chain.empty() && (pageSizeGeneration_ != h.generation || pageSize_ == 0)) {
    pageSizeGeneration_ = h.generation;
    pageSize_ = check.chain.front().pageSize;
  }
  chain_ = std::move(check.chain);
  next_ = Pos{h.generation, h.index, h.offset + bytes.size()};
  emit(h, " wal_bytes=" + std::to_string(bytes.size()) +
              (check.framesKnown ? check.counts.text() : " frames=? (page size unknown)") +
              (check.chainChecked ? " chain=ok" : " chain=unchecked"));
  return StreamStatus::success();
}

StreamStatus StreamInspector::onHeartbeat(const StreamRecord& record) {
  const StreamRecordHeader& h = record.header;
  const HeartbeatPayload hb = HeartbeatPayload::decode(record.payload);
  std::string chainText = " chain=unchecked";
  if (!chain_.empty() && next_ && *next_ == h.pos()) {
    const Checksum expected = chain_.front().checksum;
    if (hb.checksum != expected) {
      return StreamStatus::failure(record.payloadOffset() + 8,
                                   "heartbeat checksum " + hex32(hb.checksum.s0) + "/" +
                                       hex32(hb.checksum.s1) + " differs from the WAL chain's " +
                                       hex32(expected.s0) + "/" + hex32(expected.s1) + " at " +
                                       h.pos().str());
    }
    chainText = " chain=ok";
  }
  emit(h, " time=" + utcTime(hb.unixMicros) + " checksum=" + hex32(hb.checksum.s0) + "/" +
              hex32(hb.checksum.s1) + chainText);
  return StreamStatus::success();
}

}  // namespace walstream::proto

// Incremental decoder of a /stream body (format in stream_record.h).
//
// The body arrives in whatever pieces the network delivers, down to single bytes. The decoder
// is a pull parser: hand it the next piece with feed(), then call next() until it returns
// kNeedInput, acting on each event. Nothing is read ahead of the caller, so a caller that stops
// calling next() (to apply a transaction, say) applies back-pressure naturally.
//
// Payloads are delivered in one of two ways, chosen per record type:
//   whole:   kRecord once the entire payload has arrived; the decoder buffers it (bounded by
//            RecordLimits). The convenience for WAL segments and heartbeats.
//   chunked: kRecordBegin (header), then kPayloadChunk for each piece as it arrives (pointing
//            straight into the caller's fed bytes, no copy), then kRecordEnd. For snapshots,
//            which can be many gigabytes and must never be held whole.
//
// Every header is checked (record_header_check.h) before any of its payload is consumed. Errors
// are values: the first one makes next() return kError from then on, and error() names the
// reason and the stream offset. At the end of input, finish() tells a clean end (on a record
// boundary) from a truncated stream.
//
// Offsets are counted from the first byte ever fed, i.e. the first byte of the response body.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "proto/record_header_check.h"
#include "proto/stream_record.h"
#include "proto/stream_status.h"

namespace walstream::proto {

enum class PayloadDelivery { kWhole, kChunked };

struct RecordDecoderOptions {
  RecordLimits limits;
  PayloadDelivery snapshotDelivery = PayloadDelivery::kChunked;
  PayloadDelivery walSegmentDelivery = PayloadDelivery::kWhole;
  PayloadDelivery heartbeatDelivery = PayloadDelivery::kWhole;
};

// A record delivered whole.
struct StreamRecord {
  StreamRecordHeader header;
  uint64_t streamOffset = 0;  // of the first header byte
  std::vector<uint8_t> payload;

  uint64_t payloadOffset() const { return streamOffset + kStreamRecordHeaderSize; }
};

enum class DecodeEvent {
  kNeedInput,     // every fed byte is consumed: feed() more, or finish() at the end of input
  kRecord,        // a whole record: record() / takeRecord()
  kRecordBegin,   // a chunked record's header: header(), recordOffset()
  kPayloadChunk,  // the next bytes of a chunked record's payload: chunk(), chunkOffset()
  kRecordEnd,     // a chunked record's payload is complete (follows its last chunk, if any)
  kError,         // error(); the decoder stays failed
};

class RecordDecoder {
 public:
  explicit RecordDecoder(RecordDecoderOptions options = {});

  // Hands over the next bytes of the stream. They are not copied up front: the caller keeps
  // them alive and unchanged until next() returns kNeedInput (or kError). Feeding again before
  // that is a programming error (std::logic_error). Feeding a failed decoder is a no-op.
  void feed(std::span<const uint8_t> bytes);

  // Advances to the next event. See DecodeEvent for what is valid after each.
  DecodeEvent next();

  // Call at the end of input, after next() returned kNeedInput. Success when the stream ended
  // on a record boundary; otherwise a truncation failure at the offset just past the last byte
  // received, naming the record it cut. Returns the sticky error of a failed decoder.
  StreamStatus finish() const;

  // After kRecordBegin / kPayloadChunk / kRecordEnd: the current chunked record's header and
  // the stream offset of its first header byte.
  const StreamRecordHeader& header() const { return header_; }
  uint64_t recordOffset() const { return recordOffset_; }

  // After kRecord. takeRecord() moves the payload out.
  const StreamRecord& record() const { return record_; }
  StreamRecord takeRecord() { return std::move(record_); }

  // After kPayloadChunk: bytes inside the caller's fed buffer, and the stream offset of the
  // first of them. Valid as long as the fed bytes are.
  std::span<const uint8_t> chunk() const { return chunk_; }
  uint64_t chunkOffset() const { return chunkOffset_; }

  // After kError.
  const StreamStatus& error() const { return error_; }

  uint64_t offset() const { return offset_; }  // stream bytes consumed so far
  bool failed() const { return !error_.ok(); }

 private:
  enum class State { kHeader, kWholePayload, kChunkedPayload, kChunkedEnd };

  DecodeEvent onHeaderComplete();
  std::span<const uint8_t> consume(size_t n);
  DecodeEvent fail(StreamStatus status);

  RecordDecoderOptions options_;
  State state_ = State::kHeader;
  std::span<const uint8_t> input_;  // fed and not yet consumed
  uint64_t offset_ = 0;
  std::array<uint8_t, kStreamRecordHeaderSize> headerBytes_{};
  size_t headerFill_ = 0;
  StreamRecordHeader header_;
  uint64_t recordOffset_ = 0;
  uint64_t payloadRemaining_ = 0;
  StreamRecord record_;
  std::span<const uint8_t> chunk_;
  uint64_t chunkOffset_ = 0;
  StreamStatus error_ = StreamStatus::success();
};

}  // namespace walstream::proto

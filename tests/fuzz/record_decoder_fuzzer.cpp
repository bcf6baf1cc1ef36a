// Fuzz target: the /stream body decoder (proto/record_decoder.h) and the stream inspector built
// on it (proto/stream_inspector.h, what `walstream inspect` runs on untrusted bytes).
//
// Input: one options byte, one chunking byte, then the stream body.
//   options bit 0..2: flip the delivery (whole <-> chunked) of snapshots, WAL segments and
//                     heartbeats from the defaults; bit 3: small RecordLimits (4 KiB).
//   chunking: low 4 bits give the largest piece (1 << n bytes), high 4 bits seed the sizes;
//             empty pieces are fed too. 0 feeds the body in one piece both times.
// Properties: the body decoded in one piece and in the derived pieces gives the same records,
// payload bytes and final status; every event is consistent with the bytes fed (offsets, header
// bytes re-encode to the input, chunks point into the piece fed); a failure names an offset
// inside the bytes fed. The inspector emits the same lines and status for both feedings.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "proto/record_decoder.h"
#include "proto/record_header_check.h"
#include "proto/stream_inspector.h"
#include "tests/fuzz/fuzz_check.h"

using namespace walstream;
using namespace walstream::proto;

namespace {

struct Item {
  bool chunked = false;
  bool ended = false;  // a chunked record's kRecordEnd arrived
  StreamRecordHeader header;
  uint64_t offset = 0;
  std::vector<uint8_t> payload;
  friend bool operator==(const Item&, const Item&) = default;
};

struct Transcript {
  std::vector<Item> items;
  bool ok = true;
  uint64_t errorOffset = 0;
  std::string reason;
  uint64_t consumed = 0;
  friend bool operator==(const Transcript&, const Transcript&) = default;
};

// The sizes in which the body is fed: everything at once, or pieces derived from the input.
class Pieces {
 public:
  static Pieces whole() { return Pieces(0, 0); }
  static Pieces derived(uint8_t control) { return Pieces(control & 0x0f, control >> 4); }

  size_t next(size_t remaining) {
    if (shift_ == 0 && seed_ == 0) return remaining;
    const uint64_t r = rng_.next();
    if (r % 8 == 0) return 0;
    const size_t largest = size_t{1} << shift_;
    return std::min(remaining, 1 + static_cast<size_t>((r >> 3) % largest));
  }

 private:
  Pieces(unsigned shift, unsigned seed) : shift_(shift), seed_(seed), rng_(seed) {}
  unsigned shift_;
  unsigned seed_;
  fuzz::Rng rng_;
};

PayloadDelivery deliveryOf(uint32_t type, const RecordDecoderOptions& o) {
  if (type == static_cast<uint32_t>(RecordType::kSnapshot)) return o.snapshotDelivery;
  if (type == static_cast<uint32_t>(RecordType::kWalSegment)) return o.walSegmentDelivery;
  if (type == static_cast<uint32_t>(RecordType::kHeartbeat)) return o.heartbeatDelivery;
  return PayloadDelivery::kWhole;  // an index end has no payload
}

// A delivered header is one that passes the header check, and is the bytes at its offset.
void checkHeader(const StreamRecordHeader& h, uint64_t offset, std::span<const uint8_t> body,
                 const RecordDecoderOptions& options) {
  FUZZ_CHECK(checkRecordHeader(h, offset, options.limits).ok());
  FUZZ_CHECK(offset + kStreamRecordHeaderSize <= body.size());
  const auto encoded = h.encode();
  FUZZ_CHECK(std::memcmp(encoded.data(), body.data() + offset, encoded.size()) == 0);
}

Transcript decode(std::span<const uint8_t> body, const RecordDecoderOptions& options,
                  Pieces pieces) {
  RecordDecoder decoder(options);
  Transcript t;
  bool inChunked = false;
  size_t fed = 0;
  for (;;) {
    const std::span<const uint8_t> piece = body.subspan(fed, pieces.next(body.size() - fed));
    decoder.feed(piece);
    fed += piece.size();
    for (bool more = true; more;) {
      switch (decoder.next()) {
        case DecodeEvent::kNeedInput:
          FUZZ_CHECK(decoder.offset() == fed);
          more = false;
          break;
        case DecodeEvent::kError:
          FUZZ_CHECK(decoder.failed() && !decoder.error().ok());
          FUZZ_CHECK(decoder.error().streamOffset() <= fed);
          FUZZ_CHECK(decoder.next() == DecodeEvent::kError);  // sticky
          t.ok = false;
          t.errorOffset = decoder.error().streamOffset();
          t.reason = decoder.error().reason();
          t.consumed = decoder.offset();
          return t;
        case DecodeEvent::kRecord: {
          FUZZ_CHECK(!inChunked);
          StreamRecord r = decoder.takeRecord();
          FUZZ_CHECK(deliveryOf(r.header.type, options) == PayloadDelivery::kWhole);
          checkHeader(r.header, r.streamOffset, body, options);
          FUZZ_CHECK(r.payload.size() == r.header.size);
          FUZZ_CHECK(r.payloadOffset() + r.payload.size() == decoder.offset());
          FUZZ_CHECK(std::equal(r.payload.begin(), r.payload.end(),
                                body.begin() + static_cast<ptrdiff_t>(r.payloadOffset())));
          t.items.push_back({false, true, r.header, r.streamOffset, std::move(r.payload)});
          break;
        }
        case DecodeEvent::kRecordBegin:
          FUZZ_CHECK(!inChunked);
          FUZZ_CHECK(deliveryOf(decoder.header().type, options) == PayloadDelivery::kChunked);
          checkHeader(decoder.header(), decoder.recordOffset(), body, options);
          FUZZ_CHECK(decoder.recordOffset() + kStreamRecordHeaderSize == decoder.offset());
          inChunked = true;
          t.items.push_back({true, false, decoder.header(), decoder.recordOffset(), {}});
          break;
        case DecodeEvent::kPayloadChunk: {
          FUZZ_CHECK(inChunked);
          Item& item = t.items.back();
          const std::span<const uint8_t> chunk = decoder.chunk();
          FUZZ_CHECK(!chunk.empty());
          FUZZ_CHECK(chunk.data() >= piece.data() &&
                     chunk.data() + chunk.size() <= piece.data() + piece.size());
          FUZZ_CHECK(decoder.chunkOffset() ==
                     item.offset + kStreamRecordHeaderSize + item.payload.size());
          item.payload.insert(item.payload.end(), chunk.begin(), chunk.end());
          FUZZ_CHECK(item.payload.size() <= item.header.size);
          break;
        }
        case DecodeEvent::kRecordEnd: {
          FUZZ_CHECK(inChunked);
          Item& item = t.items.back();
          FUZZ_CHECK(item.payload.size() == item.header.size);
          item.ended = true;
          inChunked = false;
          break;
        }
      }
    }
    if (fed == body.size()) break;
  }
  const StreamStatus end = decoder.finish();
  t.ok = end.ok();
  if (!end.ok()) {
    FUZZ_CHECK(end.streamOffset() == fed);  // a truncation is reported where the bytes stop
    t.errorOffset = end.streamOffset();
    t.reason = end.reason();
  } else {
    FUZZ_CHECK(!inChunked);
  }
  t.consumed = decoder.offset();
  return t;
}

struct InspectorRun {
  std::vector<std::string> lines;
  bool ok = true;
  uint64_t errorOffset = 0;
  std::string reason;
  friend bool operator==(const InspectorRun&, const InspectorRun&) = default;
};

InspectorRun inspect(std::span<const uint8_t> body, const RecordLimits& limits, Pieces pieces) {
  InspectorRun run;
  StreamInspector inspector(limits, [&](const std::string& line) { run.lines.push_back(line); });
  StreamStatus s = StreamStatus::success();
  size_t fed = 0;
  for (;;) {
    const std::span<const uint8_t> piece = body.subspan(fed, pieces.next(body.size() - fed));
    fed += piece.size();
    s = inspector.feed(piece);
    if (!s.ok() || fed == body.size()) break;
  }
  if (s.ok()) s = inspector.finish();
  run.ok = s.ok();
  if (!s.ok()) {
    FUZZ_CHECK(s.streamOffset() <= fed);
    run.errorOffset = s.streamOffset();
    run.reason = s.reason();
  }
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::InputReader in(data, size);
  const uint8_t flags = in.byte();
  const uint8_t chunking = in.byte();
  const std::span<const uint8_t> body = in.rest();

  RecordDecoderOptions options;
  auto flip = [](PayloadDelivery d) {
    return d == PayloadDelivery::kWhole ? PayloadDelivery::kChunked : PayloadDelivery::kWhole;
  };
  if (flags & 1) options.snapshotDelivery = flip(options.snapshotDelivery);
  if (flags & 2) options.walSegmentDelivery = flip(options.walSegmentDelivery);
  if (flags & 4) options.heartbeatDelivery = flip(options.heartbeatDelivery);
  if (flags & 8) options.limits = RecordLimits::uniform(4096);

  const Transcript once = decode(body, options, Pieces::whole());
  const Transcript inPieces = decode(body, options, Pieces::derived(chunking));
  FUZZ_CHECK(once == inPieces);

  const InspectorRun inspectedOnce = inspect(body, options.limits, Pieces::whole());
  const InspectorRun inspectedInPieces = inspect(body, options.limits, Pieces::derived(chunking));
  FUZZ_CHECK(inspectedOnce == inspectedInPieces);
  // The inspector decodes with the same checks, so it fails no later than the decoder does.
  if (!once.ok) FUZZ_CHECK(!inspectedOnce.ok && inspectedOnce.errorOffset <= once.errorOffset);
  return 0;
}

#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "proto/record_decoder.h"

using namespace walstream;
using namespace walstream::proto;

namespace {

constexpr uint64_t kGen = 0x00000000000000abULL;

StreamRecordHeader makeHeader(RecordType type, uint64_t index, uint64_t offset, uint64_t size,
                              uint32_t flags = 0, uint64_t generation = kGen) {
  return StreamRecordHeader::of(type, Pos{generation, index, offset}, size, flags);
}

void appendHeader(std::vector<uint8_t>& stream, const StreamRecordHeader& h) {
  const auto b = h.encode();
  stream.insert(stream.end(), b.begin(), b.end());
}

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

void appendRecord(std::vector<uint8_t>& stream, StreamRecordHeader h,
                  const std::vector<uint8_t>& payload) {
  h.size = payload.size();
  appendHeader(stream, h);
  stream.insert(stream.end(), payload.begin(), payload.end());
}

struct Decoded {
  StreamRecordHeader header;
  uint64_t offset = 0;
  std::vector<uint8_t> payload;
  bool whole = false;
  friend bool operator==(const Decoded&, const Decoded&) = default;
};

struct DecodeRun {
  std::vector<Decoded> records;
  StreamStatus status = StreamStatus::success();
  uint64_t consumed = 0;
  bool consistent = true;  // chunk offsets contiguous, chunks inside the fed piece
};

// Feeds `stream` cut at `cuts` (ascending positions) and collects what the decoder delivers.
DecodeRun decodeInPieces(const std::vector<uint8_t>& stream, const std::vector<size_t>& cuts,
                         const RecordDecoderOptions& options = {}) {
  RecordDecoder decoder(options);
  DecodeRun run;
  bool inChunked = false;
  uint64_t nextChunkOffset = 0;
  size_t start = 0;
  for (size_t i = 0; i <= cuts.size(); ++i) {
    const size_t end = i < cuts.size() ? cuts[i] : stream.size();
    const std::span<const uint8_t> piece(stream.data() + start, end - start);
    decoder.feed(piece);
    for (bool more = true; more;) {
      switch (decoder.next()) {
        case DecodeEvent::kNeedInput:
          more = false;
          break;
        case DecodeEvent::kError:
          run.status = decoder.error();
          run.consumed = decoder.offset();
          return run;
        case DecodeEvent::kRecord: {
          if (inChunked) run.consistent = false;
          StreamRecord r = decoder.takeRecord();
          run.records.push_back({r.header, r.streamOffset, std::move(r.payload), true});
          break;
        }
        case DecodeEvent::kRecordBegin:
          if (inChunked) run.consistent = false;
          inChunked = true;
          run.records.push_back({decoder.header(), decoder.recordOffset(), {}, false});
          nextChunkOffset = decoder.recordOffset() + kStreamRecordHeaderSize;
          break;
        case DecodeEvent::kPayloadChunk: {
          const auto c = decoder.chunk();
          if (!inChunked || c.empty() || decoder.chunkOffset() != nextChunkOffset ||
              c.data() < piece.data() || c.data() + c.size() > piece.data() + piece.size()) {
            run.consistent = false;
          }
          nextChunkOffset += c.size();
          run.records.back().payload.insert(run.records.back().payload.end(), c.begin(), c.end());
          break;
        }
        case DecodeEvent::kRecordEnd:
          if (!inChunked || run.records.back().payload.size() != run.records.back().header.size) {
            run.consistent = false;
          }
          inChunked = false;
          break;
      }
    }
    start = end;
  }
  run.status = decoder.finish();
  run.consumed = decoder.offset();
  return run;
}

// Several records of every type and delivery shape: a raw snapshot, a WAL segment at offset 0,
// a heartbeat, a compressed snapshot, an empty raw snapshot, a segment of the next index.
std::vector<uint8_t> sampleStream() {
  std::vector<uint8_t> s;
  appendRecord(s, makeHeader(RecordType::kSnapshot, 0, 0, 0), pattern(1024, 1));
  appendRecord(s, makeHeader(RecordType::kWalSegment, 0, 0, 0), pattern(77, 2));
  appendRecord(s, makeHeader(RecordType::kHeartbeat, 0, 4128, 0), pattern(16, 3));
  appendRecord(s, makeHeader(RecordType::kSnapshot, 0, 4128, 0, kFlagCompressed), pattern(5, 4));
  appendRecord(s, makeHeader(RecordType::kSnapshot, 0, 4128, 0), {});
  appendRecord(s, makeHeader(RecordType::kWalSegment, 1, 32, 0), pattern(3, 5));
  return s;
}

RecordDecoderOptions allDelivered(PayloadDelivery d) {
  RecordDecoderOptions o;
  o.snapshotDelivery = o.walSegmentDelivery = o.heartbeatDelivery = d;
  return o;
}

}  // namespace

TEST_CASE("the sample stream decodes into its records with their offsets") {
  const auto stream = sampleStream();
  DecodeRun run = decodeInPieces(stream, {});
  REQUIRE(run.status.ok());
  CHECK(run.consistent);
  CHECK(run.consumed == stream.size());
  REQUIRE(run.records.size() == 6);
  CHECK(run.records[0].header == makeHeader(RecordType::kSnapshot, 0, 0, 1024));
  CHECK(run.records[0].offset == 0);
  CHECK(run.records[0].payload == pattern(1024, 1));
  CHECK_FALSE(run.records[0].whole);  // snapshots stream by default
  CHECK(run.records[1].offset == 1064);
  CHECK(run.records[1].payload == pattern(77, 2));
  CHECK(run.records[1].whole);  // segments come whole by default
  CHECK(run.records[2].offset == 1064 + 40 + 77);
  CHECK(run.records[2].whole);
  CHECK(run.records[3].header.flags == kFlagCompressed);
  CHECK(run.records[4].header.size == 0);
  CHECK(run.records[4].payload.empty());
  CHECK(run.records[5].header.pos().str() == "00000000000000ab/0000000000000001:0000000000000020");
  CHECK(run.records[5].offset + 40 + 3 == stream.size());
}

TEST_CASE("every chunking of the stream gives identical records") {
  const auto stream = sampleStream();
  for (PayloadDelivery d : {PayloadDelivery::kWhole, PayloadDelivery::kChunked}) {
    const RecordDecoderOptions options = allDelivered(d);
    const DecodeRun reference = decodeInPieces(stream, {}, options);
    REQUIRE(reference.status.ok());
    REQUIRE(reference.records.size() == 6);
    for (const auto& r : reference.records) CHECK(r.whole == (d == PayloadDelivery::kWhole));

    size_t mismatches = 0;
    for (size_t cut = 0; cut <= stream.size(); ++cut) {
      DecodeRun run = decodeInPieces(stream, {cut}, options);
      if (!run.status.ok() || !run.consistent || run.records != reference.records) ++mismatches;
    }
    CHECK(mismatches == 0);

    std::vector<size_t> everyByte;
    for (size_t i = 1; i < stream.size(); ++i) everyByte.push_back(i);
    DecodeRun byteByByte = decodeInPieces(stream, everyByte, options);
    CHECK(byteByByte.status.ok());
    CHECK(byteByByte.consistent);
    CHECK(byteByByte.records == reference.records);

    std::mt19937 rng(12345);
    for (int round = 0; round < 100; ++round) {
      std::vector<size_t> cuts;
      for (size_t at = 0;;) {
        at += 1 + rng() % 97;
        if (at >= stream.size()) break;
        cuts.push_back(at);
      }
      DecodeRun run = decodeInPieces(stream, cuts, options);
      if (!run.status.ok() || !run.consistent || run.records != reference.records) ++mismatches;
    }
    CHECK(mismatches == 0);
  }
}

TEST_CASE("the end of input is clean only on a record boundary") {
  const auto stream = sampleStream();
  const DecodeRun reference = decodeInPieces(stream, {});
  std::vector<uint64_t> boundaries;
  for (const auto& r : reference.records) boundaries.push_back(r.offset);
  boundaries.push_back(stream.size());

  for (size_t len = 0; len <= stream.size(); ++len) {
    const std::vector<uint8_t> prefix(stream.begin(), stream.begin() + len);
    DecodeRun run = decodeInPieces(prefix, {len / 2});
    const bool boundary = std::find(boundaries.begin(), boundaries.end(), len) != boundaries.end();
    CHECK_MESSAGE(run.status.ok() == boundary, "prefix length ", len);
    if (!boundary) {
      CHECK(run.status.streamOffset() == len);
      CHECK(run.status.reason().find("stream truncated") == 0);
    }
  }
}

TEST_CASE("truncation names what was cut") {
  std::vector<uint8_t> good;
  appendRecord(good, makeHeader(RecordType::kWalSegment, 0, 0, 0), pattern(50, 1));

  SUBCASE("a short header at the end") {
    auto s = good;
    appendHeader(s, makeHeader(RecordType::kWalSegment, 0, 4128, 100));
    s.resize(good.size() + 13);
    DecodeRun run = decodeInPieces(s, {});
    REQUIRE_FALSE(run.status.ok());
    CHECK(run.records.size() == 1);
    CHECK(run.status.streamOffset() == good.size() + 13);
    CHECK(run.status.reason() ==
          "stream truncated: 13 of the 40 header bytes of the record at "
          "stream offset 90");
    CHECK(run.status.message() == run.status.reason() + " at stream offset 103");
  }
  SUBCASE("a partial payload, whole or chunked") {
    auto s = good;
    appendHeader(s, makeHeader(RecordType::kWalSegment, 0, 4128, 100));
    const auto tail = pattern(60, 9);
    s.insert(s.end(), tail.begin(), tail.end());
    for (PayloadDelivery d : {PayloadDelivery::kWhole, PayloadDelivery::kChunked}) {
      DecodeRun run = decodeInPieces(s, {95, 150}, allDelivered(d));
      REQUIRE_FALSE(run.status.ok());
      CHECK(run.status.streamOffset() == s.size());
      CHECK(run.status.reason() ==
            "stream truncated: 60 of the 100 payload bytes of the record at stream offset 90 "
            "(wal)");
    }
  }
}

TEST_CASE("a malformed header is an error at the offending field, before its payload") {
  std::vector<uint8_t> good;
  appendRecord(good, makeHeader(RecordType::kSnapshot, 0, 0, 0), pattern(512, 1));
  const uint64_t at = good.size();

  struct Case {
    const char* name;
    StreamRecordHeader header;
    uint64_t field;
    std::string reason;
  };
  const std::vector<Case> cases = {
      {"unknown type", {7, 0, kGen, 0, 0, 10}, 0, "unknown record type 7"},
      {"type 0", {0, 0, kGen, 0, 0, 10}, 0, "unknown record type 0"},
      {"unknown flag on a segment", makeHeader(RecordType::kWalSegment, 0, 0, 10, 0x2), 4,
       "unknown flag bits 0x2 on a wal record"},
      {"compressed flag on a segment", makeHeader(RecordType::kWalSegment, 0, 0, 10, 0x1), 4,
       "unknown flag bits 0x1 on a wal record"},
      {"high flag on a snapshot",
       makeHeader(RecordType::kSnapshot, 0, 0, 512, kFlagCompressed | 0x80000000u), 4,
       "unknown flag bits 0x80000000 on a snapshot record"},
      {"flag on a heartbeat", makeHeader(RecordType::kHeartbeat, 0, 0, 16, 0x1), 4,
       "unknown flag bits 0x1 on a heartbeat record"},
      {"snapshot of generation 0", makeHeader(RecordType::kSnapshot, 0, 0, 512, 0, 0), 8,
       "snapshot record with generation 0"},
      {"segment of generation 0", makeHeader(RecordType::kWalSegment, 0, 0, 10, 0, 0), 8,
       "wal record with generation 0"},
      {"segment inside the WAL header", makeHeader(RecordType::kWalSegment, 0, 5, 10), 24,
       "wal record at WAL offset 5, inside the 32-byte WAL header"},
      {"empty segment", makeHeader(RecordType::kWalSegment, 0, 0, 0), 32, "empty wal record"},
      {"absurd segment", makeHeader(RecordType::kWalSegment, 0, 0, kMaxWalSegmentRecordBytes + 1),
       32, "wal record payload size 268435457 exceeds the limit 268435456"},
      {"absurd snapshot", makeHeader(RecordType::kSnapshot, 0, 0, uint64_t{2} << 40), 32,
       "snapshot record payload size 2199023255552 exceeds the limit 1099511627776"},
      {"size of all ones", makeHeader(RecordType::kWalSegment, 0, 0, ~0ULL), 32,
       "wal record payload size 18446744073709551615 exceeds the limit 268435456"},
      {"raw snapshot of partial pages", makeHeader(RecordType::kSnapshot, 0, 0, 1000), 32,
       "raw snapshot size 1000 is not a whole number of pages"},
      {"short heartbeat", makeHeader(RecordType::kHeartbeat, 0, 0, 15), 32,
       "heartbeat record with payload size 15, want 16"},
      {"long heartbeat", makeHeader(RecordType::kHeartbeat, 0, 0, 17), 32,
       "heartbeat record with payload size 17, want 16"},
      {"index end with a payload", makeHeader(RecordType::kIndexEnd, 0, 4152, 1), 32,
       "index-end record with payload size 1, want 0"},
      {"index end inside the WAL header", makeHeader(RecordType::kIndexEnd, 0, 0, 0), 24,
       "index-end record at WAL offset 0: a WAL ends after its 32-byte header"},
      {"index end of generation 0", makeHeader(RecordType::kIndexEnd, 0, 4152, 0, 0, 0), 8,
       "index-end record with generation 0"},
      {"flag on an index end", makeHeader(RecordType::kIndexEnd, 0, 4152, 0, 0x1), 4,
       "unknown flag bits 0x1 on an index-end record"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    auto s = good;
    appendHeader(s, c.header);
    // Payload bytes follow but must never be consumed.
    const auto junk = pattern(64, 3);
    s.insert(s.end(), junk.begin(), junk.end());
    for (size_t cut : {size_t{0}, size_t{1}, size_t{600}, static_cast<size_t>(at + 39),
                       static_cast<size_t>(at + 40), s.size()}) {
      DecodeRun run = decodeInPieces(s, {cut});
      REQUIRE_FALSE(run.status.ok());
      CHECK(run.status.streamOffset() == at + c.field);
      CHECK(run.status.reason() == c.reason);
      CHECK(run.consumed == at + kStreamRecordHeaderSize);
      REQUIRE(run.records.size() == 1);  // the good record before it was delivered
      CHECK(run.records[0].payload.size() == 512);
    }
  }
}

TEST_CASE("well-formed edge values are accepted") {
  std::vector<uint8_t> s;
  appendRecord(s, makeHeader(RecordType::kHeartbeat, 0, 0, 0, 0, 0), pattern(16, 1));
  appendRecord(s, makeHeader(RecordType::kWalSegment, 0, 32, 0), pattern(1, 1));
  appendRecord(s, makeHeader(RecordType::kSnapshot, 0, 7, 0, kFlagCompressed), pattern(1, 1));
  DecodeRun run = decodeInPieces(s, {});
  CHECK(run.status.ok());
  CHECK(run.records.size() == 3);
}

TEST_CASE("the size limits are configurable") {
  RecordDecoderOptions options;
  options.limits = {100, 1024};
  std::vector<uint8_t> s;
  appendRecord(s, makeHeader(RecordType::kWalSegment, 0, 0, 0), pattern(100, 1));
  appendRecord(s, makeHeader(RecordType::kSnapshot, 0, 0, 0), pattern(1024, 1));
  CHECK(decodeInPieces(s, {}, options).status.ok());

  auto tooBigSegment = s;
  appendRecord(tooBigSegment, makeHeader(RecordType::kWalSegment, 0, 0, 0), pattern(101, 1));
  DecodeRun run = decodeInPieces(tooBigSegment, {}, options);
  CHECK(run.status.streamOffset() == s.size() + 32);
  CHECK(run.status.reason() == "wal record payload size 101 exceeds the limit 100");

  auto tooBigSnapshot = s;
  appendRecord(tooBigSnapshot, makeHeader(RecordType::kSnapshot, 0, 0, 0), pattern(1536, 1));
  run = decodeInPieces(tooBigSnapshot, {}, options);
  CHECK(run.status.streamOffset() == s.size() + 32);
  CHECK(run.status.reason() == "snapshot record payload size 1536 exceeds the limit 1024");

  const RecordLimits uniform = RecordLimits::uniform(7);
  CHECK(uniform.maxWalSegmentBytes == 7);
  CHECK(uniform.maxSnapshotBytes == 7);
}

TEST_CASE("a snapshot of a terabyte streams through without being buffered") {
  std::vector<uint8_t> s;
  appendHeader(s, makeHeader(RecordType::kSnapshot, 0, 0, kMaxSnapshotRecordBytes));
  const auto body = pattern(8192, 1);
  s.insert(s.end(), body.begin(), body.end());
  DecodeRun run = decodeInPieces(s, {100, 4000});
  CHECK(run.consistent);
  REQUIRE(run.records.size() == 1);
  CHECK(run.records[0].payload == body);
  REQUIRE_FALSE(run.status.ok());
  CHECK(run.status.streamOffset() == s.size());
  CHECK(run.status.reason() ==
        "stream truncated: 8192 of the 1099511627776 payload bytes of the record at stream "
        "offset 0 (snapshot)");
}

TEST_CASE("a whole-delivery snapshot and takeRecord") {
  std::vector<uint8_t> s;
  appendRecord(s, makeHeader(RecordType::kSnapshot, 2, 64, 0), pattern(512, 6));
  RecordDecoderOptions options;
  options.snapshotDelivery = PayloadDelivery::kWhole;
  RecordDecoder decoder(options);
  decoder.feed(s);
  REQUIRE(decoder.next() == DecodeEvent::kRecord);
  CHECK(decoder.record().header.pos() == Pos{kGen, 2, 64});
  CHECK(decoder.record().payloadOffset() == 40);
  StreamRecord r = decoder.takeRecord();
  CHECK(r.payload == pattern(512, 6));
  CHECK(decoder.next() == DecodeEvent::kNeedInput);
  CHECK(decoder.finish().ok());
  CHECK(decoder.offset() == s.size());
}

TEST_CASE("an error is sticky and an empty stream is clean") {
  CHECK(RecordDecoder().finish().ok());

  std::vector<uint8_t> s;
  appendHeader(s, {9, 0, kGen, 0, 0, 0});
  RecordDecoder decoder;
  decoder.feed(s);
  REQUIRE(decoder.next() == DecodeEvent::kError);
  CHECK(decoder.failed());
  const auto more = sampleStream();
  decoder.feed(more);
  CHECK(decoder.next() == DecodeEvent::kError);
  CHECK(decoder.finish().reason() == "unknown record type 9");
  CHECK(decoder.offset() == 40);
}

TEST_CASE("feeding before the previous input is consumed is a programming error") {
  const auto s = sampleStream();
  RecordDecoder decoder;
  decoder.feed(s);
  REQUIRE(decoder.next() == DecodeEvent::kRecordBegin);
  CHECK_THROWS_AS(decoder.feed(s), std::logic_error);
  CHECK_THROWS_AS(decoder.finish(), std::logic_error);
}

TEST_CASE("an index-end record has no payload and is delivered whole") {
  std::vector<uint8_t> s;
  appendRecord(s, makeHeader(RecordType::kIndexEnd, 2, 8272, 0), {});
  appendRecord(s, makeHeader(RecordType::kWalSegment, 3, 0, 0), pattern(77, 2));
  RecordDecoder decoder;
  decoder.feed(s);
  REQUIRE(decoder.next() == DecodeEvent::kRecord);
  CHECK(decoder.record().header.pos() == Pos{kGen, 2, 8272});
  CHECK(decoder.record().payload.empty());
  CHECK(decoder.next() == DecodeEvent::kRecord);
  CHECK(decoder.next() == DecodeEvent::kNeedInput);
  CHECK(decoder.finish().ok());
}

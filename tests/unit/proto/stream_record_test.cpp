#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "proto/heartbeat.h"
#include "proto/snapshot_chain.h"
#include "proto/stream_record.h"

using namespace walstream;
using namespace walstream::proto;

TEST_CASE("a stream record header encodes to its exact 40 big-endian bytes") {
  StreamRecordHeader h;
  h.type = static_cast<uint32_t>(RecordType::kWalSegment);
  h.flags = 0;
  h.generation = 0x0123456789abcdefULL;
  h.index = 3;
  h.offset = 0x1f60;
  h.size = 0x0102030405060708ULL;
  const std::array<uint8_t, 40> expected = {
      0x00, 0x00, 0x00, 0x02,                          // type
      0x00, 0x00, 0x00, 0x00,                          // flags
      0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,  // generation
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,  // index
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x1f, 0x60,  // offset
      0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // size
  };
  CHECK(h.encode() == expected);
  CHECK(StreamRecordHeader::decode(expected.data()) == h);
  CHECK(h.pos().str() == "0123456789abcdef/0000000000000003:0000000000001f60");
}

TEST_CASE("stream record headers round-trip, generations with leading zero digits included") {
  const std::vector<StreamRecordHeader> headers = {
      {1, kFlagCompressed, 0x00000000000000abULL, 0, 0, 40960},
      {2, 0, 0x000f000000000001ULL, 0x0000000000000007ULL, 32, 1234},
      {2, 0, 0x0000000000000001ULL, ~0ULL, ~0ULL - 1, ~0ULL},
      {3, 0, 0, 0, 0, 16},
      {0xffffffffu, 0xffffffffu, ~0ULL, 1, 2, 3},
  };
  for (const auto& h : headers) {
    const auto bytes = h.encode();
    CHECK(StreamRecordHeader::decode(bytes.data()) == h);
  }
  const auto small = headers[0].encode();
  // The generation's leading zero bytes are on the wire, not elided.
  CHECK(small[8] == 0x00);
  CHECK(small[14] == 0x00);
  CHECK(small[15] == 0xab);
  CHECK(headers[0].pos().str() == "00000000000000ab/0000000000000000:0000000000000000");
  CHECK(headers[1].pos().str() == "000f000000000001/0000000000000007:0000000000000020");
}

TEST_CASE("record type names") {
  CHECK(std::string(recordTypeName(1)) == "snapshot");
  CHECK(std::string(recordTypeName(2)) == "wal");
  CHECK(std::string(recordTypeName(3)) == "heartbeat");
  CHECK(std::string(recordTypeName(0)) == "unknown");
  CHECK(std::string(recordTypeName(4)) == "index-end");
  CHECK(std::string(recordTypeName(5)) == "unknown");
}

TEST_CASE("a heartbeat payload is 16 big-endian bytes: time, then the running checksum") {
  HeartbeatPayload hb{0x0001020304050607ULL, {0x8899aabbu, 0xccddeeffu}};
  const std::array<uint8_t, 16> expected = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                            0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  CHECK(hb.encode() == expected);
  CHECK(HeartbeatPayload::decode(expected) == hb);
  const std::array<uint8_t, 15> shortPayload{};
  CHECK_THROWS_AS(HeartbeatPayload::decode(shortPayload), std::invalid_argument);
}

TEST_CASE("Walstream-Snapshot-Chain round-trips and rejects anything else") {
  WalChainState c;
  c.pageSize = 4096;
  c.salt1 = 0x01234567;
  c.salt2 = 0x89abcdef;
  c.checksum = {0xdeadbeef, 0x00c0ffee};
  for (bool be : {false, true}) {
    c.bigEndianChecksum = be;
    const std::string text = proto::formatSnapshotChain(c);
    CHECK(text == std::string("0123456789abcdef deadbeef00c0ffee ") + (be ? "be" : "le"));
    const auto back = proto::parseSnapshotChain(text, 4096);
    REQUIRE(back);
    CHECK(back->pageSize == 4096);
    CHECK(back->salt1 == c.salt1);
    CHECK(back->salt2 == c.salt2);
    CHECK(back->checksum == c.checksum);
    CHECK(back->bigEndianChecksum == be);
  }
  for (const char* bad :
       {"", "0123456789abcdef deadbeef00c0ffee", "0123456789abcdef deadbeef00c0ffee  le",
        "0123456789ABCDEF deadbeef00c0ffee le", "0123456789abcdef deadbeef00c0ffee xx",
        "0123456789abcde  deadbeef00c0ffee le", "+123456789abcdef deadbeef00c0ffee le",
        "0123456789abcdef deadbeef00c0ffee le\n"}) {
    CHECK_MESSAGE(!proto::parseSnapshotChain(bad, 4096), bad);
  }
}

TEST_CASE("StreamRecordHeader::of sets every field from the type, position, size and flags") {
  const Pos pos{0x0123456789abcdefULL, 3, 0x1f60};
  const auto segment = StreamRecordHeader::of(RecordType::kWalSegment, pos, 1234);
  CHECK(segment == StreamRecordHeader{2, 0, pos.generation, 3, 0x1f60, 1234});
  CHECK(segment.pos() == pos);
  CHECK(StreamRecordHeader::of(RecordType::kSnapshot, pos, 40960, kFlagCompressed) ==
        StreamRecordHeader{1, kFlagCompressed, pos.generation, 3, 0x1f60, 40960});
  CHECK(StreamRecordHeader::of(RecordType::kIndexEnd, pos) ==
        StreamRecordHeader{4, 0, pos.generation, 3, 0x1f60, 0});
}

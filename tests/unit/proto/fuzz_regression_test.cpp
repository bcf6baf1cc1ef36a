// Inputs found by the fuzz targets (tests/fuzz), replayed through the same entry points in the
// ordinary test build. Each case names its target and what went wrong.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/wal_segment.h"
#include "proto/stream_inspector.h"
#include "proto/stream_record.h"

using namespace walstream;
using namespace walstream::proto;

namespace {

void appendRecord(std::vector<uint8_t>& body, StreamRecordHeader h,
                  const std::vector<uint8_t>& payload) {
  h.size = payload.size();
  const auto header = h.encode();
  body.insert(body.end(), header.begin(), header.end());
  body.insert(body.end(), payload.begin(), payload.end());
}

struct Inspected {
  std::vector<std::string> lines;
  StreamStatus status = StreamStatus::success();
};

Inspected inspect(const std::vector<uint8_t>& body) {
  Inspected out;
  StreamInspector inspector({}, [&](const std::string& line) { out.lines.push_back(line); });
  out.status = inspector.feed(body);
  if (out.status.ok()) out.status = inspector.finish();
  return out;
}

}  // namespace

// wal_segment, mode 1: a chain state for 64 KiB pages and offset 2^64 - 1. The segment is
// rejected at that offset, and the state is left alone.
TEST_CASE("fuzz wal_segment: a segment at the largest u64 offset is rejected at that offset") {
  std::vector<uint8_t> bytes(47, 0xff);
  for (uint8_t b : {0x00, 0xf5, 0xf5, 0xf5, 0x01, 0x10, 0xf9}) bytes.push_back(b);
  WalChainState state{65536, 0xffffffff, 0xffffffff, true, {0xffffffff, 0xffffffff}};
  CHECK_THROWS_WITH_AS(parseWalSegment(bytes, UINT64_MAX, state),
                       "offset is not on a frame boundary at WAL offset 18446744073709551615",
                       Error);
  CHECK(state.pageSize == 65536);
  CHECK(state.checksum == Checksum{0xffffffff, 0xffffffff});
}

// record_decoder (inspector): a raw snapshot gives the page size, then a WAL record continuing
// it carries an lz4 frame with no content. The inspector read a frame header from the empty
// segment (past the end of the decompressed bytes) and reported a page number 0 it never had.
TEST_CASE("fuzz record_decoder: an empty WAL segment after a snapshot is reported as empty") {
  std::vector<uint8_t> snapshot(512);
  const std::string_view magic("SQLite format 3", 16);  // with its terminating NUL
  std::copy(magic.begin(), magic.end(), snapshot.begin());
  snapshot[16] = 0x02;  // page size 512 (big-endian u16 at byte 16)
  snapshot[27] = 1;     // file change counter 1, "valid for" 0: the page count is not checked
  std::vector<uint8_t> body;
  appendRecord(body, {1, 0, 1, 0, 568, 0}, snapshot);  // at the end of the WAL's first frame
  const std::string empty = lz4Compress({});
  appendRecord(body, {2, 0, 1, 0, 568, 0}, {empty.begin(), empty.end()});

  const Inspected run = inspect(body);
  REQUIRE(run.lines.size() == 1);
  CHECK(run.lines[0].rfind("snapshot", 0) == 0);
  REQUIRE_FALSE(run.status.ok());
  CHECK(
      run.status.reason() ==
      "wal record at 0000000000000001/0000000000000000:0000000000000238: segment holds no frames");
  CHECK(run.status.streamOffset() == 40 + 512 + 40);
}

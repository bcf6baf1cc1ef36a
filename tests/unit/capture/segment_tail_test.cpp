#include <doctest/doctest.h>

#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/wal_segment.h"
#include "server/capture/segment_tail.h"
#include "server/capture/shadow_wal.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::server;
using namespace walstream::test;

namespace {

constexpr uint64_t kGen = 0x0123456789abcdefULL;

// A real WAL written by SQLite, stored as one shadow segment per transaction. Returns the
// chain checksum at the end of each segment, by end offset.
std::vector<std::pair<uint64_t, Checksum>> storeRealWal(const TempDir& dir,
                                                        const ShadowWal& shadow) {
  const std::string db = dir.file("app.db");
  {
    auto c = openWalDatabase(db, {.keepWalOnClose = true});
    c->exec("CREATE TABLE t(v BLOB)");
    for (int i = 0; i < 4; ++i) c->exec("INSERT INTO t VALUES(randomblob(3000))");
  }
  const auto slices = splitWalAtCommits(readBytes(db + "-wal"), 1);
  REQUIRE(slices.size() == 5);
  std::vector<std::pair<uint64_t, Checksum>> ends;
  WalChainState chain;
  for (const auto& s : slices) {
    parseWalSegment(s.bytes, s.offset, chain);
    shadow.writeSegment({kGen, 0, s.offset}, lz4Compress(s.bytes), s.bytes.size());
    ends.emplace_back(s.offset + s.bytes.size(), chain.checksum);
  }
  return ends;
}

}  // namespace

TEST_CASE("the tail of a stored segment gives its length and the chain checksum at its end") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  const auto ends = storeRealWal(dir, shadow);

  const SegmentTail first = readSegmentTail(shadow, {kGen, 0, 0}, 4096);
  CHECK(first.walBytes == ends[0].first);
  CHECK(first.checksum == ends[0].second);
  for (size_t i = 1; i < ends.size(); ++i) {
    CAPTURE(i);
    const auto tail = readSegmentTail(shadow, {kGen, 0, ends[i - 1].first}, 4096);
    CHECK(ends[i - 1].first + tail.walBytes == ends[i].first);
    CHECK(tail.checksum == ends[i].second);
    CHECK(checksumAt(shadow, {kGen, 0, ends[i].first}, 4096) == ends[i].second);
  }
  const std::string raw = readFile(shadow.segmentPath({kGen, 0, 0}));
  CHECK(lz4ContentSize(asBytes(raw)) == ends[0].first);
}

TEST_CASE("no checksum where no stored segment ends") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  const auto ends = storeRealWal(dir, shadow);
  CHECK_FALSE(checksumAt(shadow, {kGen, 0, 0}, 4096));                     // offset 0
  CHECK_FALSE(checksumAt(shadow, {kGen, 0, ends[1].first + 4120}, 4096));  // not a segment end
  CHECK_FALSE(checksumAt(shadow, {kGen, 1, ends[1].first}, 4096));         // no such index
  CHECK_FALSE(checksumAt(shadow, {kGen + 1, 0, ends[1].first}, 4096));     // no such generation
  CHECK_FALSE(checksumAt(shadow, Pos{}, 4096));
}

TEST_CASE("corrupt, truncated or misshapen segments are errors naming the file") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  const auto ends = storeRealWal(dir, shadow);
  const Pos second{kGen, 0, ends[0].first};
  const std::string path = shadow.segmentPath(second);
  const std::string good = readFile(path);

  writeFileAtomic(path, good.substr(0, good.size() - 7));
  CHECK_THROWS_WITH_AS(readSegmentTail(shadow, second, 4096), doctest::Contains(path.c_str()),
                       Error);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x5a;
  writeFileAtomic(path, flipped);
  CHECK_THROWS_AS(readSegmentTail(shadow, second, 4096), Error);
  writeFileAtomic(path, lz4Compress(asBytes(std::string(1000, 'x'))));  // not whole frames
  CHECK_THROWS_WITH_AS(readSegmentTail(shadow, second, 4096), doctest::Contains("whole WAL frames"),
                       Error);
  CHECK_THROWS_AS(checksumAt(shadow, {kGen, 0, ends[1].first}, 4096), Error);
  ::unlink(path.c_str());
  CHECK_THROWS_AS(readSegmentTail(shadow, second, 4096), Error);
  CHECK_THROWS_AS(readSegmentTail(shadow, {kGen, 0, 0}, 1000), Error);  // invalid page size
  CHECK_FALSE(lz4ContentSize(asBytes(std::string("not lz4"))));
}

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/pos.h"

using namespace walstream;

TEST_CASE("positions round-trip through their text form, leading zeros included") {
  Pos p{0x00000000000000abULL, 3, 0x1f60};
  CHECK(p.str() == "00000000000000ab/0000000000000003:0000000000001f60");
  CHECK(parsePos(p.str()) == p);
  CHECK(parsePos("").empty());
}

TEST_CASE("malformed positions are rejected, never read as zero") {
  CHECK_THROWS_AS(parsePos("0123456789ABCDEF/0000000000000003:0000000000001f60"), Error);
  CHECK_THROWS_AS(parsePos("0123456789abcdef/3:1f60"), Error);
  CHECK_THROWS_AS(parsePos("0123456789abcdef-0000000000000003:0000000000001f60"), Error);
  CHECK_THROWS_AS(parsePos("0000000000000000/0000000000000003:0000000000001f60"), Error);
  CHECK_THROWS_AS(parsePos("0123456789abcdef/0000000000000003:0000000000001f6g"), Error);
  CHECK_THROWS_AS(parseHex16(" 123456789abcdef", "index"), Error);
}

TEST_CASE(
    "a segment may follow a stream's end only in its index at that end, or at 0 of the next") {
  const uint64_t g = 0x0123456789abcdefULL;
  const Pos end{g, 3, 4152};
  CHECK(segmentSuccession(end, {g, 3, 4152}) == SegmentSuccession::kContinues);
  CHECK(segmentSuccession(end, {g, 4, 0}) == SegmentSuccession::kStartsNextIndex);
  CHECK(segmentSuccession(Pos{g, 3, 0}, {g, 3, 0}) == SegmentSuccession::kContinues);
  for (const Pos& next : {Pos{g, 3, 4151}, Pos{g, 3, 4153}, Pos{g, 3, 0},  // overlap or gap
                          Pos{g, 4, 32}, Pos{g, 5, 0}, Pos{g, 2, 0},       // index rules
                          Pos{g + 1, 3, 4152}, Pos{g + 1, 4, 0}}) {        // another generation
    CAPTURE(next.str());
    CHECK(segmentSuccession(end, next) == SegmentSuccession::kBreaks);
    CHECK_FALSE(segmentMayFollow(end, next));
  }
  CHECK(segmentMayFollow(end, {g, 3, 4152}));
  CHECK(segmentMayFollow(end, {g, 4, 0}));
}

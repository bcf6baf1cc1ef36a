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

#include "proto/header_number.h"

#include <doctest/doctest.h>

using walstream::proto::parseHeaderNumber;

TEST_CASE("parseHeaderNumber takes exactly one decimal number within its bound") {
  CHECK(parseHeaderNumber("4096", 65536) == 4096u);
  CHECK(parseHeaderNumber("65536", 65536) == 65536u);
  CHECK(parseHeaderNumber("0", 10) == 0u);
  CHECK(parseHeaderNumber("18446744073709551615", UINT64_MAX) == UINT64_MAX);
  for (const char* bad :
       {"", "65537", "4294971392", "4096, 8192", " 4096", "4096 ", "+4096", "-1", "4096x", "0x1000",
        "4 096", "18446744073709551616", "000000000000000000004096"}) {
    CAPTURE(bad);
    CHECK_FALSE(parseHeaderNumber(bad, 65536).has_value());
  }
  CHECK_FALSE(parseHeaderNumber("18446744073709551616", UINT64_MAX).has_value());
}
